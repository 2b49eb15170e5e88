// Original file: sanas/v1/sanas.proto

import type { TrialState as _sanas_v1_TrialState, TrialState__Output as _sanas_v1_TrialState__Output } from '../../sanas/v1/TrialState';

export interface ListTrialsRequest {
  'studyId'?: (string);
  'pageSize'?: (number);
  'pageToken'?: (string);
  'state'?: (_sanas_v1_TrialState);
}

export interface ListTrialsRequest__Output {
  'studyId': (string);
  'pageSize': (number);
  'pageToken': (string);
  'state': (_sanas_v1_TrialState__Output);
}
