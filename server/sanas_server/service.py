"""The gRPC servicer: translates sanas.v1 messages to controller calls and controller
errors to status codes. No search logic lives here."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sanas.convert import (
    policy_name_of_pb,
    policy_pb_of_name,
    space_config_from_pb,
    space_config_to_pb,
)
from sanas.spaces import Architecture, SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc

from . import errors
from .binding import Binding
from .controller import Backup, BrokenStudy, Controller
from .credentials import ADMIN, CURRENT_PRINCIPAL
from .paddleslim_import import parse_checkpoint
from .spec import MAX_INT32, Constraints, StudyRequest, StudySpec
from .stopping import EarlyStopping, rule_from_pb, rule_to_pb
from .study import StudySummary
from .trials import TrialRecord, TrialState
from .watch import WatchEvent, WatchKind

log = logging.getLogger(__name__)
ERROR_DOMAIN = "sanas.v1"
CLIENT_ID_METADATA = "sanas-client-id"

STATUS_OF: dict[type[errors.ControllerError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.StudyNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TrialNotFound: grpc.StatusCode.NOT_FOUND,
    errors.StudyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.TrialAlreadyCompleted: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TrialNotHeld: grpc.StatusCode.FAILED_PRECONDITION,
    # The system is not in the state the call assumes (AIP-193): the trial it is for is
    # gone; retrying cannot help, a new trial can.
    errors.StaleTrial: grpc.StatusCode.FAILED_PRECONDITION,
    errors.BudgetExhausted: grpc.StatusCode.FAILED_PRECONDITION,
    errors.SearchSpaceExhausted: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TooManyPendingTrials: grpc.StatusCode.RESOURCE_EXHAUSTED,
    # The study exists but cannot be served until its folder is repaired or deleted.
    errors.StudyBroken: grpc.StatusCode.FAILED_PRECONDITION,
    # The study exists, soft-deleted: trial calls wait for an admin's undelete (AIP-193:
    # the system is not in the state the call needs; retrying cannot help by itself).
    errors.StudyDeleted: grpc.StatusCode.FAILED_PRECONDITION,
    errors.TooManyWatchers: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    # Retryable: a trainer waits out a full disk instead of losing its result.
    errors.StorageFailure: grpc.StatusCode.UNAVAILABLE,
}

STATE_TO_PB = {
    TrialState.ACTIVE: pb.TRIAL_STATE_ACTIVE,
    TrialState.SUCCEEDED: pb.TRIAL_STATE_SUCCEEDED,
    TrialState.INFEASIBLE: pb.TRIAL_STATE_INFEASIBLE,
    TrialState.STOPPED: pb.TRIAL_STATE_STOPPED,
    TrialState.SKIPPED: pb.TRIAL_STATE_SKIPPED,
}
STATE_FROM_PB = {v: k for k, v in STATE_TO_PB.items()}

EVENT_TO_PB = {
    WatchKind.CURRENT_STATE: pb.STUDY_EVENT_TYPE_CURRENT_STATE,
    WatchKind.TRIAL_SUGGESTED: pb.STUDY_EVENT_TYPE_TRIAL_SUGGESTED,
    WatchKind.LEASE_EXPIRED: pb.STUDY_EVENT_TYPE_LEASE_EXPIRED,
    WatchKind.TRIAL_COMPLETED: pb.STUDY_EVENT_TYPE_TRIAL_COMPLETED,
    WatchKind.NEW_BEST: pb.STUDY_EVENT_TYPE_NEW_BEST,
    WatchKind.STUDY_COMPLETED: pb.STUDY_EVENT_TYPE_STUDY_COMPLETED,
    WatchKind.TRIAL_PROGRESS: pb.STUDY_EVENT_TYPE_TRIAL_PROGRESS,
    WatchKind.TRIAL_STOPPED: pb.STUDY_EVENT_TYPE_TRIAL_STOPPED,
    WatchKind.TRIAL_SKIPPED: pb.STUDY_EVENT_TYPE_TRIAL_SKIPPED,
}
# How a watch stream ends when it does not end with the study's completion.
WATCH_ENDINGS = {
    WatchKind.DELETED: (grpc.StatusCode.NOT_FOUND, "the study was deleted"),
    WatchKind.OVERFLOW: (
        grpc.StatusCode.ABORTED,
        "this watcher fell 10000 events behind and was dropped; watch again",
    ),
    WatchKind.SHUTDOWN: (grpc.StatusCode.UNAVAILABLE, "the controller is shutting down"),
}

R = TypeVar("R")
# BackupStudy's snapshot pieces: well under the 4 MiB a gRPC message may have by default.
BACKUP_CHUNK_BYTES = 1 << 20
# The largest snapshot RestoreStudy takes (spooled to a temporary file, then read a row
# at a time): a bound on what one call may make the server write and parse.
MAX_RESTORE_BYTES = 4 << 30


def abort_with(context: grpc.ServicerContext, exc: errors.ControllerError) -> None:
    code = STATUS_OF[type(exc)]
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN))
    status = status_pb2.Status(code=code.value[0], message=str(exc), details=[detail])
    context.abort_with_status(rpc_status.to_status(status))


def translated(method: Callable[..., R]) -> Callable[..., R]:
    """Map controller errors to their status code, in this one place."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        try:
            return method(self, request, context)
        except errors.ControllerError as exc:
            abort_with(context, exc)
            raise  # abort_with raises; this line is never reached

    return wrapper


