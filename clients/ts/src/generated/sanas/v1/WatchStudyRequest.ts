// Original file: sanas/v1/sanas.proto


export interface WatchStudyRequest {
  'studyId'?: (string);
}

export interface WatchStudyRequest__Output {
  'studyId': (string);
}
