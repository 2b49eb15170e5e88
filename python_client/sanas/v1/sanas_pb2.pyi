import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProposalPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROPOSAL_POLICY_UNSPECIFIED: _ClassVar[ProposalPolicy]
    PROPOSAL_POLICY_ANNEALER: _ClassVar[ProposalPolicy]
    PROPOSAL_POLICY_MODEL_GUIDED: _ClassVar[ProposalPolicy]

class ObjectiveGoal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECTIVE_GOAL_UNSPECIFIED: _ClassVar[ObjectiveGoal]
    OBJECTIVE_GOAL_MAXIMIZE: _ClassVar[ObjectiveGoal]
    OBJECTIVE_GOAL_MINIMIZE: _ClassVar[ObjectiveGoal]

class StudyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STUDY_STATE_UNSPECIFIED: _ClassVar[StudyState]
    STUDY_STATE_ACTIVE: _ClassVar[StudyState]
    STUDY_STATE_COMPLETED: _ClassVar[StudyState]
    STUDY_STATE_BROKEN: _ClassVar[StudyState]
    STUDY_STATE_DELETED: _ClassVar[StudyState]

class TrialState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAL_STATE_UNSPECIFIED: _ClassVar[TrialState]
    TRIAL_STATE_ACTIVE: _ClassVar[TrialState]
    TRIAL_STATE_SUCCEEDED: _ClassVar[TrialState]
    TRIAL_STATE_INFEASIBLE: _ClassVar[TrialState]
    TRIAL_STATE_STOPPED: _ClassVar[TrialState]
    TRIAL_STATE_SKIPPED: _ClassVar[TrialState]

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_STUDY_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_TRIAL_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_STUDY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_TRIAL_ALREADY_COMPLETED: _ClassVar[ErrorReason]
    ERROR_REASON_BUDGET_EXHAUSTED: _ClassVar[ErrorReason]
    ERROR_REASON_SPACE_EXHAUSTED: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_FAILURE: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_PENDING_TRIALS: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_STUDY_BROKEN: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_WATCHERS: _ClassVar[ErrorReason]
    ERROR_REASON_TRIAL_NOT_HELD: _ClassVar[ErrorReason]
    ERROR_REASON_STALE_TRIAL: _ClassVar[ErrorReason]
    ERROR_REASON_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_STUDY_DELETED: _ClassVar[ErrorReason]

class StudyEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STUDY_EVENT_TYPE_UNSPECIFIED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_CURRENT_STATE: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_TRIAL_SUGGESTED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_LEASE_EXPIRED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_TRIAL_COMPLETED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_NEW_BEST: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_STUDY_COMPLETED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_TRIAL_PROGRESS: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_TRIAL_STOPPED: _ClassVar[StudyEventType]
    STUDY_EVENT_TYPE_TRIAL_SKIPPED: _ClassVar[StudyEventType]
PROPOSAL_POLICY_UNSPECIFIED: ProposalPolicy
PROPOSAL_POLICY_ANNEALER: ProposalPolicy
PROPOSAL_POLICY_MODEL_GUIDED: ProposalPolicy
OBJECTIVE_GOAL_UNSPECIFIED: ObjectiveGoal
OBJECTIVE_GOAL_MAXIMIZE: ObjectiveGoal
OBJECTIVE_GOAL_MINIMIZE: ObjectiveGoal
STUDY_STATE_UNSPECIFIED: StudyState
STUDY_STATE_ACTIVE: StudyState
STUDY_STATE_COMPLETED: StudyState
STUDY_STATE_BROKEN: StudyState
STUDY_STATE_DELETED: StudyState
TRIAL_STATE_UNSPECIFIED: TrialState
TRIAL_STATE_ACTIVE: TrialState
TRIAL_STATE_SUCCEEDED: TrialState
TRIAL_STATE_INFEASIBLE: TrialState
TRIAL_STATE_STOPPED: TrialState
TRIAL_STATE_SKIPPED: TrialState
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_STUDY_NOT_FOUND: ErrorReason
ERROR_REASON_TRIAL_NOT_FOUND: ErrorReason
ERROR_REASON_STUDY_EXISTS: ErrorReason
ERROR_REASON_TRIAL_ALREADY_COMPLETED: ErrorReason
ERROR_REASON_BUDGET_EXHAUSTED: ErrorReason
ERROR_REASON_SPACE_EXHAUSTED: ErrorReason
ERROR_REASON_STORAGE_FAILURE: ErrorReason
ERROR_REASON_TOO_MANY_PENDING_TRIALS: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_STUDY_BROKEN: ErrorReason
ERROR_REASON_TOO_MANY_WATCHERS: ErrorReason
ERROR_REASON_TRIAL_NOT_HELD: ErrorReason
ERROR_REASON_STALE_TRIAL: ErrorReason
ERROR_REASON_PERMISSION_DENIED: ErrorReason
ERROR_REASON_STUDY_DELETED: ErrorReason
STUDY_EVENT_TYPE_UNSPECIFIED: StudyEventType
STUDY_EVENT_TYPE_CURRENT_STATE: StudyEventType
STUDY_EVENT_TYPE_TRIAL_SUGGESTED: StudyEventType
STUDY_EVENT_TYPE_LEASE_EXPIRED: StudyEventType
STUDY_EVENT_TYPE_TRIAL_COMPLETED: StudyEventType
STUDY_EVENT_TYPE_NEW_BEST: StudyEventType
STUDY_EVENT_TYPE_STUDY_COMPLETED: StudyEventType
STUDY_EVENT_TYPE_TRIAL_PROGRESS: StudyEventType
STUDY_EVENT_TYPE_TRIAL_STOPPED: StudyEventType
STUDY_EVENT_TYPE_TRIAL_SKIPPED: StudyEventType

