// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface SuccessiveHalvingRule {
  'minStep'?: (number | string | Long);
  'reductionFactor'?: (number);
  'minTrials'?: (number);
}

export interface SuccessiveHalvingRule__Output {
  'minStep': (string);
  'reductionFactor': (number);
  'minTrials': (number);
}
