// Original file: sanas/v1/sanas.proto

import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';

export interface HeartbeatTrialResponse {
  'trial'?: (_sanas_v1_Trial | null);
}

export interface HeartbeatTrialResponse__Output {
  'trial': (_sanas_v1_Trial__Output | null);
}
