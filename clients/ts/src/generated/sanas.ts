import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from './google/protobuf/Duration';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { Architecture as _sanas_v1_Architecture, Architecture__Output as _sanas_v1_Architecture__Output } from './sanas/v1/Architecture';
import type { ArchitectureBlock as _sanas_v1_ArchitectureBlock, ArchitectureBlock__Output as _sanas_v1_ArchitectureBlock__Output } from './sanas/v1/ArchitectureBlock';
import type { BackupStudyRequest as _sanas_v1_BackupStudyRequest, BackupStudyRequest__Output as _sanas_v1_BackupStudyRequest__Output } from './sanas/v1/BackupStudyRequest';
import type { BackupStudyResponse as _sanas_v1_BackupStudyResponse, BackupStudyResponse__Output as _sanas_v1_BackupStudyResponse__Output } from './sanas/v1/BackupStudyResponse';
import type { CompleteTrialRequest as _sanas_v1_CompleteTrialRequest, CompleteTrialRequest__Output as _sanas_v1_CompleteTrialRequest__Output } from './sanas/v1/CompleteTrialRequest';
import type { CompleteTrialResponse as _sanas_v1_CompleteTrialResponse, CompleteTrialResponse__Output as _sanas_v1_CompleteTrialResponse__Output } from './sanas/v1/CompleteTrialResponse';
import type { Constraints as _sanas_v1_Constraints, Constraints__Output as _sanas_v1_Constraints__Output } from './sanas/v1/Constraints';
import type { ControllerServiceClient as _sanas_v1_ControllerServiceClient, ControllerServiceDefinition as _sanas_v1_ControllerServiceDefinition } from './sanas/v1/ControllerService';
import type { CreateStudyRequest as _sanas_v1_CreateStudyRequest, CreateStudyRequest__Output as _sanas_v1_CreateStudyRequest__Output } from './sanas/v1/CreateStudyRequest';
import type { CreateStudyResponse as _sanas_v1_CreateStudyResponse, CreateStudyResponse__Output as _sanas_v1_CreateStudyResponse__Output } from './sanas/v1/CreateStudyResponse';
import type { DeleteStudyRequest as _sanas_v1_DeleteStudyRequest, DeleteStudyRequest__Output as _sanas_v1_DeleteStudyRequest__Output } from './sanas/v1/DeleteStudyRequest';
import type { DeleteStudyResponse as _sanas_v1_DeleteStudyResponse, DeleteStudyResponse__Output as _sanas_v1_DeleteStudyResponse__Output } from './sanas/v1/DeleteStudyResponse';
import type { EarlyStopping as _sanas_v1_EarlyStopping, EarlyStopping__Output as _sanas_v1_EarlyStopping__Output } from './sanas/v1/EarlyStopping';
import type { GetStudyRequest as _sanas_v1_GetStudyRequest, GetStudyRequest__Output as _sanas_v1_GetStudyRequest__Output } from './sanas/v1/GetStudyRequest';
import type { GetStudyResponse as _sanas_v1_GetStudyResponse, GetStudyResponse__Output as _sanas_v1_GetStudyResponse__Output } from './sanas/v1/GetStudyResponse';
import type { HeartbeatTrialRequest as _sanas_v1_HeartbeatTrialRequest, HeartbeatTrialRequest__Output as _sanas_v1_HeartbeatTrialRequest__Output } from './sanas/v1/HeartbeatTrialRequest';
import type { HeartbeatTrialResponse as _sanas_v1_HeartbeatTrialResponse, HeartbeatTrialResponse__Output as _sanas_v1_HeartbeatTrialResponse__Output } from './sanas/v1/HeartbeatTrialResponse';
import type { ImportPaddleSlimCheckpointRequest as _sanas_v1_ImportPaddleSlimCheckpointRequest, ImportPaddleSlimCheckpointRequest__Output as _sanas_v1_ImportPaddleSlimCheckpointRequest__Output } from './sanas/v1/ImportPaddleSlimCheckpointRequest';
import type { ImportPaddleSlimCheckpointResponse as _sanas_v1_ImportPaddleSlimCheckpointResponse, ImportPaddleSlimCheckpointResponse__Output as _sanas_v1_ImportPaddleSlimCheckpointResponse__Output } from './sanas/v1/ImportPaddleSlimCheckpointResponse';
import type { ListStudiesRequest as _sanas_v1_ListStudiesRequest, ListStudiesRequest__Output as _sanas_v1_ListStudiesRequest__Output } from './sanas/v1/ListStudiesRequest';
import type { ListStudiesResponse as _sanas_v1_ListStudiesResponse, ListStudiesResponse__Output as _sanas_v1_ListStudiesResponse__Output } from './sanas/v1/ListStudiesResponse';
import type { ListTrialsRequest as _sanas_v1_ListTrialsRequest, ListTrialsRequest__Output as _sanas_v1_ListTrialsRequest__Output } from './sanas/v1/ListTrialsRequest';
import type { ListTrialsResponse as _sanas_v1_ListTrialsResponse, ListTrialsResponse__Output as _sanas_v1_ListTrialsResponse__Output } from './sanas/v1/ListTrialsResponse';
import type { Measurement as _sanas_v1_Measurement, Measurement__Output as _sanas_v1_Measurement__Output } from './sanas/v1/Measurement';
import type { MedianStoppingRule as _sanas_v1_MedianStoppingRule, MedianStoppingRule__Output as _sanas_v1_MedianStoppingRule__Output } from './sanas/v1/MedianStoppingRule';
import type { ModelFit as _sanas_v1_ModelFit, ModelFit__Output as _sanas_v1_ModelFit__Output } from './sanas/v1/ModelFit';
import type { ReportTrialProgressRequest as _sanas_v1_ReportTrialProgressRequest, ReportTrialProgressRequest__Output as _sanas_v1_ReportTrialProgressRequest__Output } from './sanas/v1/ReportTrialProgressRequest';
import type { ReportTrialProgressResponse as _sanas_v1_ReportTrialProgressResponse, ReportTrialProgressResponse__Output as _sanas_v1_ReportTrialProgressResponse__Output } from './sanas/v1/ReportTrialProgressResponse';
import type { RestoreStudyRequest as _sanas_v1_RestoreStudyRequest, RestoreStudyRequest__Output as _sanas_v1_RestoreStudyRequest__Output } from './sanas/v1/RestoreStudyRequest';
import type { RestoreStudyResponse as _sanas_v1_RestoreStudyResponse, RestoreStudyResponse__Output as _sanas_v1_RestoreStudyResponse__Output } from './sanas/v1/RestoreStudyResponse';
import type { SearchSpaceConfig as _sanas_v1_SearchSpaceConfig, SearchSpaceConfig__Output as _sanas_v1_SearchSpaceConfig__Output } from './sanas/v1/SearchSpaceConfig';
import type { SkipTrialRequest as _sanas_v1_SkipTrialRequest, SkipTrialRequest__Output as _sanas_v1_SkipTrialRequest__Output } from './sanas/v1/SkipTrialRequest';
import type { SkipTrialResponse as _sanas_v1_SkipTrialResponse, SkipTrialResponse__Output as _sanas_v1_SkipTrialResponse__Output } from './sanas/v1/SkipTrialResponse';
import type { Study as _sanas_v1_Study, Study__Output as _sanas_v1_Study__Output } from './sanas/v1/Study';
import type { StudyConfig as _sanas_v1_StudyConfig, StudyConfig__Output as _sanas_v1_StudyConfig__Output } from './sanas/v1/StudyConfig';
import type { SuccessiveHalvingRule as _sanas_v1_SuccessiveHalvingRule, SuccessiveHalvingRule__Output as _sanas_v1_SuccessiveHalvingRule__Output } from './sanas/v1/SuccessiveHalvingRule';
import type { SuggestTrialRequest as _sanas_v1_SuggestTrialRequest, SuggestTrialRequest__Output as _sanas_v1_SuggestTrialRequest__Output } from './sanas/v1/SuggestTrialRequest';
import type { SuggestTrialResponse as _sanas_v1_SuggestTrialResponse, SuggestTrialResponse__Output as _sanas_v1_SuggestTrialResponse__Output } from './sanas/v1/SuggestTrialResponse';
import type { Trial as _sanas_v1_Trial, Trial__Output as _sanas_v1_Trial__Output } from './sanas/v1/Trial';
import type { TrialCounts as _sanas_v1_TrialCounts, TrialCounts__Output as _sanas_v1_TrialCounts__Output } from './sanas/v1/TrialCounts';
import type { UndeleteStudyRequest as _sanas_v1_UndeleteStudyRequest, UndeleteStudyRequest__Output as _sanas_v1_UndeleteStudyRequest__Output } from './sanas/v1/UndeleteStudyRequest';
import type { UndeleteStudyResponse as _sanas_v1_UndeleteStudyResponse, UndeleteStudyResponse__Output as _sanas_v1_UndeleteStudyResponse__Output } from './sanas/v1/UndeleteStudyResponse';
import type { WatchStudyRequest as _sanas_v1_WatchStudyRequest, WatchStudyRequest__Output as _sanas_v1_WatchStudyRequest__Output } from './sanas/v1/WatchStudyRequest';
import type { WatchStudyResponse as _sanas_v1_WatchStudyResponse, WatchStudyResponse__Output as _sanas_v1_WatchStudyResponse__Output } from './sanas/v1/WatchStudyResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Duration: MessageTypeDefinition<_google_protobuf_Duration, _google_protobuf_Duration__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  sanas: {
    v1: {
      Architecture: MessageTypeDefinition<_sanas_v1_Architecture, _sanas_v1_Architecture__Output>
      ArchitectureBlock: MessageTypeDefinition<_sanas_v1_ArchitectureBlock, _sanas_v1_ArchitectureBlock__Output>
      BackupStudyRequest: MessageTypeDefinition<_sanas_v1_BackupStudyRequest, _sanas_v1_BackupStudyRequest__Output>
      BackupStudyResponse: MessageTypeDefinition<_sanas_v1_BackupStudyResponse, _sanas_v1_BackupStudyResponse__Output>
      CompleteTrialRequest: MessageTypeDefinition<_sanas_v1_CompleteTrialRequest, _sanas_v1_CompleteTrialRequest__Output>
      CompleteTrialResponse: MessageTypeDefinition<_sanas_v1_CompleteTrialResponse, _sanas_v1_CompleteTrialResponse__Output>
      Constraints: MessageTypeDefinition<_sanas_v1_Constraints, _sanas_v1_Constraints__Output>
      ControllerService: SubtypeConstructor<typeof grpc.Client, _sanas_v1_ControllerServiceClient> & { service: _sanas_v1_ControllerServiceDefinition }
      CreateStudyRequest: MessageTypeDefinition<_sanas_v1_CreateStudyRequest, _sanas_v1_CreateStudyRequest__Output>
      CreateStudyResponse: MessageTypeDefinition<_sanas_v1_CreateStudyResponse, _sanas_v1_CreateStudyResponse__Output>
      DeleteStudyRequest: MessageTypeDefinition<_sanas_v1_DeleteStudyRequest, _sanas_v1_DeleteStudyRequest__Output>
      DeleteStudyResponse: MessageTypeDefinition<_sanas_v1_DeleteStudyResponse, _sanas_v1_DeleteStudyResponse__Output>
      EarlyStopping: MessageTypeDefinition<_sanas_v1_EarlyStopping, _sanas_v1_EarlyStopping__Output>
      ErrorReason: EnumTypeDefinition
      GetStudyRequest: MessageTypeDefinition<_sanas_v1_GetStudyRequest, _sanas_v1_GetStudyRequest__Output>
      GetStudyResponse: MessageTypeDefinition<_sanas_v1_GetStudyResponse, _sanas_v1_GetStudyResponse__Output>
      HeartbeatTrialRequest: MessageTypeDefinition<_sanas_v1_HeartbeatTrialRequest, _sanas_v1_HeartbeatTrialRequest__Output>
      HeartbeatTrialResponse: MessageTypeDefinition<_sanas_v1_HeartbeatTrialResponse, _sanas_v1_HeartbeatTrialResponse__Output>
      ImportPaddleSlimCheckpointRequest: MessageTypeDefinition<_sanas_v1_ImportPaddleSlimCheckpointRequest, _sanas_v1_ImportPaddleSlimCheckpointRequest__Output>
      ImportPaddleSlimCheckpointResponse: MessageTypeDefinition<_sanas_v1_ImportPaddleSlimCheckpointResponse, _sanas_v1_ImportPaddleSlimCheckpointResponse__Output>
      ListStudiesRequest: MessageTypeDefinition<_sanas_v1_ListStudiesRequest, _sanas_v1_ListStudiesRequest__Output>
      ListStudiesResponse: MessageTypeDefinition<_sanas_v1_ListStudiesResponse, _sanas_v1_ListStudiesResponse__Output>
      ListTrialsRequest: MessageTypeDefinition<_sanas_v1_ListTrialsRequest, _sanas_v1_ListTrialsRequest__Output>
      ListTrialsResponse: MessageTypeDefinition<_sanas_v1_ListTrialsResponse, _sanas_v1_ListTrialsResponse__Output>
      Measurement: MessageTypeDefinition<_sanas_v1_Measurement, _sanas_v1_Measurement__Output>
      MedianStoppingRule: MessageTypeDefinition<_sanas_v1_MedianStoppingRule, _sanas_v1_MedianStoppingRule__Output>
      ModelFit: MessageTypeDefinition<_sanas_v1_ModelFit, _sanas_v1_ModelFit__Output>
      ObjectiveGoal: EnumTypeDefinition
      ProposalPolicy: EnumTypeDefinition
      ReportTrialProgressRequest: MessageTypeDefinition<_sanas_v1_ReportTrialProgressRequest, _sanas_v1_ReportTrialProgressRequest__Output>
      ReportTrialProgressResponse: MessageTypeDefinition<_sanas_v1_ReportTrialProgressResponse, _sanas_v1_ReportTrialProgressResponse__Output>
      RestoreStudyRequest: MessageTypeDefinition<_sanas_v1_RestoreStudyRequest, _sanas_v1_RestoreStudyRequest__Output>
      RestoreStudyResponse: MessageTypeDefinition<_sanas_v1_RestoreStudyResponse, _sanas_v1_RestoreStudyResponse__Output>
      SearchSpaceConfig: MessageTypeDefinition<_sanas_v1_SearchSpaceConfig, _sanas_v1_SearchSpaceConfig__Output>
      SkipTrialRequest: MessageTypeDefinition<_sanas_v1_SkipTrialRequest, _sanas_v1_SkipTrialRequest__Output>
      SkipTrialResponse: MessageTypeDefinition<_sanas_v1_SkipTrialResponse, _sanas_v1_SkipTrialResponse__Output>
      Study: MessageTypeDefinition<_sanas_v1_Study, _sanas_v1_Study__Output>
      StudyConfig: MessageTypeDefinition<_sanas_v1_StudyConfig, _sanas_v1_StudyConfig__Output>
      StudyEventType: EnumTypeDefinition
      StudyState: EnumTypeDefinition
      SuccessiveHalvingRule: MessageTypeDefinition<_sanas_v1_SuccessiveHalvingRule, _sanas_v1_SuccessiveHalvingRule__Output>
      SuggestTrialRequest: MessageTypeDefinition<_sanas_v1_SuggestTrialRequest, _sanas_v1_SuggestTrialRequest__Output>
      SuggestTrialResponse: MessageTypeDefinition<_sanas_v1_SuggestTrialResponse, _sanas_v1_SuggestTrialResponse__Output>
      Trial: MessageTypeDefinition<_sanas_v1_Trial, _sanas_v1_Trial__Output>
      TrialCounts: MessageTypeDefinition<_sanas_v1_TrialCounts, _sanas_v1_TrialCounts__Output>
      TrialState: EnumTypeDefinition
      UndeleteStudyRequest: MessageTypeDefinition<_sanas_v1_UndeleteStudyRequest, _sanas_v1_UndeleteStudyRequest__Output>
      UndeleteStudyResponse: MessageTypeDefinition<_sanas_v1_UndeleteStudyResponse, _sanas_v1_UndeleteStudyResponse__Output>
      WatchStudyRequest: MessageTypeDefinition<_sanas_v1_WatchStudyRequest, _sanas_v1_WatchStudyRequest__Output>
      WatchStudyResponse: MessageTypeDefinition<_sanas_v1_WatchStudyResponse, _sanas_v1_WatchStudyResponse__Output>
    }
  }
}

