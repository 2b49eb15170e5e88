// Original file: sanas/v1/sanas.proto

import type { StudyConfig as _sanas_v1_StudyConfig, StudyConfig__Output as _sanas_v1_StudyConfig__Output } from '../../sanas/v1/StudyConfig';
import type { StudyState as _sanas_v1_StudyState, StudyState__Output as _sanas_v1_StudyState__Output } from '../../sanas/v1/StudyState';
import type { TrialCounts as _sanas_v1_TrialCounts, TrialCounts__Output as _sanas_v1_TrialCounts__Output } from '../../sanas/v1/TrialCounts';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { ModelFit as _sanas_v1_ModelFit, ModelFit__Output as _sanas_v1_ModelFit__Output } from '../../sanas/v1/ModelFit';
import type { Long } from '@grpc/proto-loader';

export interface Study {
  'studyId'?: (string);
  'config'?: (_sanas_v1_StudyConfig | null);
  'state'?: (_sanas_v1_StudyState);
  'rangeTable'?: (number)[];
  'bestTokens'?: (number)[];
  'bestReward'?: (number | string);
  'currentTokens'?: (number)[];
  'currentReward'?: (number | string);
  'temperature'?: (number | string);
  'trialCounts'?: (_sanas_v1_TrialCounts | null);
  'budgetRemaining'?: (number | string | Long);
  'createTime'?: (_google_protobuf_Timestamp | null);
  'leaseExpirations'?: (number | string | Long);
  'acceptedMoves'?: (number | string | Long);
  'rejectedMoves'?: (number | string | Long);
  'rejectedProposals'?: (number | string | Long);
  'brokenReason'?: (string);
  'stepsSaved'?: (number | string | Long);
  'uid'?: (string);
  'deleteTime'?: (_google_protobuf_Timestamp | null);
  'expireTime'?: (_google_protobuf_Timestamp | null);
  'modelFit'?: (_sanas_v1_ModelFit | null);
  '_bestReward'?: "bestReward";
  '_currentReward'?: "currentReward";
}

export interface Study__Output {
  'studyId': (string);
  'config': (_sanas_v1_StudyConfig__Output | null);
  'state': (_sanas_v1_StudyState__Output);
  'rangeTable': (number)[];
  'bestTokens': (number)[];
  'bestReward'?: (number);
  'currentTokens': (number)[];
  'currentReward'?: (number);
  'temperature': (number);
  'trialCounts': (_sanas_v1_TrialCounts__Output | null);
  'budgetRemaining': (string);
  'createTime': (_google_protobuf_Timestamp__Output | null);
  'leaseExpirations': (string);
  'acceptedMoves': (string);
  'rejectedMoves': (string);
  'rejectedProposals': (string);
  'brokenReason': (string);
  'stepsSaved': (string);
  'uid': (string);
  'deleteTime': (_google_protobuf_Timestamp__Output | null);
  'expireTime': (_google_protobuf_Timestamp__Output | null);
  'modelFit': (_sanas_v1_ModelFit__Output | null);
  '_bestReward'?: "bestReward";
  '_currentReward'?: "currentReward";
}