# -- converters ----------------------------------------------------------------------------
def request_from_pb(config: pb.StudyConfig) -> StudyRequest:
    return StudyRequest(
        search_spaces=tuple(space_config_from_pb(c) for c in config.search_spaces),
        init_temperature=config.init_temperature if config.HasField("init_temperature") else None,
        reduce_rate=config.reduce_rate if config.HasField("reduce_rate") else None,
        init_tokens=tuple(config.init_tokens),
        search_steps=config.search_steps,
        seed=config.seed if config.HasField("seed") else None,
        lease_seconds=(
            config.lease_duration.ToNanoseconds() / 1e9
            if config.HasField("lease_duration")
            else None
        ),
        constraints=Constraints(
            input_size=config.constraints.input_size,
            in_channels=config.constraints.in_channels,
            max_flops=config.constraints.max_flops,
            max_params=config.constraints.max_params,
        ),
        early_stopping=early_stopping_from_pb(config.early_stopping),
        policy=policy_from_pb(config.policy),
    )


def policy_from_pb(value: int) -> str | None:
    try:
        return policy_name_of_pb(value)
    except ValueError as exc:
        raise errors.InvalidArgument(str(exc)) from exc


def early_stopping_from_pb(config: pb.EarlyStopping) -> EarlyStopping:
    rule = rule_from_pb(config)  # the oneof branch's class maps its own message
    if config.goal not in (
        pb.OBJECTIVE_GOAL_UNSPECIFIED,
        pb.OBJECTIVE_GOAL_MAXIMIZE,
        pb.OBJECTIVE_GOAL_MINIMIZE,
    ):
        raise errors.InvalidArgument(
            f"early_stopping.goal = {config.goal} is not an ObjectiveGoal value"
        )
    return EarlyStopping(
        rule, config.goal == pb.OBJECTIVE_GOAL_MINIMIZE, config.stopped_values_as_rewards
    )


def early_stopping_to_pb(config: EarlyStopping) -> pb.EarlyStopping:
    out = pb.EarlyStopping(
        goal=pb.OBJECTIVE_GOAL_MINIMIZE if config.minimize else pb.OBJECTIVE_GOAL_MAXIMIZE,
        stopped_values_as_rewards=config.stopped_values_as_rewards,
    )
    rule_to_pb(config.rule, out)
    return out


