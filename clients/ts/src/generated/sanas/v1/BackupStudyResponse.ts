// Original file: sanas/v1/sanas.proto

import type { Long } from '@grpc/proto-loader';

export interface BackupStudyResponse {
  'header'?: (Buffer | Uint8Array | string);
  'snapshotChunk'?: (Buffer | Uint8Array | string);
  'trialCount'?: (number | string | Long);
}

export interface BackupStudyResponse__Output {
  'header': (Buffer);
  'snapshotChunk': (Buffer);
  'trialCount': (string);
}
