// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface CompleteTrialRequest {
  'studyId'?: (string);
  'trialId'?: (number | string | Long);
  'reward'?: (number | string);
  'infeasible'?: (boolean);
  'suggestNext'?: (boolean);
  'clientId'?: (string);
  'requestId'?: (string);
  'studyUid'?: (string);
  'trialFingerprint'?: (string);
}

export interface CompleteTrialRequest__Output {
  'studyId': (string);
  'trialId': (string);
  'reward': (number);
  'infeasible': (boolean);
  'suggestNext': (boolean);
  'clientId': (string);
  'requestId': (string);
  'studyUid': (string);
  'trialFingerprint': (string);
}