def spec_to_pb(spec: StudySpec) -> pb.StudyConfig:
    return pb.StudyConfig(
        search_spaces=[space_config_to_pb(c) for c in spec.search_spaces],
        init_temperature=spec.init_temperature,
        reduce_rate=spec.reduce_rate,
        init_tokens=spec.init_tokens,
        search_steps=spec.search_steps,
        seed=spec.seed,
        lease_duration=duration_pb2.Duration(
            seconds=int(spec.lease_seconds),
            nanos=round((spec.lease_seconds % 1) * 1e9),
        ),
        constraints=pb.Constraints(
            input_size=spec.constraints.input_size,
            in_channels=spec.constraints.in_channels,
            max_flops=spec.constraints.max_flops,
            max_params=spec.constraints.max_params,
        ),
        early_stopping=early_stopping_to_pb(spec.early_stopping),
        policy=policy_pb_of_name(spec.policy),  # type: ignore[arg-type]
    )


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def study_to_pb(s: StudySummary | BrokenStudy) -> pb.Study:
    if isinstance(s, BrokenStudy):
        return pb.Study(study_id=s.study_id, state=pb.STUDY_STATE_BROKEN, broken_reason=s.reason)
    if s.delete_time is not None:
        state = pb.STUDY_STATE_DELETED
    else:
        state = pb.STUDY_STATE_COMPLETED if s.completed else pb.STUDY_STATE_ACTIVE
    study = pb.Study(
        study_id=s.study_id,
        config=spec_to_pb(s.spec),
        state=state,
        range_table=s.spec.range_table,
        best_tokens=s.best_tokens or (),
        current_tokens=s.current_tokens,
        temperature=s.temperature,
        trial_counts=pb.TrialCounts(
            active=s.counts[TrialState.ACTIVE],
            succeeded=s.counts[TrialState.SUCCEEDED],
            infeasible=s.counts[TrialState.INFEASIBLE],
            stopped=s.counts[TrialState.STOPPED],
            skipped=s.counts[TrialState.SKIPPED],
        ),
        budget_remaining=s.budget_remaining,
        create_time=timestamp(s.create_time),
        lease_expirations=s.lease_expirations,
        accepted_moves=s.accepted_moves,
        rejected_moves=s.rejected_moves,
        rejected_proposals=s.rejected_proposals,
        steps_saved=s.steps_saved,
        uid=s.uid,
    )
    if s.best_reward is not None:
        study.best_reward = s.best_reward
    if s.current_reward is not None:
        study.current_reward = s.current_reward
    if s.delete_time is not None:
        study.delete_time.CopyFrom(timestamp(s.delete_time))
    if s.expire_time is not None:
        study.expire_time.CopyFrom(timestamp(s.expire_time))
    if s.model_fit is not None:
        study.model_fit.CopyFrom(
            pb.ModelFit(rank_correlation=s.model_fit.rank_correlation, trials=s.model_fit.trials)
        )
    return study


def render_study(s: StudySummary | BrokenStudy) -> pb.Study:
    """study_to_pb that never fails: a study that cannot be rendered is logged and
    answered as broken, with the reason, so no call answers UNKNOWN for it and no listing
    leaves it out."""
    try:
        return study_to_pb(s)
    except (ValueError, TypeError, ArithmeticError) as exc:
        log.exception("study %r cannot be rendered; answered as broken", s.study_id)
        reason = f"cannot be rendered: {exc!r}"
        return study_to_pb(BrokenStudy(s.study_id, (), reason))


def rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The same bytes in pieces of `size` (the last one shorter)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def backup_stream(
    backup: Backup, context: grpc.ServicerContext
) -> Iterator[pb.BackupStudyResponse]:
    """BackupStudy's messages: the header (and trial count), then the snapshot's bytes."""
    header = json.dumps(backup.header, indent=1).encode()
    yield pb.BackupStudyResponse(header=header, trial_count=backup.trial_count)
    for piece in rechunk(backup.snapshot, BACKUP_CHUNK_BYTES):
        if not context.is_active():
            return  # the client went away: stop serializing
        yield pb.BackupStudyResponse(snapshot_chunk=piece)


def requester(request_metadata: Any, peer: str) -> str:
    """Who made a call, for the log: the client id the Python client sends as metadata
    (`sanas-client-id`), else the user agent, and the peer address."""
    metadata = dict(request_metadata or ())
    who = metadata.get(CLIENT_ID_METADATA) or metadata.get("user-agent") or "unknown client"
    return f"{str(who)[:128]!r} from {peer}"


def measurement_to_pb(point: tuple[int, float, float]) -> pb.Measurement:
    step, value, time = point
    return pb.Measurement(step=step, value=value, time=timestamp(time))