class SearchSpaceConfig(_message.Message):
    __slots__ = ("key", "input_size", "output_size", "block_num", "block_mask", "range_table")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INPUT_SIZE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SIZE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUM_FIELD_NUMBER: _ClassVar[int]
    BLOCK_MASK_FIELD_NUMBER: _ClassVar[int]
    RANGE_TABLE_FIELD_NUMBER: _ClassVar[int]
    key: str
    input_size: int
    output_size: int
    block_num: int
    block_mask: _containers.RepeatedScalarFieldContainer[int]
    range_table: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, key: _Optional[str] = ..., input_size: _Optional[int] = ..., output_size: _Optional[int] = ..., block_num: _Optional[int] = ..., block_mask: _Optional[_Iterable[int]] = ..., range_table: _Optional[_Iterable[int]] = ...) -> None: ...

class StudyConfig(_message.Message):
    __slots__ = ("search_spaces", "init_temperature", "reduce_rate", "init_tokens", "search_steps", "seed", "lease_duration", "constraints", "early_stopping", "policy")
    SEARCH_SPACES_FIELD_NUMBER: _ClassVar[int]
    INIT_TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    REDUCE_RATE_FIELD_NUMBER: _ClassVar[int]
    INIT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    search_spaces: _containers.RepeatedCompositeFieldContainer[SearchSpaceConfig]
    init_temperature: float
    reduce_rate: float
    init_tokens: _containers.RepeatedScalarFieldContainer[int]
    search_steps: int
    seed: int
    lease_duration: _duration_pb2.Duration
    constraints: Constraints
    early_stopping: EarlyStopping
    policy: ProposalPolicy
    def __init__(self, search_spaces: _Optional[_Iterable[_Union[SearchSpaceConfig, _Mapping]]] = ..., init_temperature: _Optional[float] = ..., reduce_rate: _Optional[float] = ..., init_tokens: _Optional[_Iterable[int]] = ..., search_steps: _Optional[int] = ..., seed: _Optional[int] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., constraints: _Optional[_Union[Constraints, _Mapping]] = ..., early_stopping: _Optional[_Union[EarlyStopping, _Mapping]] = ..., policy: _Optional[_Union[ProposalPolicy, str]] = ...) -> None: ...

class MedianStoppingRule(_message.Message):
    __slots__ = ("start_step", "min_trials")
    START_STEP_FIELD_NUMBER: _ClassVar[int]
    MIN_TRIALS_FIELD_NUMBER: _ClassVar[int]
    start_step: int
    min_trials: int
    def __init__(self, start_step: _Optional[int] = ..., min_trials: _Optional[int] = ...) -> None: ...

class SuccessiveHalvingRule(_message.Message):
    __slots__ = ("min_step", "reduction_factor", "min_trials")
    MIN_STEP_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MIN_TRIALS_FIELD_NUMBER: _ClassVar[int]
    min_step: int
    reduction_factor: int
    min_trials: int
    def __init__(self, min_step: _Optional[int] = ..., reduction_factor: _Optional[int] = ..., min_trials: _Optional[int] = ...) -> None: ...

