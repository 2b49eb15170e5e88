"""`Client`: the low-level API of studies and trials over gRPC.

Calls are retried on UNAVAILABLE and DEADLINE_EXCEEDED with exponential backoff (up to
`retry_timeout` seconds), so a controller restart is invisible to a training script.
SuggestTrial and CompleteTrial carry a request id chosen once per call and kept across
its retries, so a retry never issues a second trial or records a result twice (AIP-155).

Every call about one trial (complete, report, heartbeat, skip) is bound to the trial as
this client was handed it: it sends the Trial's study_uid and fingerprint, so a study
created again, or restored from a backup, since then refuses it (StaleTrialError)
instead of recording a result against another network. Pass the pb.Trial itself, or its
id when this client got it (from suggest_trial, next_trial or a completion's next_trial).

In a trainer group (`trainer_group=`, see sanas.group), rank 0 alone holds a connection:
each call runs there and its answer or error reaches every rank, so the ranks make the
same calls in the same order. Heartbeats and watching are rank 0's alone.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import operator
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc

from .channel import DEFAULT_PORT as DEFAULT_PORT
from .channel import open_channel, read_token
from .channel import with_default_port as with_default_port
from .errors import (
    ControllerUnavailableError,
    SearchFinished,
    StaleTrialError,
    TrialAlreadyCompletedError,
    from_rpc_error,
)
from .group import SoloFlag, TrainerGroup
from .study_config import median_stopping as median_stopping
from .study_config import study_config as study_config
from .study_config import successive_halving as successive_halving
from .v1 import sanas_pb2 as pb
from .v1 import sanas_pb2_grpc

log = logging.getLogger(__name__)
R = TypeVar("R")
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_TIMEOUT = 600.0
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# Bindings of the trials a client was handed that it keeps (the newest): far more than
# the running trials one client may hold (16 by default), so a trial still being
# trained is never forgotten.
MAX_REMEMBERED_TRIALS = 4096
# A trial as the trial calls take it: the pb.Trial itself (its binding travels with it),
# or its id (bound to the trial this client was handed under that id).
TrialRef = int | pb.Trial


def default_client_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class WatchStream:
    """A WatchStudy call: iterate it for the events (errors as SanasError); cancel() from
    any thread ends it, and an iteration blocked in it then ends quietly."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.cancelled = False

    def __iter__(self) -> WatchStream:
        return self

    def __next__(self) -> pb.WatchStudyResponse:
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            if self.cancelled and exc.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise from_rpc_error(exc) from None

    def cancel(self) -> None:
        self.cancelled = True
        self._call.cancel()


class LeaseKeeper:
    """Renews a trial's lease from a background thread until stopped (on rank 0 of a
    trainer group only: it holds the lease for the group). Every beat is bound to the
    trial as it was when the keeper started, so a keeper never renews another trial
    that took its place (a study created again) and stops when told it is stale."""

    def __init__(self, client: Client, study_id: str, trial: TrialRef, interval: float) -> None:
        self._client, self._study_id = client, study_id
        self._trial = client.bound(study_id, trial)
        self._trial_id = self._trial.trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sanas-lease-{self._trial_id}", daemon=True
        )
        if client.talks_to_controller:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._client.heartbeat_trial(self._study_id, self._trial)
            except TrialAlreadyCompletedError:
                return
            except StaleTrialError as exc:  # the trial is gone: nothing left to renew
                log.warning("stopped renewing trial %d: %s", self._trial_id, exc)
                return
            except Exception as exc:  # keep renewing; the next beat may get through
                log.warning("heartbeat of trial %d failed: %s", self._trial_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 1)


class _NoConnection:
    """The stub of a rank that is not rank 0 of its trainer group: any call it would make
    alone is a mistake, said plainly."""

    def __init__(self, group: TrainerGroup) -> None:
        self._rank = group.rank

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                f"{name}: rank {self._rank} of a trainer group has no connection to the "
                "controller; rank 0 alone calls it (heartbeats, watching), and the other "
                "calls go through it when every rank makes them"
            )

        return refuse