def trial_to_pb(study_id: str, t: TrialRecord, measurements: bool = True) -> pb.Trial:
    trial = pb.Trial(
        study_id=study_id,
        trial_id=t.trial_id,
        tokens=t.tokens,
        temperature=t.temperature,
        client_id=t.client_id,
        state=STATE_TO_PB[t.state],
        reward=t.reward,
        infeasible=t.infeasible,
        accepted=t.accepted,
        create_time=timestamp(t.create_time),
    )
    if t.complete_time is not None:
        trial.complete_time.CopyFrom(timestamp(t.complete_time))
    else:
        trial.lease_expire_time.CopyFrom(timestamp(t.lease_expire))
    # int32 on the wire: a lease of a nanosecond could re-issue a trial 2^31 times.
    trial.issue_count = min(t.issues, MAX_INT32)
    if measurements:
        trial.measurements.extend(measurement_to_pb(m) for m in t.measurements)
    trial.stop_reason, trial.max_step = t.stop_reason, t.max_step
    trial.study_uid, trial.fingerprint = t.study_uid, t.fingerprint
    trial.stopped_value_is_reward = t.state is TrialState.STOPPED and t.stopped_as_reward
    return trial


def architecture_to_pb(arch: Architecture) -> pb.Architecture:
    return pb.Architecture(
        space=arch.space,
        in_channels=arch.in_channels,
        blocks=[
            pb.ArchitectureBlock(
                kind=b.kind,
                out_channels=b.out_channels,
                kernel=b.kernel,
                stride=b.stride,
                expansion=b.expansion,
                repeats=b.repeats,
                activation=b.act or "",
                mid_channels=b.mid_channels,
                inner_channels=b.inner_channels,
                branch_channels=b.branches,
                pool=b.pool,
                groups=b.groups,
                first_shortcut=b.first_shortcut,
                tail_repeats=b.tail_repeats,
            )
            for b in arch.blocks
        ],
    )


def watch_event_to_pb(study_id: str, event: WatchEvent) -> pb.WatchStudyResponse:
    response = pb.WatchStudyResponse(type=EVENT_TO_PB[event.kind], event_time=timestamp(event.time))
    if event.trial is not None:
        # A progress event carries only its new measurement: a curve of n reports
        # streams n points, not n^2 / 2.
        full = event.kind is not WatchKind.TRIAL_PROGRESS
        response.trial.CopyFrom(trial_to_pb(study_id, event.trial, measurements=full))
    if event.measurement is not None:
        response.measurement.CopyFrom(measurement_to_pb(event.measurement))
    if event.study is not None:
        response.study.CopyFrom(render_study(event.study))
    return response


