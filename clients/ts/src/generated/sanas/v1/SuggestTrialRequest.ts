// Original file: sanas/v1/sanas.proto


export interface SuggestTrialRequest {
  'studyId'?: (string);
  'clientId'?: (string);
  'requestId'?: (string);
  'includeArchitecture'?: (boolean);
}

export interface SuggestTrialRequest__Output {
  'studyId': (string);
  'clientId': (string);
  'requestId': (string);
  'includeArchitecture': (boolean);
}
