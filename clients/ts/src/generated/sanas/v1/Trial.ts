// Original file: sanas/v1/sanas.proto

import type { TrialState as _sanas_v1_TrialState, TrialState__Output as _sanas_v1_TrialState__Output } from '../../sanas/v1/TrialState';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Measurement as _sanas_v1_Measurement, Measurement__Output as _sanas_v1_Measurement__Output } from '../../sanas/v1/Measurement';
import type { Long } from '@grpc/proto-loader';

export interface Trial {
  'studyId'?: (string);
  'trialId'?: (number | string | Long);
  'tokens'?: (number)[];
  'temperature'?: (number | string);
  'clientId'?: (string);
  'state'?: (_sanas_v1_TrialState);
  'reward'?: (number | string);
  'infeasible'?: (boolean);
  'accepted'?: (boolean);
  'createTime'?: (_google_protobuf_Timestamp | null);
  'completeTime'?: (_google_protobuf_Timestamp | null);
  'leaseExpireTime'?: (_google_protobuf_Timestamp | null);
  'issueCount'?: (number);
  'measurements'?: (_sanas_v1_Measurement)[];
  'stopReason'?: (string);
  'maxStep'?: (number | string | Long);
  'studyUid'?: (string);
  'fingerprint'?: (string);
  'stoppedValueIsReward'?: (boolean);
}

export interface Trial__Output {
  'studyId': (string);
  'trialId': (string);
  'tokens': (number)[];
  'temperature': (number);
  'clientId': (string);
  'state': (_sanas_v1_TrialState__Output);
  'reward': (number);
  'infeasible': (boolean);
  'accepted': (boolean);
  'createTime': (_google_protobuf_Timestamp__Output | null);
  'completeTime': (_google_protobuf_Timestamp__Output | null);
  'leaseExpireTime': (_google_protobuf_Timestamp__Output | null);
  'issueCount': (number);
  'measurements': (_sanas_v1_Measurement__Output)[];
  'stopReason': (string);
  'maxStep': (string);
  'studyUid': (string);
  'fingerprint': (string);
  'stoppedValueIsReward': (boolean);
}
