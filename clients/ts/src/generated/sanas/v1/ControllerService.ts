// Original file: sanas/v1/sanas.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BackupStudyRequest as _sanas_v1_BackupStudyRequest, BackupStudyRequest__Output as _sanas_v1_BackupStudyRequest__Output } from '../../sanas/v1/BackupStudyRequest';
import type { BackupStudyResponse as _sanas_v1_BackupStudyResponse, BackupStudyResponse__Output as _sanas_v1_BackupStudyResponse__Output } from '../../sanas/v1/BackupStudyResponse';
import type { CompleteTrialRequest as _sanas_v1_CompleteTrialRequest, CompleteTrialRequest__Output as _sanas_v1_CompleteTrialRequest__Output } from '../../sanas/v1/CompleteTrialRequest';
import type { CompleteTrialResponse as _sanas_v1_CompleteTrialResponse, CompleteTrialResponse__Output as _sanas_v1_CompleteTrialResponse__Output } from '../../sanas/v1/CompleteTrialResponse';
import type { CreateStudyRequest as _sanas_v1_CreateStudyRequest, CreateStudyRequest__Output as _sanas_v1_CreateStudyRequest__Output } from '../../sanas/v1/CreateStudyRequest';
import type { CreateStudyResponse as _sanas_v1_CreateStudyResponse, CreateStudyResponse__Output as _sanas_v1_CreateStudyResponse__Output } from '../../sanas/v1/CreateStudyResponse';
import type { DeleteStudyRequest as _sanas_v1_DeleteStudyRequest, DeleteStudyRequest__Output as _sanas_v1_DeleteStudyRequest__Output } from '../../sanas/v1/DeleteStudyRequest';
import type { DeleteStudyResponse as _sanas_v1_DeleteStudyResponse, DeleteStudyResponse__Output as _sanas_v1_DeleteStudyResponse__Output } from '../../sanas/v1/DeleteStudyResponse';
import type { GetStudyRequest as _sanas_v1_GetStudyRequest, GetStudyRequest__Output as _sanas_v1_GetStudyRequest__Output } from '../../sanas/v1/GetStudyRequest';
import type { GetStudyResponse as _sanas_v1_GetStudyResponse, GetStudyResponse__Output as _sanas_v1_GetStudyResponse__Output } from '../../sanas/v1/GetStudyResponse';
import type { HeartbeatTrialRequest as _sanas_v1_HeartbeatTrialRequest, HeartbeatTrialRequest__Output as _sanas_v1_HeartbeatTrialRequest__Output } from '../../sanas/v1/HeartbeatTrialRequest';
import type { HeartbeatTrialResponse as _sanas_v1_HeartbeatTrialResponse, HeartbeatTrialResponse__Output as _sanas_v1_HeartbeatTrialResponse__Output } from '../../sanas/v1/HeartbeatTrialResponse';
import type { ImportPaddleSlimCheckpointRequest as _sanas_v1_ImportPaddleSlimCheckpointRequest, ImportPaddleSlimCheckpointRequest__Output as _sanas_v1_ImportPaddleSlimCheckpointRequest__Output } from '../../sanas/v1/ImportPaddleSlimCheckpointRequest';
import type { ImportPaddleSlimCheckpointResponse as _sanas_v1_ImportPaddleSlimCheckpointResponse, ImportPaddleSlimCheckpointResponse__Output as _sanas_v1_ImportPaddleSlimCheckpointResponse__Output } from '../../sanas/v1/ImportPaddleSlimCheckpointResponse';
import type { ListStudiesRequest as _sanas_v1_ListStudiesRequest, ListStudiesRequest__Output as _sanas_v1_ListStudiesRequest__Output } from '../../sanas/v1/ListStudiesRequest';
import type { ListStudiesResponse as _sanas_v1_ListStudiesResponse, ListStudiesResponse__Output as _sanas_v1_ListStudiesResponse__Output } from '../../sanas/v1/ListStudiesResponse';
import type { ListTrialsRequest as _sanas_v1_ListTrialsRequest, ListTrialsRequest__Output as _sanas_v1_ListTrialsRequest__Output } from '../../sanas/v1/ListTrialsRequest';
import type { ListTrialsResponse as _sanas_v1_ListTrialsResponse, ListTrialsResponse__Output as _sanas_v1_ListTrialsResponse__Output } from '../../sanas/v1/ListTrialsResponse';
import type { ReportTrialProgressRequest as _sanas_v1_ReportTrialProgressRequest, ReportTrialProgressRequest__Output as _sanas_v1_ReportTrialProgressRequest__Output } from '../../sanas/v1/ReportTrialProgressRequest';
import type { ReportTrialProgressResponse as _sanas_v1_ReportTrialProgressResponse, ReportTrialProgressResponse__Output as _sanas_v1_ReportTrialProgressResponse__Output } from '../../sanas/v1/ReportTrialProgressResponse';
import type { RestoreStudyRequest as _sanas_v1_RestoreStudyRequest, RestoreStudyRequest__Output as _sanas_v1_RestoreStudyRequest__Output } from '../../sanas/v1/RestoreStudyRequest';
import type { RestoreStudyResponse as _sanas_v1_RestoreStudyResponse, RestoreStudyResponse__Output as _sanas_v1_RestoreStudyResponse__Output } from '../../sanas/v1/RestoreStudyResponse';
import type { SkipTrialRequest as _sanas_v1_SkipTrialRequest, SkipTrialRequest__Output as _sanas_v1_SkipTrialRequest__Output } from '../../sanas/v1/SkipTrialRequest';
import type { SkipTrialResponse as _sanas_v1_SkipTrialResponse, SkipTrialResponse__Output as _sanas_v1_SkipTrialResponse__Output } from '../../sanas/v1/SkipTrialResponse';
import type { SuggestTrialRequest as _sanas_v1_SuggestTrialRequest, SuggestTrialRequest__Output as _sanas_v1_SuggestTrialRequest__Output } from '../../sanas/v1/SuggestTrialRequest';
import type { SuggestTrialResponse as _sanas_v1_SuggestTrialResponse, SuggestTrialResponse__Output as _sanas_v1_SuggestTrialResponse__Output } from '../../sanas/v1/SuggestTrialResponse';
import type { UndeleteStudyRequest as _sanas_v1_UndeleteStudyRequest, UndeleteStudyRequest__Output as _sanas_v1_UndeleteStudyRequest__Output } from '../../sanas/v1/UndeleteStudyRequest';
import type { UndeleteStudyResponse as _sanas_v1_UndeleteStudyResponse, UndeleteStudyResponse__Output as _sanas_v1_UndeleteStudyResponse__Output } from '../../sanas/v1/UndeleteStudyResponse';
import type { WatchStudyRequest as _sanas_v1_WatchStudyRequest, WatchStudyRequest__Output as _sanas_v1_WatchStudyRequest__Output } from '../../sanas/v1/WatchStudyRequest';
import type { WatchStudyResponse as _sanas_v1_WatchStudyResponse, WatchStudyResponse__Output as _sanas_v1_WatchStudyResponse__Output } from '../../sanas/v1/WatchStudyResponse';

