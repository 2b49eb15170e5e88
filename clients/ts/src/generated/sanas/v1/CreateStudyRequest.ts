// Original file: sanas/v1/sanas.proto

import type { StudyConfig as _sanas_v1_StudyConfig, StudyConfig__Output as _sanas_v1_StudyConfig__Output } from '../../sanas/v1/StudyConfig';

export interface CreateStudyRequest {
  'studyId'?: (string);
  'config'?: (_sanas_v1_StudyConfig | null);
}

export interface CreateStudyRequest__Output {
  'studyId': (string);
  'config': (_sanas_v1_StudyConfig__Output | null);
}
