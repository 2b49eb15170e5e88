// Original file: sanas/v1/sanas.proto

import type { Study as _sanas_v1_Study, Study__Output as _sanas_v1_Study__Output } from '../../sanas/v1/Study';

export interface DeleteStudyResponse {
  'study'?: (_sanas_v1_Study | null);
}

export interface DeleteStudyResponse__Output {
  'study': (_sanas_v1_Study__Output | null);
}