class EarlyStopping(_message.Message):
    __slots__ = ("median", "successive_halving", "goal", "stopped_values_as_rewards")
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    SUCCESSIVE_HALVING_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    STOPPED_VALUES_AS_REWARDS_FIELD_NUMBER: _ClassVar[int]
    median: MedianStoppingRule
    successive_halving: SuccessiveHalvingRule
    goal: ObjectiveGoal
    stopped_values_as_rewards: bool
    def __init__(self, median: _Optional[_Union[MedianStoppingRule, _Mapping]] = ..., successive_halving: _Optional[_Union[SuccessiveHalvingRule, _Mapping]] = ..., goal: _Optional[_Union[ObjectiveGoal, str]] = ..., stopped_values_as_rewards: _Optional[bool] = ...) -> None: ...

class Constraints(_message.Message):
    __slots__ = ("input_size", "in_channels", "max_flops", "max_params")
    INPUT_SIZE_FIELD_NUMBER: _ClassVar[int]
    IN_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    MAX_FLOPS_FIELD_NUMBER: _ClassVar[int]
    MAX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    input_size: int
    in_channels: int
    max_flops: int
    max_params: int
    def __init__(self, input_size: _Optional[int] = ..., in_channels: _Optional[int] = ..., max_flops: _Optional[int] = ..., max_params: _Optional[int] = ...) -> None: ...

class ArchitectureBlock(_message.Message):
    __slots__ = ("kind", "out_channels", "kernel", "stride", "expansion", "repeats", "activation", "mid_channels", "inner_channels", "branch_channels", "pool", "groups", "first_shortcut", "tail_repeats")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    STRIDE_FIELD_NUMBER: _ClassVar[int]
    EXPANSION_FIELD_NUMBER: _ClassVar[int]
    REPEATS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    MID_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    INNER_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    BRANCH_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SHORTCUT_FIELD_NUMBER: _ClassVar[int]
    TAIL_REPEATS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    out_channels: int
    kernel: int
    stride: int
    expansion: int
    repeats: int
    activation: str
    mid_channels: int
    inner_channels: int
    branch_channels: _containers.RepeatedScalarFieldContainer[int]
    pool: str
    groups: int
    first_shortcut: bool
    tail_repeats: int
    def __init__(self, kind: _Optional[str] = ..., out_channels: _Optional[int] = ..., kernel: _Optional[int] = ..., stride: _Optional[int] = ..., expansion: _Optional[int] = ..., repeats: _Optional[int] = ..., activation: _Optional[str] = ..., mid_channels: _Optional[int] = ..., inner_channels: _Optional[int] = ..., branch_channels: _Optional[_Iterable[int]] = ..., pool: _Optional[str] = ..., groups: _Optional[int] = ..., first_shortcut: _Optional[bool] = ..., tail_repeats: _Optional[int] = ...) -> None: ...

class Architecture(_message.Message):
    __slots__ = ("space", "in_channels", "blocks")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    IN_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    space: str
    in_channels: int
    blocks: _containers.RepeatedCompositeFieldContainer[ArchitectureBlock]
    def __init__(self, space: _Optional[str] = ..., in_channels: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[ArchitectureBlock, _Mapping]]] = ...) -> None: ...