class Outage:
    """The controller not answering, as one client's calls see it (its threads share it:
    a trainer and its heartbeats see one outage). The first failed attempt logs one
    WARNING, with how long the call has waited so far and how long it will keep trying,
    so a trainer waiting out a restart does not look hung; the retries after it are
    DEBUG, and the first answer after it logs at INFO how long it lasted."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._since: float | None = None

    def failed(self, exc: grpc.RpcError, waited: float, left: float) -> None:
        now = time.monotonic()
        with self._lock:
            first = self._since is None
            if first:
                self._since = now - waited
        detail = exc.details() if hasattr(exc, "details") else ""
        if first:
            log.warning(
                "controller %s does not answer (%s: %s) for %.1f s so far; retrying for up "
                "to %.0f s more",
                self.address,
                exc.code().name,
                detail,
                waited,
                left,
            )
        else:
            log.debug("controller %s: %s; retrying", self.address, exc.code().name)

    def ended(self) -> None:
        if self._since is None:  # the usual case, no lock
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.info(
                "controller %s answers again after %.1f s", self.address, time.monotonic() - since
            )


class Client:
    """A connection to a sanas controller. Errors raise sanas.errors.SanasError subclasses."""

    def __init__(
        self,
        address: str,
        *,
        client_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        tls_ca_file: str | Path | None = None,
        tls_cert_file: str | Path | None = None,
        tls_key_file: str | Path | None = None,
        auth_token: str | None = None,
        auth_token_file: str | Path | None = None,
        trainer_group: TrainerGroup | None = None,
    ) -> None:
        """`trainer_group` (e.g. `TrainerGroup.current()`): the ranks of a data-parallel
        job sharing trials; rank 0 talks to the controller for all of them."""
        self.address = with_default_port(address)
        self.client_id = client_id or default_client_id()
        self.timeout = timeout
        self.retry_timeout = retry_timeout
        self.trainer_group = trainer_group
        self._outage = Outage(self.address)
        self._solo = SoloFlag()
        # (study_id, trial_id) -> the Trial this client was handed under that id, reduced
        # to its binding: how a call that names a trial by id is bound.
        self._issued: collections.OrderedDict[tuple[str, int], pb.Trial] = collections.OrderedDict()
        self._issued_lock = threading.Lock()  # LeaseKeeper threads bind through it too
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        if not self.talks_to_controller:
            assert trainer_group is not None
            self._stub = _NoConnection(trainer_group)
            return
        self._channel = open_channel(
            self.address,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            auth_token=read_token(auth_token, auth_token_file),
        )
        self._stub = sanas_pb2_grpc.ControllerServiceStub(self._channel)

    @property
    def talks_to_controller(self) -> bool:
        """False on ranks other than 0 of a trainer group."""
        return self.trainer_group is None or self.trainer_group.leader

    @contextlib.contextmanager
    def solo(self) -> Iterator[None]:
        """Within it, this thread's calls go to the controller alone, without the other
        ranks of the trainer group (for rank 0's own bookkeeping)."""
        if not self.talks_to_controller:
            raise RuntimeError("solo(): only rank 0 of a trainer group talks to the controller")
        saved, self._solo.active = self._solo.active, True
        try:
            yield
        finally:
            self._solo.active = saved

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel connects (raises ControllerUnavailableError)."""
        self._together(lambda: self._wait_ready_here(timeout), "wait_ready")

    def _wait_ready_here(self, timeout: float) -> None:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise ControllerUnavailableError(
                f"no sanas controller answered at {self.address} within {timeout:.0f} s: "
                "start it first (sanas-server, or the script that runs SANAS(..., "
                "is_server=True)), or check the address, port and firewall"
            ) from exc

    def _together(self, call: Callable[[], R], what: str) -> R:
        """`call()` here, or, in a trainer group, on rank 0 with its outcome on every rank."""
        if self.trainer_group is None or self._solo.active:
            return call()
        return self.trainer_group.run_on_leader(call, what)

    def _call(self, method: Callable[..., R], request: Any, *, alone: bool = False) -> R:
        """One logical call: retried through restarts, errors translated; in a trainer
        group made by every rank together unless `alone` (rank 0's heartbeats)."""
        if alone:
            return self._call_here(method, request)
        what = type(request).__name__.removesuffix("Request")
        return self._together(lambda: self._call_here(method, request), what)

    def _call_here(self, method: Callable[..., R], request: Any) -> R:
        started = time.monotonic()
        deadline = started + self.retry_timeout
        delay = 0.1
        while True:
            try:
                answer = method(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                now = time.monotonic()
                if exc.code() not in RETRYABLE or now + delay > deadline:
                    raise from_rpc_error(exc) from None
                self._outage.failed(exc, now - started, deadline - now)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._outage.ended()
            return answer

    # -- trial bindings ------------------------------------------------------------------
    def _remember(self, trial: pb.Trial) -> pb.Trial:
        """Note the binding of a trial the controller just handed this client."""
        key = (trial.study_id, trial.trial_id)
        binding = pb.Trial(
            study_id=trial.study_id,
            trial_id=trial.trial_id,
            study_uid=trial.study_uid,
            fingerprint=trial.fingerprint,
        )
        with self._issued_lock:
            self._issued[key] = binding
            self._issued.move_to_end(key)
            while len(self._issued) > MAX_REMEMBERED_TRIALS:
                self._issued.popitem(last=False)
        return trial

    def bound(self, study_id: str, trial: TrialRef) -> pb.Trial:
        """The binding a call about `trial` sends: the Trial's own when given one, else
        that of the trial this client was handed under the id. A trial id this client
        was never handed gets none, and the controller refuses the call (unless it runs
        with --allow-unbound-trial-calls): pass the pb.Trial (e.g. from list_trials)."""
        if isinstance(trial, pb.Trial):
            if trial.study_id and trial.study_id != study_id:
                raise ValueError(
                    f"trial {trial.trial_id} belongs to study {trial.study_id!r}, not {study_id!r}"
                )
            return pb.Trial(
                study_id=study_id,
                trial_id=trial.trial_id,
                study_uid=trial.study_uid,
                fingerprint=trial.fingerprint,
            )
        try:
            if isinstance(trial, bool):
                raise TypeError
            trial_id = operator.index(trial)  # an int, or a numpy integer
        except TypeError:
            raise TypeError(f"trial {trial!r}: give a trial id (int) or a sanas.v1 Trial") from None
        with self._issued_lock:
            known = self._issued.get((study_id, trial_id))
        if known is not None:
            return known
        return pb.Trial(study_id=study_id, trial_id=trial_id)

    # -- studies -------------------------------------------------------------------------
    def create_study(self, study_id: str, config: pb.StudyConfig) -> pb.Study:
        request = pb.CreateStudyRequest(study_id=study_id, config=config)
        return self._call(self._stub.CreateStudy, request).study

    def get_study(self, study_id: str) -> pb.Study:
        return self._call(self._stub.GetStudy, pb.GetStudyRequest(study_id=study_id)).study

    def list_studies(self, page_size: int = 0, show_deleted: bool = False) -> Iterator[pb.Study]:
        """Every study (pages followed for you); soft-deleted ones (state
        STUDY_STATE_DELETED) only with `show_deleted`."""
        token = ""
        while True:
            request = pb.ListStudiesRequest(
                page_size=page_size, page_token=token, show_deleted=show_deleted
            )
            response = self._call(self._stub.ListStudies, request)
            yield from response.studies
            token = response.next_page_token
            if not token:
                return

    def delete_study(self, study_id: str, purge: bool = False) -> pb.Study | None:
        """Delete a study (an admin token's call). By default the delete is soft: the
        study is kept whole, in state STUDY_STATE_DELETED, until its `expire_time` (the
        controller's --deleted-retention), `undelete_study` restores it, and it is
        returned. `purge=True` removes it (live or soft-deleted) with its files for good,
        and returns None; so does a controller whose retention is 0."""
        # The controller logs who deleted what: say who we are.
        delete = functools.partial(
            self._stub.DeleteStudy, metadata=[("sanas-client-id", self.client_id)]
        )
        response = self._call(delete, pb.DeleteStudyRequest(study_id=study_id, purge=purge))
        return response.study if response.HasField("study") else None

    def undelete_study(self, study_id: str) -> pb.Study:
        """Restore a soft-deleted study as it was deleted (an admin token's call): the same
        uid, trials, best and budget, so its trainers' trials are still theirs. Raises
        StudyExistsError for a study that is not deleted, StudyNotFoundError for one
        that is not there (never was, or purged)."""
        undelete = functools.partial(
            self._stub.UndeleteStudy, metadata=[("sanas-client-id", self.client_id)]
        )
        return self._call(undelete, pb.UndeleteStudyRequest(study_id=study_id)).study

    def import_paddleslim_checkpoint(
        self, study_id: str, checkpoint_json: str, config: pb.StudyConfig | None = None
    ) -> pb.ImportPaddleSlimCheckpointResponse:
        request = pb.ImportPaddleSlimCheckpointRequest(
            study_id=study_id, config=config, checkpoint_json=checkpoint_json
        )
        return self._call(self._stub.ImportPaddleSlimCheckpoint, request)

    def backup_study(self, study_id: str) -> Iterator[pb.BackupStudyResponse]:
        """BackupStudy's messages (an admin token's call): the header first, then the
        snapshot's pieces. Not retried: a broken stream is a failed backup."""
        call = self._stub.BackupStudy(
            pb.BackupStudyRequest(study_id=study_id),
            metadata=[("sanas-client-id", self.client_id)],
        )
        return WatchStream(call)

    def restore_study(
        self, header: bytes, snapshot: Iterable[bytes], study_id: str = ""
    ) -> pb.RestoreStudyResponse:
        """Create a study from a backup (header and snapshot pieces, as BackupStudy sent
        them) as a new incarnation; `study_id` empty: the backup's own id."""

        def requests() -> Iterator[pb.RestoreStudyRequest]:
            yield pb.RestoreStudyRequest(study_id=study_id, header=header)
            for piece in snapshot:
                yield pb.RestoreStudyRequest(snapshot_chunk=piece)

        try:
            return self._stub.RestoreStudy(
                requests(), metadata=[("sanas-client-id", self.client_id)]
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    # -- trials --------------------------------------------------------------------------
    def suggest_trial(self, study_id: str) -> pb.Trial:
        request = pb.SuggestTrialRequest(
            study_id=study_id, client_id=self.client_id, request_id=uuid.uuid4().hex
        )
        return self._remember(self._call(self._stub.SuggestTrial, request).trial)

    def complete_trial(
        self,
        study_id: str,
        trial: TrialRef,
        reward: float = 0.0,
        *,
        infeasible: bool = False,
        suggest_next: bool = False,
    ) -> pb.CompleteTrialResponse:
        """Report a trial's result (`trial`: the pb.Trial, or its id; see `bound`).
        Raises StaleTrialError, recording nothing, when the study no longer has that
        trial (created again, or restored from a backup, since it was issued)."""
        bound = self.bound(study_id, trial)
        request = pb.CompleteTrialRequest(
            study_id=study_id,
            trial_id=bound.trial_id,
            reward=reward,
            infeasible=infeasible,
            suggest_next=suggest_next,
            client_id=self.client_id,
            request_id=uuid.uuid4().hex,
            study_uid=bound.study_uid,
            trial_fingerprint=bound.fingerprint,
        )
        response = self._call(self._stub.CompleteTrial, request)
        if response.HasField("next_trial"):
            self._remember(response.next_trial)
        return response

    def report_progress(
        self,
        study_id: str,
        trial: TrialRef,
        step: int,
        value: float,
        *,
        max_step: int = 0,
        early_stopping: pb.EarlyStopping | None = None,
    ) -> pb.ReportTrialProgressResponse:
        """Record the trial's value at `step` (for example an epoch's accuracy);
        `.should_stop` says whether to stop training it. `max_step` (the planned last
        step) lets the controller count what a stop saves; `early_stopping` judges this
        report by a rule of the caller's instead of the study's. `trial`: the pb.Trial,
        or its id (see `bound`); StaleTrialError when the study no longer has it."""
        bound = self.bound(study_id, trial)
        request = pb.ReportTrialProgressRequest(
            study_id=study_id,
            trial_id=bound.trial_id,
            step=step,
            value=value,
            max_step=max_step,
            client_id=self.client_id,
            study_uid=bound.study_uid,
            trial_fingerprint=bound.fingerprint,
        )
        if early_stopping is not None:
            request.early_stopping.CopyFrom(early_stopping)
        return self._call(self._stub.ReportTrialProgress, request)

    def skip_trial(self, study_id: str, trial: TrialRef, reason: str = "") -> pb.SkipTrialResponse:
        """End a running trial unevaluated: it is never issued again and gives its
        search_steps step back. Idempotent, so a retry is harmless. `trial`: the
        pb.Trial, or its id (see `bound`)."""
        bound = self.bound(study_id, trial)
        request = pb.SkipTrialRequest(
            study_id=study_id,
            trial_id=bound.trial_id,
            client_id=self.client_id,
            reason=reason,
            study_uid=bound.study_uid,
            trial_fingerprint=bound.fingerprint,
        )
        return self._call(self._stub.SkipTrial, request)

    def suggest_with_architecture(self, study_id: str) -> pb.SuggestTrialResponse:
        """SuggestTrial that also returns the decoded architectures and their cost."""
        request = pb.SuggestTrialRequest(
            study_id=study_id,
            client_id=self.client_id,
            request_id=uuid.uuid4().hex,
            include_architecture=True,
        )
        response = self._call(self._stub.SuggestTrial, request)
        self._remember(response.trial)
        return response

    def next_trial(
        self,
        study_id: str,
        max_poll: float = 5.0,
        gone_after_budget: float | None = None,
        budget_issued: bool = False,
    ) -> pb.Trial:
        """A trial to evaluate, for a trainer that runs until the study is done.

        When the whole budget has been issued but other trainers still hold trials, one
        of them may lose its lease (or be skipped) and come to this trainer: wait for that
        (polling a few times per lease) until the study completes. Raises SearchFinished
        then. `gone_after_budget`: once the budget is seen issued, a controller that stops
        answering for this many seconds has ended with its search (a server script that
        ended): SearchFinished too, instead of retrying for `retry_timeout`.
        `budget_issued`: the caller knows it is (its last result's answer said so).
        """
        warned = False
        saved = self.retry_timeout
        shortened = False

        def shorten() -> None:
            nonlocal shortened
            if gone_after_budget is not None:
                self.retry_timeout, shortened = min(saved, gone_after_budget), True

        if budget_issued:
            shorten()
        try:
            while True:
                try:
                    return self.suggest_trial(study_id)
                except SearchFinished:
                    shorten()
                    study = self.get_study(study_id)
                    if study.trial_counts.active == 0:
                        raise
                lease = study.config.lease_duration.ToNanoseconds() / 1e9
                if not warned:  # a warning, so a silent wait of up to a lease is explained
                    log.warning(
                        "study %r: the budget is issued; waiting for %d trial(s) still "
                        "running elsewhere (one comes here if its trainer stops "
                        "heartbeating for %.0f s)",
                        study_id,
                        study.trial_counts.active,
                        lease,
                    )
                    warned = True
                time.sleep(min(max_poll, max(0.1, lease / 4)))
        except ControllerUnavailableError as exc:
            if not shortened:
                raise
            raise SearchFinished(
                f"the controller at {self.address} stopped after the study's whole budget "
                f"was issued: the search is over ({exc})",
                code=exc.code,
                reason=exc.reason,
            ) from exc
        finally:
            self.retry_timeout = saved

    def heartbeat_trial(self, study_id: str, trial: TrialRef) -> pb.Trial:
        """Renew a trial's lease (`trial`: the pb.Trial, or its id; see `bound`)."""
        bound = self.bound(study_id, trial)
        request = pb.HeartbeatTrialRequest(
            study_id=study_id,
            trial_id=bound.trial_id,
            client_id=self.client_id,
            study_uid=bound.study_uid,
            trial_fingerprint=bound.fingerprint,
        )
        return self._call(self._stub.HeartbeatTrial, request, alone=True).trial

    def keep_alive(self, study_id: str, trial: TrialRef, interval: float) -> LeaseKeeper:
        """Heartbeat a trial every `interval` seconds in a background thread, bound to it
        as it is now (`trial`: the pb.Trial, or its id; see `bound`); call .stop() on
        the result when the trial is done."""
        return LeaseKeeper(self, study_id, trial, interval)

    def watch_study(self, study_id: str) -> Iterator[pb.WatchStudyResponse]:
        """The study's events as they happen: its current state first, then trials
        suggested, completed, re-issued, new bests; ends when the study completes."""
        yield from self.open_watch(study_id)

    def open_watch(self, study_id: str) -> WatchStream:
        """watch_study as a stream another thread can cancel(): the controller frees the
        stream's slot (one of its --max-watchers) at once, not at the study's next event."""
        return WatchStream(self._stub.WatchStudy(pb.WatchStudyRequest(study_id=study_id)))

    def list_trials(
        self, study_id: str, state: int = pb.TRIAL_STATE_UNSPECIFIED, page_size: int = 0
    ) -> Iterator[pb.Trial]:
        token = ""
        while True:
            request = pb.ListTrialsRequest(
                study_id=study_id, page_size=page_size, page_token=token, state=state
            )
            response = self._call(self._stub.ListTrials, request)
            yield from response.trials
            token = response.next_page_token
            if not token:
                return
