// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface SkipTrialRequest {
  'studyId'?: (string);
  'trialId'?: (number | string | Long);
  'clientId'?: (string);
  'reason'?: (string);
  'studyUid'?: (string);
  'trialFingerprint'?: (string);
}

export interface SkipTrialRequest__Output {
  'studyId': (string);
  'trialId': (string);
  'clientId': (string);
  'reason': (string);
  'studyUid': (string);
  'trialFingerprint': (string);
}