class TrialCounts(_message.Message):
    __slots__ = ("active", "succeeded", "infeasible", "stopped", "skipped")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    active: int
    succeeded: int
    infeasible: int
    stopped: int
    skipped: int
    def __init__(self, active: _Optional[int] = ..., succeeded: _Optional[int] = ..., infeasible: _Optional[int] = ..., stopped: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("study_id", "config", "state", "range_table", "best_tokens", "best_reward", "current_tokens", "current_reward", "temperature", "trial_counts", "budget_remaining", "create_time", "lease_expirations", "accepted_moves", "rejected_moves", "rejected_proposals", "broken_reason", "steps_saved", "uid", "delete_time", "expire_time", "model_fit")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RANGE_TABLE_FIELD_NUMBER: _ClassVar[int]
    BEST_TOKENS_FIELD_NUMBER: _ClassVar[int]
    BEST_REWARD_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REWARD_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_COUNTS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_REMAINING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRATIONS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_MOVES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_MOVES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    BROKEN_REASON_FIELD_NUMBER: _ClassVar[int]
    STEPS_SAVED_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIT_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    config: StudyConfig
    state: StudyState
    range_table: _containers.RepeatedScalarFieldContainer[int]
    best_tokens: _containers.RepeatedScalarFieldContainer[int]
    best_reward: float
    current_tokens: _containers.RepeatedScalarFieldContainer[int]
    current_reward: float
    temperature: float
    trial_counts: TrialCounts
    budget_remaining: int
    create_time: _timestamp_pb2.Timestamp
    lease_expirations: int
    accepted_moves: int
    rejected_moves: int
    rejected_proposals: int
    broken_reason: str
    steps_saved: int
    uid: str
    delete_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    model_fit: ModelFit
    def __init__(self, study_id: _Optional[str] = ..., config: _Optional[_Union[StudyConfig, _Mapping]] = ..., state: _Optional[_Union[StudyState, str]] = ..., range_table: _Optional[_Iterable[int]] = ..., best_tokens: _Optional[_Iterable[int]] = ..., best_reward: _Optional[float] = ..., current_tokens: _Optional[_Iterable[int]] = ..., current_reward: _Optional[float] = ..., temperature: _Optional[float] = ..., trial_counts: _Optional[_Union[TrialCounts, _Mapping]] = ..., budget_remaining: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_expirations: _Optional[int] = ..., accepted_moves: _Optional[int] = ..., rejected_moves: _Optional[int] = ..., rejected_proposals: _Optional[int] = ..., broken_reason: _Optional[str] = ..., steps_saved: _Optional[int] = ..., uid: _Optional[str] = ..., delete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model_fit: _Optional[_Union[ModelFit, _Mapping]] = ...) -> None: ...

class ModelFit(_message.Message):
    __slots__ = ("rank_correlation", "trials")
    RANK_CORRELATION_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    rank_correlation: float
    trials: int
    def __init__(self, rank_correlation: _Optional[float] = ..., trials: _Optional[int] = ...) -> None: ...

class Measurement(_message.Message):
    __slots__ = ("step", "value", "time")
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    step: int
    value: float
    time: _timestamp_pb2.Timestamp
    def __init__(self, step: _Optional[int] = ..., value: _Optional[float] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("study_id", "trial_id", "tokens", "temperature", "client_id", "state", "reward", "infeasible", "accepted", "create_time", "complete_time", "lease_expire_time", "issue_count", "measurements", "stop_reason", "max_step", "study_uid", "fingerprint", "stopped_value_is_reward")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ISSUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENTS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    STUDY_UID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_VALUE_IS_REWARD_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    trial_id: int
    tokens: _containers.RepeatedScalarFieldContainer[int]
    temperature: float
    client_id: str
    state: TrialState
    reward: float
    infeasible: bool
    accepted: bool
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    lease_expire_time: _timestamp_pb2.Timestamp
    issue_count: int
    measurements: _containers.RepeatedCompositeFieldContainer[Measurement]
    stop_reason: str
    max_step: int
    study_uid: str
    fingerprint: str
    stopped_value_is_reward: bool
    def __init__(self, study_id: _Optional[str] = ..., trial_id: _Optional[int] = ..., tokens: _Optional[_Iterable[int]] = ..., temperature: _Optional[float] = ..., client_id: _Optional[str] = ..., state: _Optional[_Union[TrialState, str]] = ..., reward: _Optional[float] = ..., infeasible: _Optional[bool] = ..., accepted: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issue_count: _Optional[int] = ..., measurements: _Optional[_Iterable[_Union[Measurement, _Mapping]]] = ..., stop_reason: _Optional[str] = ..., max_step: _Optional[int] = ..., study_uid: _Optional[str] = ..., fingerprint: _Optional[str] = ..., stopped_value_is_reward: _Optional[bool] = ...) -> None: ...

class CreateStudyRequest(_message.Message):
    __slots__ = ("study_id", "config")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    config: StudyConfig
    def __init__(self, study_id: _Optional[str] = ..., config: _Optional[_Union[StudyConfig, _Mapping]] = ...) -> None: ...

class CreateStudyResponse(_message.Message):
    __slots__ = ("study", "created")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    study: Study
    created: bool
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetStudyRequest(_message.Message):
    __slots__ = ("study_id",)
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    def __init__(self, study_id: _Optional[str] = ...) -> None: ...

class GetStudyResponse(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: Study
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ...) -> None: ...

class ListStudiesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "show_deleted")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHOW_DELETED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    show_deleted: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., show_deleted: _Optional[bool] = ...) -> None: ...