class ControllerServicer(sanas_pb2_grpc.ControllerServiceServicer):
    """sanas.v1.ControllerService over a Controller.

    `allow_unbound_trial_calls`: accept trial-scoped calls that name no study_uid and
    trial_fingerprint (clients older than the binding) as before, unchecked; by default
    they are refused with INVALID_ARGUMENT, since nothing then tells a stale trainer's
    result from a current one."""

    def __init__(self, controller: Controller, allow_unbound_trial_calls: bool = False) -> None:
        self._controller = controller
        self._require_binding = not allow_unbound_trial_calls

    def _binding(self, request: Any, call: str) -> Binding:
        return Binding(request.study_uid, request.trial_fingerprint, self._require_binding, call)

    @translated
    def CreateStudy(
        self, request: pb.CreateStudyRequest, context: grpc.ServicerContext
    ) -> pb.CreateStudyResponse:
        principal = CURRENT_PRINCIPAL.get()
        if principal is not None and principal.role != ADMIN:
            # A trainer joins the study it was told to (as every SANAS trainer does at
            # start) but never creates one, nor one with another config.
            joined = self._controller.join_study(request.study_id, request_from_pb(request.config))
            if joined is None:
                raise errors.PermissionDenied(
                    f"CreateStudy of study {request.study_id!r} needs an admin token: this "
                    f"token ({principal.label}) has the role {principal.role!r}, which may "
                    "only join a study that exists with the same config; nothing was changed"
                )
            return pb.CreateStudyResponse(study=render_study(joined), created=False)
        summary, created = self._controller.create_study(
            request.study_id, request_from_pb(request.config)
        )
        return pb.CreateStudyResponse(study=render_study(summary), created=created)

    @translated
    def GetStudy(
        self, request: pb.GetStudyRequest, context: grpc.ServicerContext
    ) -> pb.GetStudyResponse:
        return pb.GetStudyResponse(study=render_study(self._controller.get_study(request.study_id)))

    @translated
    def ListStudies(
        self, request: pb.ListStudiesRequest, context: grpc.ServicerContext
    ) -> pb.ListStudiesResponse:
        studies, token = self._controller.list_studies(
            request.page_size, request.page_token, request.show_deleted
        )
        # One study that cannot be rendered is listed as broken, never left out.
        return pb.ListStudiesResponse(
            studies=[render_study(s) for s in studies], next_page_token=token
        )

    @translated
    def DeleteStudy(
        self, request: pb.DeleteStudyRequest, context: grpc.ServicerContext
    ) -> pb.DeleteStudyResponse:
        deleted = self._controller.delete_study(
            request.study_id,
            requester(context.invocation_metadata(), context.peer()),
            purge=request.purge,
        )
        if deleted is None:  # purged
            return pb.DeleteStudyResponse()
        return pb.DeleteStudyResponse(study=render_study(deleted))

    @translated
    def UndeleteStudy(
        self, request: pb.UndeleteStudyRequest, context: grpc.ServicerContext
    ) -> pb.UndeleteStudyResponse:
        restored = self._controller.undelete_study(
            request.study_id, requester(context.invocation_metadata(), context.peer())
        )
        return pb.UndeleteStudyResponse(study=render_study(restored))

    @translated
    def SuggestTrial(
        self, request: pb.SuggestTrialRequest, context: grpc.ServicerContext
    ) -> pb.SuggestTrialResponse:
        trial = self._controller.suggest_trial(
            request.study_id, request.client_id, request.request_id
        )
        response = pb.SuggestTrialResponse(trial=trial_to_pb(request.study_id, trial))
        if request.include_architecture:
            described = self._controller.describe(request.study_id, trial.tokens)
            if described is not None:
                archs, cost = described
                response.architectures.extend(architecture_to_pb(a) for a in archs)
                response.flops, response.params = cost.flops, cost.params
        return response

    @translated
    def CompleteTrial(
        self, request: pb.CompleteTrialRequest, context: grpc.ServicerContext
    ) -> pb.CompleteTrialResponse:
        done = self._controller.complete_trial(
            request.study_id,
            request.trial_id,
            request.reward,
            request.infeasible,
            request.suggest_next,
            request.client_id,
            request.request_id,
            self._binding(request, "CompleteTrial"),
        )
        response = pb.CompleteTrialResponse(
            trial=trial_to_pb(request.study_id, done.trial),
            budget_remaining=done.budget_remaining,
        )
        if done.next_trial is not None:
            response.next_trial.CopyFrom(trial_to_pb(request.study_id, done.next_trial))
        return response

    @translated
    def HeartbeatTrial(
        self, request: pb.HeartbeatTrialRequest, context: grpc.ServicerContext
    ) -> pb.HeartbeatTrialResponse:
        trial = self._controller.heartbeat_trial(
            request.study_id, request.trial_id, self._binding(request, "HeartbeatTrial")
        )
        return pb.HeartbeatTrialResponse(trial=trial_to_pb(request.study_id, trial))

    @translated
    def SkipTrial(
        self, request: pb.SkipTrialRequest, context: grpc.ServicerContext
    ) -> pb.SkipTrialResponse:
        trial, budget = self._controller.skip_trial(
            request.study_id,
            request.trial_id,
            request.client_id,
            request.reason,
            self._binding(request, "SkipTrial"),
        )
        return pb.SkipTrialResponse(
            trial=trial_to_pb(request.study_id, trial), budget_remaining=budget
        )

    @translated
    def ReportTrialProgress(
        self, request: pb.ReportTrialProgressRequest, context: grpc.ServicerContext
    ) -> pb.ReportTrialProgressResponse:
        rule = None
        if request.HasField("early_stopping"):
            rule = early_stopping_from_pb(request.early_stopping)
        trial, stop = self._controller.report_progress(
            request.study_id,
            request.trial_id,
            request.step,
            request.value,
            request.max_step,
            request.client_id,
            rule,
            self._binding(request, "ReportTrialProgress"),
        )
        # Without its curve: an answer is O(1) whatever the curve's length (it was 214 kB
        # at 10,000 points); ListTrials has the measurements.
        return pb.ReportTrialProgressResponse(
            trial=trial_to_pb(request.study_id, trial, measurements=False), should_stop=stop
        )

    def WatchStudy(
        self, request: pb.WatchStudyRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchStudyResponse]:
        try:
            subscription = self._controller.watch(request.study_id)
        except errors.ControllerError as exc:
            abort_with(context, exc)
        try:
            while context.is_active():
                event = subscription.get(timeout=0.5)
                if event is None:
                    continue
                if event.kind in WATCH_ENDINGS:
                    code, message = WATCH_ENDINGS[event.kind]
                    context.abort(code, f"watch of {request.study_id!r} ended: {message}")
                yield watch_event_to_pb(request.study_id, event)
                if event.kind is WatchKind.STUDY_COMPLETED:
                    return
        finally:
            self._controller.unwatch(request.study_id, subscription)

    @translated
    def ListTrials(
        self, request: pb.ListTrialsRequest, context: grpc.ServicerContext
    ) -> pb.ListTrialsResponse:
        if request.state != pb.TRIAL_STATE_UNSPECIFIED and request.state not in STATE_FROM_PB:
            raise errors.InvalidArgument(f"state = {request.state} is not a TrialState value")
        trials, token, total = self._controller.list_trials(
            request.study_id,
            request.page_size,
            request.page_token,
            STATE_FROM_PB.get(request.state),
        )
        return pb.ListTrialsResponse(
            trials=[trial_to_pb(request.study_id, t) for t in trials],
            next_page_token=token,
            total_size=total,
        )

    @translated
    def BackupStudy(
        self, request: pb.BackupStudyRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.BackupStudyResponse]:
        # Captured (and durable) before the stream starts, so its errors are the call's.
        return backup_stream(self._controller.backup_study(request.study_id), context)

    @translated
    def RestoreStudy(
        self, request_iterator: Iterator[pb.RestoreStudyRequest], context: grpc.ServicerContext
    ) -> pb.RestoreStudyResponse:
        study_id, header, size = "", b"", 0
        with tempfile.NamedTemporaryFile(prefix="sanas-restore-", suffix=".json") as spool:
            for index, message in enumerate(request_iterator):
                if index == 0:
                    study_id, header = message.study_id, message.header
                size += len(message.snapshot_chunk)
                if size > MAX_RESTORE_BYTES:
                    raise errors.InvalidArgument(
                        f"the backup's snapshot is over {MAX_RESTORE_BYTES} bytes, the most "
                        "RestoreStudy takes"
                    )
                spool.write(message.snapshot_chunk)
            if not header:
                raise errors.InvalidArgument(
                    "RestoreStudy's first message must carry the backup's header"
                )
            spool.flush()
            summary = self._controller.restore_study(study_id, header, Path(spool.name))
        return pb.RestoreStudyResponse(
            study=render_study(summary), restored_trials=sum(summary.counts.values())
        )

    @translated
    def ImportPaddleSlimCheckpoint(
        self, request: pb.ImportPaddleSlimCheckpointRequest, context: grpc.ServicerContext
    ) -> pb.ImportPaddleSlimCheckpointResponse:
        history = parse_checkpoint(request.checkpoint_json)
        study_request = request_from_pb(request.config)
        if not study_request.search_spaces:
            # No spaces given: a custom token space with the checkpoint's range table.
            study_request = dataclasses.replace(
                study_request,
                search_spaces=(SpaceConfig("paddleslim", range_table=tuple(history.range_table)),),
                init_tokens=study_request.init_tokens or tuple(history.base[0]),
            )
        summary = self._controller.import_study(
            request.study_id,
            study_request,
            history.results,
            history.base,
            history.best,
            history.rewarded,
        )
        return pb.ImportPaddleSlimCheckpointResponse(
            study=render_study(summary), imported_trials=len(history.results)
        )
