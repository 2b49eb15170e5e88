// Original file: sanas/v1/sanas.proto


export interface DeleteStudyRequest {
  'studyId'?: (string);
  'purge'?: (boolean);
}

export interface DeleteStudyRequest__Output {
  'studyId': (string);
  'purge': (boolean);
}