class ListStudiesResponse(_message.Message):
    __slots__ = ("studies", "next_page_token")
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[Study]
    next_page_token: str
    def __init__(self, studies: _Optional[_Iterable[_Union[Study, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteStudyRequest(_message.Message):
    __slots__ = ("study_id", "purge")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    PURGE_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    purge: bool
    def __init__(self, study_id: _Optional[str] = ..., purge: _Optional[bool] = ...) -> None: ...

class DeleteStudyResponse(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: Study
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ...) -> None: ...

class UndeleteStudyRequest(_message.Message):
    __slots__ = ("study_id",)
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    def __init__(self, study_id: _Optional[str] = ...) -> None: ...

class UndeleteStudyResponse(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: Study
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ...) -> None: ...

class SuggestTrialRequest(_message.Message):
    __slots__ = ("study_id", "client_id", "request_id", "include_architecture")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    client_id: str
    request_id: str
    include_architecture: bool
    def __init__(self, study_id: _Optional[str] = ..., client_id: _Optional[str] = ..., request_id: _Optional[str] = ..., include_architecture: _Optional[bool] = ...) -> None: ...

class SuggestTrialResponse(_message.Message):
    __slots__ = ("trial", "architectures", "flops", "params")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURES_FIELD_NUMBER: _ClassVar[int]
    FLOPS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    architectures: _containers.RepeatedCompositeFieldContainer[Architecture]
    flops: int
    params: int
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ..., architectures: _Optional[_Iterable[_Union[Architecture, _Mapping]]] = ..., flops: _Optional[int] = ..., params: _Optional[int] = ...) -> None: ...

class CompleteTrialRequest(_message.Message):
    __slots__ = ("study_id", "trial_id", "reward", "infeasible", "suggest_next", "client_id", "request_id", "study_uid", "trial_fingerprint")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_FIELD_NUMBER: _ClassVar[int]
    SUGGEST_NEXT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_UID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    trial_id: int
    reward: float
    infeasible: bool
    suggest_next: bool
    client_id: str
    request_id: str
    study_uid: str
    trial_fingerprint: str
    def __init__(self, study_id: _Optional[str] = ..., trial_id: _Optional[int] = ..., reward: _Optional[float] = ..., infeasible: _Optional[bool] = ..., suggest_next: _Optional[bool] = ..., client_id: _Optional[str] = ..., request_id: _Optional[str] = ..., study_uid: _Optional[str] = ..., trial_fingerprint: _Optional[str] = ...) -> None: ...

class CompleteTrialResponse(_message.Message):
    __slots__ = ("trial", "next_trial", "budget_remaining")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_TRIAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_REMAINING_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    next_trial: Trial
    budget_remaining: int
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ..., next_trial: _Optional[_Union[Trial, _Mapping]] = ..., budget_remaining: _Optional[int] = ...) -> None: ...

class HeartbeatTrialRequest(_message.Message):
    __slots__ = ("study_id", "trial_id", "client_id", "study_uid", "trial_fingerprint")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_UID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    trial_id: int
    client_id: str
    study_uid: str
    trial_fingerprint: str
    def __init__(self, study_id: _Optional[str] = ..., trial_id: _Optional[int] = ..., client_id: _Optional[str] = ..., study_uid: _Optional[str] = ..., trial_fingerprint: _Optional[str] = ...) -> None: ...

class HeartbeatTrialResponse(_message.Message):
    __slots__ = ("trial",)
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ...) -> None: ...

class ListTrialsRequest(_message.Message):
    __slots__ = ("study_id", "page_size", "page_token", "state")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    page_size: int
    page_token: str
    state: TrialState
    def __init__(self, study_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[TrialState, str]] = ...) -> None: ...

