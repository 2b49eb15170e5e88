// Original file: sanas/v1/sanas.proto

import type { StudyEventType as _sanas_v1_StudyEventType, StudyEventType__Output as _sanas_v1_StudyEventType__Output } from '../../sanas/v1/StudyEventType';
import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from '../../sanas/v1/Trial';
import type { Study as _sanas_v1_Study, Study__Output as _sanas_v1_Study__Output } from '../../sanas/v1/Study';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Measurement as _sanas_v1_Measurement, Measurement__Output as _sanas_v1_Measurement__Output } from '../../sanas/v1/Measurement';

export interface WatchStudyResponse {
  'type'?: (_sanas_v1_StudyEventType);
  'trial'?: (_sanas_v1_Trial | null);
  'study'?: (_sanas_v1_Study | null);
  'eventTime'?: (_google_protobuf_Timestamp | null);
  'measurement'?: (_sanas_v1_Measurement | null);
}

export interface WatchStudyResponse__Output {
  'type': (_sanas_v1_StudyEventType__Output);
  'trial': (_sanas_v1_Trial__Output | null);
  'study': (_sanas_v1_Study__Output | null);
  'eventTime': (_google_protobuf_Timestamp__Output | null);
  'measurement': (_sanas_v1_Measurement__Output | null);
}