export interface ControllerServiceClient extends grpc.Client {
  BackupStudy(argument: _sanas_v1_BackupStudyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_BackupStudyResponse__Output>;
  BackupStudy(argument: _sanas_v1_BackupStudyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_BackupStudyResponse__Output>;
  backupStudy(argument: _sanas_v1_BackupStudyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_BackupStudyResponse__Output>;
  backupStudy(argument: _sanas_v1_BackupStudyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_BackupStudyResponse__Output>;
  
  CompleteTrial(argument: _sanas_v1_CompleteTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  CompleteTrial(argument: _sanas_v1_CompleteTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  CompleteTrial(argument: _sanas_v1_CompleteTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  CompleteTrial(argument: _sanas_v1_CompleteTrialRequest, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  completeTrial(argument: _sanas_v1_CompleteTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  completeTrial(argument: _sanas_v1_CompleteTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  completeTrial(argument: _sanas_v1_CompleteTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  completeTrial(argument: _sanas_v1_CompleteTrialRequest, callback: grpc.requestCallback<_sanas_v1_CompleteTrialResponse__Output>): grpc.ClientUnaryCall;
  
  CreateStudy(argument: _sanas_v1_CreateStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  CreateStudy(argument: _sanas_v1_CreateStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  CreateStudy(argument: _sanas_v1_CreateStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  CreateStudy(argument: _sanas_v1_CreateStudyRequest, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  createStudy(argument: _sanas_v1_CreateStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  createStudy(argument: _sanas_v1_CreateStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  createStudy(argument: _sanas_v1_CreateStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  createStudy(argument: _sanas_v1_CreateStudyRequest, callback: grpc.requestCallback<_sanas_v1_CreateStudyResponse__Output>): grpc.ClientUnaryCall;
  
  DeleteStudy(argument: _sanas_v1_DeleteStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  DeleteStudy(argument: _sanas_v1_DeleteStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  DeleteStudy(argument: _sanas_v1_DeleteStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  DeleteStudy(argument: _sanas_v1_DeleteStudyRequest, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  deleteStudy(argument: _sanas_v1_DeleteStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  deleteStudy(argument: _sanas_v1_DeleteStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  deleteStudy(argument: _sanas_v1_DeleteStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  deleteStudy(argument: _sanas_v1_DeleteStudyRequest, callback: grpc.requestCallback<_sanas_v1_DeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  
  GetStudy(argument: _sanas_v1_GetStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  GetStudy(argument: _sanas_v1_GetStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  GetStudy(argument: _sanas_v1_GetStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  GetStudy(argument: _sanas_v1_GetStudyRequest, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  getStudy(argument: _sanas_v1_GetStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  getStudy(argument: _sanas_v1_GetStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  getStudy(argument: _sanas_v1_GetStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  getStudy(argument: _sanas_v1_GetStudyRequest, callback: grpc.requestCallback<_sanas_v1_GetStudyResponse__Output>): grpc.ClientUnaryCall;
  
  HeartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  HeartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  HeartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  HeartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  heartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  heartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  heartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  heartbeatTrial(argument: _sanas_v1_HeartbeatTrialRequest, callback: grpc.requestCallback<_sanas_v1_HeartbeatTrialResponse__Output>): grpc.ClientUnaryCall;
  
  ImportPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  ImportPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  ImportPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  ImportPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  importPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  importPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  importPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  importPaddleSlimCheckpoint(argument: _sanas_v1_ImportPaddleSlimCheckpointRequest, callback: grpc.requestCallback<_sanas_v1_ImportPaddleSlimCheckpointResponse__Output>): grpc.ClientUnaryCall;
  
  ListStudies(argument: _sanas_v1_ListStudiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  ListStudies(argument: _sanas_v1_ListStudiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  ListStudies(argument: _sanas_v1_ListStudiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  ListStudies(argument: _sanas_v1_ListStudiesRequest, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  listStudies(argument: _sanas_v1_ListStudiesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  listStudies(argument: _sanas_v1_ListStudiesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  listStudies(argument: _sanas_v1_ListStudiesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  listStudies(argument: _sanas_v1_ListStudiesRequest, callback: grpc.requestCallback<_sanas_v1_ListStudiesResponse__Output>): grpc.ClientUnaryCall;
  
  ListTrials(argument: _sanas_v1_ListTrialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  ListTrials(argument: _sanas_v1_ListTrialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  ListTrials(argument: _sanas_v1_ListTrialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  ListTrials(argument: _sanas_v1_ListTrialsRequest, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  listTrials(argument: _sanas_v1_ListTrialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  listTrials(argument: _sanas_v1_ListTrialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  listTrials(argument: _sanas_v1_ListTrialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  listTrials(argument: _sanas_v1_ListTrialsRequest, callback: grpc.requestCallback<_sanas_v1_ListTrialsResponse__Output>): grpc.ClientUnaryCall;
  
  ReportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  ReportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  ReportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  ReportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  reportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  reportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  reportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  reportTrialProgress(argument: _sanas_v1_ReportTrialProgressRequest, callback: grpc.requestCallback<_sanas_v1_ReportTrialProgressResponse__Output>): grpc.ClientUnaryCall;
  
  RestoreStudy(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  RestoreStudy(metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  RestoreStudy(options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  RestoreStudy(callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  restoreStudy(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  restoreStudy(metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  restoreStudy(options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  restoreStudy(callback: grpc.requestCallback<_sanas_v1_RestoreStudyResponse__Output>): grpc.ClientWritableStream<_sanas_v1_RestoreStudyRequest>;
  
  SkipTrial(argument: _sanas_v1_SkipTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  SkipTrial(argument: _sanas_v1_SkipTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  SkipTrial(argument: _sanas_v1_SkipTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  SkipTrial(argument: _sanas_v1_SkipTrialRequest, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  skipTrial(argument: _sanas_v1_SkipTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  skipTrial(argument: _sanas_v1_SkipTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  skipTrial(argument: _sanas_v1_SkipTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  skipTrial(argument: _sanas_v1_SkipTrialRequest, callback: grpc.requestCallback<_sanas_v1_SkipTrialResponse__Output>): grpc.ClientUnaryCall;
  
  SuggestTrial(argument: _sanas_v1_SuggestTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  SuggestTrial(argument: _sanas_v1_SuggestTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  SuggestTrial(argument: _sanas_v1_SuggestTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  SuggestTrial(argument: _sanas_v1_SuggestTrialRequest, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  suggestTrial(argument: _sanas_v1_SuggestTrialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  suggestTrial(argument: _sanas_v1_SuggestTrialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  suggestTrial(argument: _sanas_v1_SuggestTrialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  suggestTrial(argument: _sanas_v1_SuggestTrialRequest, callback: grpc.requestCallback<_sanas_v1_SuggestTrialResponse__Output>): grpc.ClientUnaryCall;
  
  UndeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  UndeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  UndeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  UndeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  undeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  undeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  undeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  undeleteStudy(argument: _sanas_v1_UndeleteStudyRequest, callback: grpc.requestCallback<_sanas_v1_UndeleteStudyResponse__Output>): grpc.ClientUnaryCall;
  
  WatchStudy(argument: _sanas_v1_WatchStudyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_WatchStudyResponse__Output>;
  WatchStudy(argument: _sanas_v1_WatchStudyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_WatchStudyResponse__Output>;
  watchStudy(argument: _sanas_v1_WatchStudyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_WatchStudyResponse__Output>;
  watchStudy(argument: _sanas_v1_WatchStudyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_sanas_v1_WatchStudyResponse__Output>;
  
}

export interface ControllerServiceHandlers extends grpc.UntypedServiceImplementation {
  BackupStudy: grpc.handleServerStreamingCall<_sanas_v1_BackupStudyRequest__Output, _sanas_v1_BackupStudyResponse>;
  
  CompleteTrial: grpc.handleUnaryCall<_sanas_v1_CompleteTrialRequest__Output, _sanas_v1_CompleteTrialResponse>;
  
  CreateStudy: grpc.handleUnaryCall<_sanas_v1_CreateStudyRequest__Output, _sanas_v1_CreateStudyResponse>;
  
  DeleteStudy: grpc.handleUnaryCall<_sanas_v1_DeleteStudyRequest__Output, _sanas_v1_DeleteStudyResponse>;
  
  GetStudy: grpc.handleUnaryCall<_sanas_v1_GetStudyRequest__Output, _sanas_v1_GetStudyResponse>;
  
  HeartbeatTrial: grpc.handleUnaryCall<_sanas_v1_HeartbeatTrialRequest__Output, _sanas_v1_HeartbeatTrialResponse>;
  
  ImportPaddleSlimCheckpoint: grpc.handleUnaryCall<_sanas_v1_ImportPaddleSlimCheckpointRequest__Output, _sanas_v1_ImportPaddleSlimCheckpointResponse>;
  
  ListStudies: grpc.handleUnaryCall<_sanas_v1_ListStudiesRequest__Output, _sanas_v1_ListStudiesResponse>;
  
  ListTrials: grpc.handleUnaryCall<_sanas_v1_ListTrialsRequest__Output, _sanas_v1_ListTrialsResponse>;
  
  ReportTrialProgress: grpc.handleUnaryCall<_sanas_v1_ReportTrialProgressRequest__Output, _sanas_v1_ReportTrialProgressResponse>;
  
  RestoreStudy: grpc.handleClientStreamingCall<_sanas_v1_RestoreStudyRequest__Output, _sanas_v1_RestoreStudyResponse>;
  
  SkipTrial: grpc.handleUnaryCall<_sanas_v1_SkipTrialRequest__Output, _sanas_v1_SkipTrialResponse>;
  
  SuggestTrial: grpc.handleUnaryCall<_sanas_v1_SuggestTrialRequest__Output, _sanas_v1_SuggestTrialResponse>;
  
  UndeleteStudy: grpc.handleUnaryCall<_sanas_v1_UndeleteStudyRequest__Output, _sanas_v1_UndeleteStudyResponse>;
  
  WatchStudy: grpc.handleServerStreamingCall<_sanas_v1_WatchStudyRequest__Output, _sanas_v1_WatchStudyResponse>;
  
}

export interface ControllerServiceDefinition extends grpc.ServiceDefinition {
  BackupStudy: MethodDefinition<_sanas_v1_BackupStudyRequest, _sanas_v1_BackupStudyResponse, _sanas_v1_BackupStudyRequest__Output, _sanas_v1_BackupStudyResponse__Output>
  CompleteTrial: MethodDefinition<_sanas_v1_CompleteTrialRequest, _sanas_v1_CompleteTrialResponse, _sanas_v1_CompleteTrialRequest__Output, _sanas_v1_CompleteTrialResponse__Output>
  CreateStudy: MethodDefinition<_sanas_v1_CreateStudyRequest, _sanas_v1_CreateStudyResponse, _sanas_v1_CreateStudyRequest__Output, _sanas_v1_CreateStudyResponse__Output>
  DeleteStudy: MethodDefinition<_sanas_v1_DeleteStudyRequest, _sanas_v1_DeleteStudyResponse, _sanas_v1_DeleteStudyRequest__Output, _sanas_v1_DeleteStudyResponse__Output>
  GetStudy: MethodDefinition<_sanas_v1_GetStudyRequest, _sanas_v1_GetStudyResponse, _sanas_v1_GetStudyRequest__Output, _sanas_v1_GetStudyResponse__Output>
  HeartbeatTrial: MethodDefinition<_sanas_v1_HeartbeatTrialRequest, _sanas_v1_HeartbeatTrialResponse, _sanas_v1_HeartbeatTrialRequest__Output, _sanas_v1_HeartbeatTrialResponse__Output>
  ImportPaddleSlimCheckpoint: MethodDefinition<_sanas_v1_ImportPaddleSlimCheckpointRequest, _sanas_v1_ImportPaddleSlimCheckpointResponse, _sanas_v1_ImportPaddleSlimCheckpointRequest__Output, _sanas_v1_ImportPaddleSlimCheckpointResponse__Output>
  ListStudies: MethodDefinition<_sanas_v1_ListStudiesRequest, _sanas_v1_ListStudiesResponse, _sanas_v1_ListStudiesRequest__Output, _sanas_v1_ListStudiesResponse__Output>
  ListTrials: MethodDefinition<_sanas_v1_ListTrialsRequest, _sanas_v1_ListTrialsResponse, _sanas_v1_ListTrialsRequest__Output, _sanas_v1_ListTrialsResponse__Output>
  ReportTrialProgress: MethodDefinition<_sanas_v1_ReportTrialProgressRequest, _sanas_v1_ReportTrialProgressResponse, _sanas_v1_ReportTrialProgressRequest__Output, _sanas_v1_ReportTrialProgressResponse__Output>
  RestoreStudy: MethodDefinition<_sanas_v1_RestoreStudyRequest, _sanas_v1_RestoreStudyResponse, _sanas_v1_RestoreStudyRequest__Output, _sanas_v1_RestoreStudyResponse__Output>
  SkipTrial: MethodDefinition<_sanas_v1_SkipTrialRequest, _sanas_v1_SkipTrialResponse, _sanas_v1_SkipTrialRequest__Output, _sanas_v1_SkipTrialResponse__Output>
  SuggestTrial: MethodDefinition<_sanas_v1_SuggestTrialRequest, _sanas_v1_SuggestTrialResponse, _sanas_v1_SuggestTrialRequest__Output, _sanas_v1_SuggestTrialResponse__Output>
  UndeleteStudy: MethodDefinition<_sanas_v1_UndeleteStudyRequest, _sanas_v1_UndeleteStudyResponse, _sanas_v1_UndeleteStudyRequest__Output, _sanas_v1_UndeleteStudyResponse__Output>
  WatchStudy: MethodDefinition<_sanas_v1_WatchStudyRequest, _sanas_v1_WatchStudyResponse, _sanas_v1_WatchStudyRequest__Output, _sanas_v1_WatchStudyResponse__Output>
}