class ListTrialsResponse(_message.Message):
    __slots__ = ("trials", "next_page_token", "total_size")
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    next_page_token: str
    total_size: int
    def __init__(self, trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class WatchStudyRequest(_message.Message):
    __slots__ = ("study_id",)
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    def __init__(self, study_id: _Optional[str] = ...) -> None: ...

class WatchStudyResponse(_message.Message):
    __slots__ = ("type", "trial", "study", "event_time", "measurement")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    STUDY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENT_FIELD_NUMBER: _ClassVar[int]
    type: StudyEventType
    trial: Trial
    study: Study
    event_time: _timestamp_pb2.Timestamp
    measurement: Measurement
    def __init__(self, type: _Optional[_Union[StudyEventType, str]] = ..., trial: _Optional[_Union[Trial, _Mapping]] = ..., study: _Optional[_Union[Study, _Mapping]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., measurement: _Optional[_Union[Measurement, _Mapping]] = ...) -> None: ...

class ImportPaddleSlimCheckpointRequest(_message.Message):
    __slots__ = ("study_id", "config", "checkpoint_json")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_JSON_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    config: StudyConfig
    checkpoint_json: str
    def __init__(self, study_id: _Optional[str] = ..., config: _Optional[_Union[StudyConfig, _Mapping]] = ..., checkpoint_json: _Optional[str] = ...) -> None: ...

class ImportPaddleSlimCheckpointResponse(_message.Message):
    __slots__ = ("study", "imported_trials")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_TRIALS_FIELD_NUMBER: _ClassVar[int]
    study: Study
    imported_trials: int
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ..., imported_trials: _Optional[int] = ...) -> None: ...

class BackupStudyRequest(_message.Message):
    __slots__ = ("study_id",)
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    def __init__(self, study_id: _Optional[str] = ...) -> None: ...

class BackupStudyResponse(_message.Message):
    __slots__ = ("header", "snapshot_chunk", "trial_count")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    snapshot_chunk: bytes
    trial_count: int
    def __init__(self, header: _Optional[bytes] = ..., snapshot_chunk: _Optional[bytes] = ..., trial_count: _Optional[int] = ...) -> None: ...

class RestoreStudyRequest(_message.Message):
    __slots__ = ("study_id", "header", "snapshot_chunk")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    header: bytes
    snapshot_chunk: bytes
    def __init__(self, study_id: _Optional[str] = ..., header: _Optional[bytes] = ..., snapshot_chunk: _Optional[bytes] = ...) -> None: ...

class RestoreStudyResponse(_message.Message):
    __slots__ = ("study", "restored_trials")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    RESTORED_TRIALS_FIELD_NUMBER: _ClassVar[int]
    study: Study
    restored_trials: int
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ..., restored_trials: _Optional[int] = ...) -> None: ...

class ReportTrialProgressRequest(_message.Message):
    __slots__ = ("study_id", "trial_id", "step", "value", "max_step", "client_id", "early_stopping", "study_uid", "trial_fingerprint")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_FIELD_NUMBER: _ClassVar[int]
    STUDY_UID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    trial_id: int
    step: int
    value: float
    max_step: int
    client_id: str
    early_stopping: EarlyStopping
    study_uid: str
    trial_fingerprint: str
    def __init__(self, study_id: _Optional[str] = ..., trial_id: _Optional[int] = ..., step: _Optional[int] = ..., value: _Optional[float] = ..., max_step: _Optional[int] = ..., client_id: _Optional[str] = ..., early_stopping: _Optional[_Union[EarlyStopping, _Mapping]] = ..., study_uid: _Optional[str] = ..., trial_fingerprint: _Optional[str] = ...) -> None: ...

class ReportTrialProgressResponse(_message.Message):
    __slots__ = ("trial", "should_stop")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    SHOULD_STOP_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    should_stop: bool
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ..., should_stop: _Optional[bool] = ...) -> None: ...

class SkipTrialRequest(_message.Message):
    __slots__ = ("study_id", "trial_id", "client_id", "reason", "study_uid", "trial_fingerprint")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STUDY_UID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    trial_id: int
    client_id: str
    reason: str
    study_uid: str
    trial_fingerprint: str
    def __init__(self, study_id: _Optional[str] = ..., trial_id: _Optional[int] = ..., client_id: _Optional[str] = ..., reason: _Optional[str] = ..., study_uid: _Optional[str] = ..., trial_fingerprint: _Optional[str] = ...) -> None: ...

class SkipTrialResponse(_message.Message):
    __slots__ = ("trial", "budget_remaining")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_REMAINING_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    budget_remaining: int
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ..., budget_remaining: _Optional[int] = ...) -> None: ...
