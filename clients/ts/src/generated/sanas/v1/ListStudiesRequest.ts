// Original file: sanas/v1/sanas.proto


export interface ListStudiesRequest {
  'pageSize'?: (number);
  'pageToken'?: (string);
  'showDeleted'?: (boolean);
}

export interface ListStudiesRequest__Output {
  'pageSize': (number);
  'pageToken': (string);
  'showDeleted': (boolean);
}
