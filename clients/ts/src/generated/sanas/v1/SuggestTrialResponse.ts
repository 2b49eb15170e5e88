// Original file: sanas/v1/sanas.proto

import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';
import type { Architecture as _sanas_v1_Architecture, Architecture__Output as _sanas_v1_Architecture__Output } from '../../sanas/v1/Architecture';
import type { Long } from '@grpc/proto-loader';

export interface SuggestTrialResponse {
  'trial'?: (_sanas_v1_Trial | null);
  'architectures'?: (_sanas_v1_Architecture)[];
  'flops'?: (number | string | Long);
  'params'?: (number | string | Long);
}

export interface SuggestTrialResponse__Output {
  'trial': (_sanas_v1_Trial__Output | null);
  'architectures': (_sanas_v1_Architecture__Output)[];
  'flops': (string);
  'params': (string);
}
