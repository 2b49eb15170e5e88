// Original file: sanas/v1/sanas.proto

import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';
import type { Long } from '@grpc/proto-loader';

export interface SkipTrialResponse {
  'trial'?: (_sanas_v1_Trial | null);
  'budgetRemaining'?: (number | string | Long);
}

export interface SkipTrialResponse__Output {
  'trial': (_sanas_v1_Trial__Output | null);
  'budgetRemaining': (string);
}
