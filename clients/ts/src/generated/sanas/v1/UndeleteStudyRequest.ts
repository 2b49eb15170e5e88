// Original file: sanas/v1/sanas.proto


export interface UndeleteStudyRequest {
  'studyId'?: (string);
}

export interface UndeleteStudyRequest__Output {
  'studyId': (string);
}
