// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface MedianStoppingRule {
  'startStep'?: (number | string | Long);
  'minTrials'?: (number);
}

export interface MedianStoppingRule__Output {
  'startStep': (string);
  'minTrials': (number);
}
