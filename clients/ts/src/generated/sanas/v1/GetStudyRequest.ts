// Original file: sanas/v1/sanas.proto


export interface GetStudyRequest {
  'studyId'?: (string);
}

export interface GetStudyRequest__Output {
  'studyId': (string);
}
