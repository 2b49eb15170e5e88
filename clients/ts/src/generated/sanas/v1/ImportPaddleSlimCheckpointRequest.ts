// Original file: sanas/v1/sanas.proto

import type { StudyConfig as _sanas_v1_StudyConfig, StudyConfig__Output as _sanas_v1_StudyConfig__Output } from '../../sanas/v1/StudyConfig';

export interface ImportPaddleSlimCheckpointRequest {
  'studyId'?: (string);
  'config'?: (_sanas_v1_StudyConfig | null);
  'checkpointJson'?: (string);
}

export interface ImportPaddleSlimCheckpointRequest__Output {
  'studyId': (string);
  'config': (_sanas_v1_StudyConfig__Output | null);
  'checkpointJson': (string);
}
