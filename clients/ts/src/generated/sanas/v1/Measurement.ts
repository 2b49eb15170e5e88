// Original file: sanas/v1/sanas.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

export interface Measurement {
  'step'?: (number | string | Long);
  'value'?: (number | string);
  'time'?: (_google_protobuf_Timestamp | null);
}

export interface Measurement__Output {
  'step': (string);
  'value': (number);
  'time': (_google_protobuf_Timestamp__Output | null);
}
