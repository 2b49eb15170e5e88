// Original file: sanas/v1/sanas.proto

import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';

export interface ReportTrialProgressResponse {
  'trial'?: (_sanas_v1_Trial | null);
  'shouldStop'?: (boolean);
}

export interface ReportTrialProgressResponse__Output {
  'trial': (_sanas_v1_Trial__Output | null);
  'shouldStop': (boolean);
}
