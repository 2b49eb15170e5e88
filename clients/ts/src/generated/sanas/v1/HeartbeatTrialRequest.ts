// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatTrialRequest {
  'studyId'?: (string);
  'trialId'?: (number | string | Long);
  'clientId'?: (string);
  'studyUid'?: (string);
  'trialFingerprint'?: (string);
}

export interface HeartbeatTrialRequest__Output {
  'studyId': (string);
  'trialId': (string);
  'clientId': (string);
  'studyUid': (string);
  'trialFingerprint': (string);
}
