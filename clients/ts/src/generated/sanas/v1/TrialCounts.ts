// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface TrialCounts {
  'active'?: (number | string | Long);
  'succeeded'?: (number | string | Long);
  'infeasible'?: (number | string | Long);
  'stopped'?: (number | string | Long);
  'skipped'?: (number | string | Long);
}

export interface TrialCounts__Output {
  'active': (string);
  'succeeded': (string);
  'infeasible': (string);
  'stopped': (string);
  'skipped': (string);
}
