// Original file: sanas/v1/sanas.proto

import type { EarlyStopping as _sanas_v1_EarlyStopping, EarlyStopping__Output as _sanas_v1_EarlyStopping__Output } from '../../sanas/v1/EarlyStopping';
import type { Long } from '@grpc/proto-loader';

export interface ReportTrialProgressRequest {
  'studyId'?: (string);
  'trialId'?: (number | string | Long);
  'step'?: (number | string | Long);
  'value'?: (number | string);
  'maxStep'?: (number | string | Long);
  'clientId'?: (string);
  'earlyStopping'?: (_sanas_v1_EarlyStopping | null);
  'studyUid'?: (string);
  'trialFingerprint'?: (string);
}

export interface ReportTrialProgressRequest__Output {
  'studyId': (string);
  'trialId': (string);
  'step': (string);
  'value': (number);
  'maxStep': (string);
  'clientId': (string);
  'earlyStopping': (_sanas_v1_EarlyStopping__Output | null);
  'studyUid': (string);
  'trialFingerprint': (string);
}
