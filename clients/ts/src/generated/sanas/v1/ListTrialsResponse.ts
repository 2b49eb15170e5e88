// Original file: sanas/v1/sanas.proto

import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';
import type { Long } from '@grpc/proto-loader';

export interface ListTrialsResponse {
  'trials'?: (_sanas_v1_Trial)[];
  'nextPageToken'?: (string);
  'totalSize'?: (number | string | Long);
}

export interface ListTrialsResponse__Output {
  'trials': (_sanas_v1_Trial__Output)[];
  'nextPageToken': (string);
  'totalSize': (string);
}
