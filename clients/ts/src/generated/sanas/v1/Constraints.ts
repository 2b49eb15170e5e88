// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface Constraints {
  'inputSize'?: (number);
  'inChannels'?: (number);
  'maxFlops'?: (number | string | Long);
  'maxParams'?: (number | string | Long);
}

export interface Constraints__Output {
  'inputSize': (number);
  'inChannels': (number);
  'maxFlops': (string);
  'maxParams': (string);
}
