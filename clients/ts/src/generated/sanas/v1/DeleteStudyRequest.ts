// Original file: sanas/v1/sanas.proto


export interface DeleteStudyRequest {
  'studyId'?: (string);
}

export interface DeleteStudyRequest__Output {
  'studyId': (string);
}
