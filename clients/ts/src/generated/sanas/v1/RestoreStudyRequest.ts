// Original file: sanas/v1/sanas.proto


export interface RestoreStudyRequest {
  'studyId'?: (string);
  'header'?: (Buffer | Uint8Array | string);
  'snapshotChunk'?: (Buffer | Uint8Array | string);
}

export interface RestoreStudyRequest__Output {
  'studyId': (string);
  'header': (Buffer);
  'snapshotChunk': (Buffer);
}
