// Original file: sanas/v1/sanas.proto

import type { Study as _sanas_v1_Study, Study__Output as _sanas_v1_Study__Output } from '../../sanas/v1/Study';
import type { Long } from '@grpc/proto-loader';

export interface RestoreStudyResponse {
  'study'?: (_sanas_v1_Study | null);
  'restoredTrials'?: (number | string | Long);
}

export interface RestoreStudyResponse__Output {
  'study': (_sanas_v1_Study__Output | null);
  'restoredTrials': (string);
}
