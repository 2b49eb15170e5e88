// Original file: sanas/v1/sanas.proto


export interface BackupStudyRequest {
  'studyId'?: (string);
}

export interface BackupStudyRequest__Output {
  'studyId': (string);
}
