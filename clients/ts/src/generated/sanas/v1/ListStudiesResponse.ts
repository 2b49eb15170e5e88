// Original file: sanas/v1/sanas.proto

import type { Study as _sanas_v1_Study, Study__Output as _sanas_v1_Study__Output } from '../../sanas/v1/Study';

export interface ListStudiesResponse {
  'studies'?: (_sanas_v1_Study)[];
  'nextPageToken'?: (string);
}

export interface ListStudiesResponse__Output {
  'studies': (_sanas_v1_Study__Output)[];
  'nextPageToken': (string);
}
