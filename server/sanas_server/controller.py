"""The controller: many studies, their locks, and their storage. No gRPC here.

Concurrency: a study's events are decided and recorded under the study's lock, queued
to its journal in the same order, and the caller waits for durability after releasing
the lock, so concurrent trainers share fsyncs (group commit). A journal is a prefix-
durable sequence: when a record is on disk, every earlier one is too, so nothing
acknowledged can depend on something lost. If a write fails, the study is reloaded from
disk, dropping whatever was decided but not written, and the caller gets StorageFailure.

A proposal's costly work (a model-guided policy's fit) runs with no lock held: under the
study's lock the call takes a fit job (a copy of its data), releases the lock, runs it,
and retakes the lock to install it and decide (`_mutate_fitted`), so other trainers'
reports and heartbeats go on meanwhile. Results that arrive during the fit make it stale:
it is fitted again, at most FIT_ATTEMPTS times, and the last fit is used as it is.

Deletes are soft by default (AIP-164): a soft-deleted study stays loaded, whole and
unchanged, with its Deletion (when, and when it expires); it answers reads, refuses
trial calls and watches (StudyDeleted), and its folder moves aside on disk (storage.py).
An undelete restores it as it was: the same Study object, the same uid. Studies whose
retention has run out are purged by `purge_expired`, which the server calls at start and
then periodically, a bounded batch at a time.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sanas.spaces import Architecture
from sanas.spaces.cost import Cost

from .binding import Binding, new_study_uid
from .errors import (
    BudgetExhausted,
    ControllerError,
    CorruptCheckpoint,
    InvalidArgument,
    NewerFormat,
    SearchSpaceExhausted,
    StorageFailure,
    StudyBroken,
    StudyDeleted,
    StudyExists,
    StudyNotFound,
    TooManyPendingTrials,
)
from .health import StorageHealth
from .journal import EventKind, Record, check_format, journal_length, snapshot_event
from .paging import MAX_PAGE_MEASUREMENTS, decode_page_token, encode_page_token, page_size_of
from .policy import FitJob
from .snapshot_file import read_snapshot, snapshot_chunks
from .spans import (
    JOURNAL_COMMIT,
    NO_SPANS,
    SNAPSHOT,
    SNAPSHOT_WRITE,
    STORAGE_CREATE,
    STORAGE_DELETE,
    STUDY_LOCK,
    Spans,
)
from .spec import StudyRequest, StudySpec, check_study_id
from .stopping import EarlyStopping
from .storage import JOURNAL, Storage, study_id_of_key
from .study import Study, StudySummary
from .trials import TrialRecord, TrialState
from .watch import (
    Subscription,
    WatchEvent,
    WatchKind,
    WatchSlots,
    current_state,
    deliver,
    watch_events,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
# A study is snapshotted once the events since its last snapshot reach
# max(DEFAULT_SNAPSHOT_EVERY, its trial count): replay stays bounded by about one
# snapshot's worth, and snapshot bytes per event stay constant as the study grows.
DEFAULT_SNAPSHOT_EVERY = 10_000
# A snapshot's size grows with the measurements too (about 32 bytes a point): a study is
# also snapshotted only once the events since the last one reach its points divided by
# this, so snapshot bytes per event stay bounded (at most ~512 a point's worth) while a
# restart replays at most that many events. A study's total snapshot writing stays
# linear in its data instead of growing with its square.
MEASUREMENTS_PER_SNAPSHOT_EVENT = 16
# How long a soft-deleted study is kept before it is purged (--deleted-retention).
DEFAULT_DELETED_RETENTION = 7 * 24 * 3600.0
# The longest retention: expire times stay far inside what a protobuf Timestamp holds.
MAX_DELETED_RETENTION = 100 * 365 * 24 * 3600.0
# Studies one purge_expired call removes at most (each is a rename and an rmtree); a
# caller that got a full batch calls again.
PURGE_BATCH = 16
# Fits one suggestion runs at most when results keep arriving during its fit (each one
# makes the fit stale); the last is then proposed with as it is (a model of slightly
# fewer results), never fitted under the lock.
FIT_ATTEMPTS = 3


def iso_time(seconds: float) -> str:
    """A time in messages and the audit log: ISO 8601, UTC, to the second."""
    when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return when.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Deletion:
    """A soft delete: when it happened and when the study is purged (its delete time
    plus the retention at that time). Stored as the folder's `deletion.json`."""

    delete_time: float
    expire_time: float

    def to_json(self) -> dict[str, Any]:
        return {"delete_time": self.delete_time, "expire_time": self.expire_time}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deletion:
        def time_of(key: str) -> float:
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CorruptCheckpoint(f"deletion record {data!r}: {key} is not a number")
            if not math.isfinite(value):
                raise CorruptCheckpoint(f"deletion record {data!r}: {key} is not finite")
            return float(value)

        return cls(time_of("delete_time"), time_of("expire_time"))


@dataclass(frozen=True)
class Expiry:
    """A soft-deleted study whose retention ran out, purged by purge_expired (for the
    audit log); `error` when its purge failed (it is tried again at the next pass)."""

    study_id: str
    uid: str
    key: str
    trials: int
    deletion: Deletion
    error: str = ""


@dataclass
class _Entry:
    study: Study
    key: str  # the storage key of this study instance (never reused by a new study)
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0  # bumped by every reload from disk
    since_snapshot: int = 0  # journal events a restart would replay
    watchers: list[Subscription] = field(default_factory=list)
    # Set under `lock` by DeleteStudy (or a failed create): calls that found the entry
    # before then get NOT_FOUND instead of touching it.
    deleted: bool = False
    # True while the study's folder is being created or deleted (under `lock`): listings
    # and scrapes pass over it instead of waiting for its file work.
    in_transit: bool = False
    # Set under `lock` while the study is soft-deleted (None: live).
    deletion: Deletion | None = None
    # Held while a snapshot is written outside `lock`: one snapshot at a time.
    snapshotting: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class BrokenStudy:
    """A study whose checkpoint could not be loaded: listed, never served. Several
    folders when more than one claims the id (DeleteStudy removes them all)."""

    study_id: str
    keys: tuple[str, ...]
    reason: str
    # Written by a newer release (NewerFormat): not damaged, kept for that release.
    newer_format: bool = False


@dataclass(frozen=True)
class Backup:
    """A consistent copy of one study: its header and its snapshot file's bytes (made
    as they are read), captured at one instant under the study's lock."""

    study_id: str
    header: dict[str, Any]
    trial_count: int
    snapshot: Iterator[bytes]


class _StaleFit(Exception):
    """Results arrived while a fit ran: fit again (nothing was decided)."""


class _FitFirst(Exception):
    """A decision needs this fit job run first, outside the lock (nothing was decided)."""

    def __init__(self, job: FitJob) -> None:
        super().__init__()
        self.job = job


@dataclass(frozen=True)
class Completion:
    trial: TrialRecord
    next_trial: TrialRecord | None
    budget_remaining: int


class Controller:
    """Runs the studies of one server.

    Locks: `_lock` guards only the dict of studies and is never held across file I/O;
    each study's lock orders its events. Creating, deleting and snapshotting a study do
    their file work under that study's lock at most, so other studies never wait on them.
    """

    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        max_pending_per_client: int = 0,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        max_watchers: int | None = None,
        spans: Spans = NO_SPANS,
        deleted_retention: float = DEFAULT_DELETED_RETENTION,
    ) -> None:
        """`spans`: the child spans of a call (tracing; spans.py), none by default."""
        if max_watchers is not None and max_watchers < 0:
            raise ValueError(f"max_watchers = {max_watchers}: must be >= 0")
        if not 0 <= deleted_retention <= MAX_DELETED_RETENTION:
            raise ValueError(
                f"deleted_retention = {deleted_retention}: must be 0 to "
                f"{MAX_DELETED_RETENTION:.0f} seconds (100 years)"
            )
        # Seconds a soft-deleted study is kept; 0: every delete purges at once.
        self.deleted_retention = deleted_retention
        # Live subscriptions, each a server thread blocked in WatchStudy; None: no limit.
        self._watch_slots = WatchSlots(max_watchers)
        self._storage = storage
        self._clock = clock
        self._max_pending = max_pending_per_client  # 0: no limit
        self._snapshot_every = snapshot_every
        self._spans = spans
        self._studies: dict[str, _Entry] = {}
        self._broken: dict[str, BrokenStudy] = {}
        self._lock = threading.Lock()  # guards the dicts, not the studies
        self.storage_health = StorageHealth()
        for key in storage.keys():
            self._load(key)

    def _load(self, key: str) -> None:
        """Load one study folder; one that cannot be loaded is reported and listed as
        broken, and never keeps the others from being served."""
        study_id = study_id_of_key(key)
        try:
            header, events = self._storage.load(key)
            if header.get("study_id") != study_id:
                raise CorruptCheckpoint(
                    f"{key}/study.json names study {header.get('study_id')!r}, not the "
                    f"folder's {study_id!r}"
                )
            study = self._replay(header, events)
            marker = self._storage.deletion(key)
            deletion = None if marker is None else Deletion.from_json(marker)
        except NewerFormat as exc:
            log.error("study %r is not served: %s", study_id, exc)
            self._mark_broken(study_id, (key,), str(exc), newer_format=True)
            return
        except CorruptCheckpoint as exc:
            log.error("study %r cannot be loaded and is not served: %s", study_id, exc)
            self._mark_broken(study_id, (key,), str(exc))
            return
        if study_id in self._studies or study_id in self._broken:
            self._mark_broken(study_id, (key,), f"a second folder {key} claims the study")
            return
        study.renew_leases(self._clock())  # trainers kept training while we were down
        self._studies[study_id] = _Entry(
            study, key, since_snapshot=journal_length(events), deletion=deletion
        )

    def _mark_broken(
        self, study_id: str, keys: tuple[str, ...], reason: str, newer_format: bool = False
    ) -> None:
        """(Caller holds `_lock`, or runs before serving.) Two folders for one id make
        the study broken whichever sorts first, so which one is served never depends
        on the order of folder names."""
        loaded = self._studies.pop(study_id, None)
        if loaded is not None:
            keys = (loaded.key, *keys)
        earlier = self._broken.get(study_id)
        if earlier is not None:
            keys, reason = (*earlier.keys, *keys), f"{earlier.reason}; {reason}"
            newer_format = newer_format or earlier.newer_format
        if len(keys) > 1:
            reason = (
                f"{len(keys)} folders claim study {study_id!r} ({', '.join(keys)}): {reason}; "
                "move all but one aside, or delete the study"
            )
        self._broken[study_id] = BrokenStudy(study_id, keys, reason, newer_format)

    @staticmethod
    def _replay(header: dict[str, Any], events: list[dict[str, Any]]) -> Study:
        try:
            study = Study.from_header(header)
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise CorruptCheckpoint(f"study header cannot be read: {exc!r}") from exc
        try:
            for event in events:
                study.apply(event)
        except (KeyError, ValueError, IndexError, TypeError, ArithmeticError) as exc:
            raise CorruptCheckpoint(
                f"study {study.study_id!r}: journal event cannot be replayed: {exc!r}"
            ) from exc
        return study

    def _entry(self, study_id: str) -> _Entry:
        if not study_id:
            raise InvalidArgument("study_id is required")
        with self._lock:
            entry = self._studies.get(study_id)
            broken = self._broken.get(study_id)
        if entry is None:
            if broken is not None and broken.newer_format:
                raise StudyBroken(f"study {study_id!r} is not served: {broken.reason}")
            if broken is not None:
                raise StudyBroken(
                    f"study {study_id!r} could not be loaded at start and is not served: "
                    f"{broken.reason}"
                )
            raise StudyNotFound(f"no study {study_id!r} on this controller")
        return entry

    @contextmanager
    def _locked(self, study_id: str, deleted_ok: bool = False) -> Iterator[_Entry]:
        """The entry of a study, under its lock; NOT_FOUND once it is purged, even for a
        caller that found it just before. A soft-deleted study is StudyDeleted unless
        `deleted_ok` (the reads, and the calls that delete or undelete)."""
        entry = self._entry(study_id)
        with self._spans.span(STUDY_LOCK, {"sanas.study_id": study_id}):
            entry.lock.acquire()
        try:
            if entry.deleted:
                raise StudyNotFound(f"no study {study_id!r} on this controller (deleted)")
            if entry.deletion is not None and not deleted_ok:
                raise self._deleted_error(entry)
            yield entry
        finally:
            entry.lock.release()

    @staticmethod
    def _deleted_error(entry: _Entry) -> StudyDeleted:
        assert entry.deletion is not None
        study_id = entry.study.study_id
        return StudyDeleted(
            f"study {study_id!r} was deleted at {iso_time(entry.deletion.delete_time)}: it "
            "takes no trial calls until an admin undeletes it (UndeleteStudy, `sanas "
            f"undelete {study_id}`) before {iso_time(entry.deletion.expire_time)}, when it "
            "is purged; nothing was changed"
        )

    @staticmethod
    def _deleted_exists(entry: _Entry) -> StudyExists:
        assert entry.deletion is not None
        study_id = entry.study.study_id
        return StudyExists(
            f"study {study_id!r} exists, soft-deleted at {iso_time(entry.deletion.delete_time)} "
            f"(it is purged at {iso_time(entry.deletion.expire_time)}): undelete it to "
            f"continue it (`sanas undelete {study_id}`), or purge it first to reuse the id "
            f"(`sanas delete {study_id} --purge --yes`)"
        )

    def _mutate(self, study_id: str, decide: Callable[[Study], tuple[T, list[Record]]]) -> T:
        """Decide and record events under the study lock, then wait for durability
        outside it so concurrent callers share one fsync."""
        with self._locked(study_id) as entry:
            generation = entry.generation
            result, events = decide(entry.study)
            try:
                durable = self._storage.append(entry.key, events)
            except StorageFailure as exc:
                self.storage_health.failed("journal write", study_id, exc)
                self._reload_locked(entry)
                raise
            entry.since_snapshot += len(events)
        try:
            # Group commit: this call's events are on disk once one fsync covers them,
            # this call's own (a JOURNAL_FSYNC child) or a concurrent call's.
            with self._spans.span(
                JOURNAL_COMMIT, {"sanas.study_id": study_id, "sanas.journal.records": len(events)}
            ):
                durable()
        except StorageFailure as exc:
            with entry.lock:
                if entry.deleted:  # the journal was closed by DeleteStudy
                    raise StudyNotFound(
                        f"no study {study_id!r} on this controller (deleted)"
                    ) from None
                if entry.generation == generation:  # the first waiter to fail reloads
                    # ... and reports it: one failed group commit is one failure.
                    self.storage_health.failed("journal write", study_id, exc)
                    self._reload_locked(entry)
            raise
        if events:  # a retry that wrote nothing proves nothing about the disk
            self.storage_health.succeeded()
        if entry.watchers and events:
            self._publish(entry, events)
        if entry.since_snapshot >= self._snapshot_due(entry):
            self._snapshot(entry)
        return result

    def _mutate_fitted(
        self,
        study_id: str,
        job_of: Callable[[Study], FitJob | None],
        decide: Callable[[Study, object | None, bool], tuple[T, list[Record]]],
        attempts: int,
    ) -> T:
        """`_mutate` with the policy's fit run outside the study lock: `job_of` takes the
        job under the lock (None: no fit needed, and `decide(study, None, True)` goes on
        in the same hold, as for the annealer); otherwise the job runs with no lock held
        and `decide(study, fitted, last)` installs it and decides under the lock again.
        A decide that is not the last attempt may raise _StaleFit, before changing
        anything, to have it fitted again on the newer results."""

        def first(study: Study) -> tuple[T, list[Record]]:
            job = job_of(study)
            if job is not None:
                raise _FitFirst(job)  # nothing changed yet
            return decide(study, None, True)

        for attempt in range(attempts):
            try:
                return self._mutate(study_id, first)
            except _FitFirst as fit:
                fitted = fit.job.run()  # no lock held: other trainers' calls go on
            last = attempt == attempts - 1

            def install_and_decide(
                study: Study, fitted: object = fitted, last: bool = last
            ) -> tuple[T, list[Record]]:
                return decide(study, fitted, last)

            try:
                return self._mutate(study_id, install_and_decide)
            except _StaleFit:
                continue
        raise AssertionError("unreachable: the last attempt never raises _StaleFit")

    # -- watching ------------------------------------------------------------------------
    def watch(self, study_id: str) -> Subscription:
        """Subscribe to a study's durable events; the first is its current state.

        Takes one of max_watchers slots until unwatch(), which the caller must call
        however the watch ends (the slot stands for the thread it keeps busy)."""
        self._entry(study_id)  # a missing study takes no slot
        subscription = Subscription()
        self._watch_slots.take(subscription)
        try:
            # NOT_FOUND if deleted after the lookup (its watchers were already ended).
            with self._locked(study_id) as entry:
                for item in current_state(entry.study.summary(), self._clock):
                    subscription.put(item)
                entry.watchers.append(subscription)
        except BaseException:
            self.unwatch(study_id, subscription)
            raise
        return subscription

    def watch_slots(self) -> tuple[int, int]:
        """(watch streams open, the cap): metrics. No cap counts as the streams open."""
        return self._watch_slots.usage()

    def unwatch(self, study_id: str, subscription: Subscription) -> None:
        """End a watch and free its slot; safe to call more than once."""
        with self._lock:
            entry = self._studies.get(study_id)
        if entry is not None:
            with entry.lock:
                if subscription in entry.watchers:
                    entry.watchers.remove(subscription)
        # Freed even when the study is gone or the server already ended the stream.
        self._watch_slots.free(subscription)

    def _publish(self, entry: _Entry, events: list[Record]) -> None:
        with entry.lock:
            now = self._clock()
            deliver(entry.watchers, watch_events(entry.study, events, now), now)

    def _end_watchers_locked(self, entry: _Entry, kind: WatchKind) -> None:
        for subscription in entry.watchers:
            subscription.end(WatchEvent(kind, self._clock()))
        entry.watchers.clear()

    def _snapshot_due(self, entry: _Entry) -> int:
        study = entry.study
        return max(
            self._snapshot_every,
            len(study.trials),
            study.measured // MEASUREMENTS_PER_SNAPSHOT_EVENT,
        )

    def _snapshot(self, entry: _Entry) -> None:
        """Capture the state and start a new journal under the study lock (cheap: a copy
        of references and one fsync), then serialize and write it outside the lock."""
        if not entry.snapshotting.acquire(blocking=False):
            return  # one is being written; the next due one follows it
        study_id = entry.study.study_id
        try:
            with self._spans.span(SNAPSHOT, {"sanas.study_id": study_id}) as span:
                with entry.lock:
                    if entry.deleted or entry.since_snapshot < self._snapshot_due(entry):
                        span.set_attribute("sanas.snapshot.skipped", True)
                        return  # another caller took it
                    if entry.deletion is not None:
                        return  # its folder may be moving; an undeleted study snapshots later
                    entry.since_snapshot = 0
                    state = entry.study.snapshot_state()
                    span.set_attribute("sanas.snapshot.trials", len(state.trials))
                    try:
                        rotation = self._storage.rotate(entry.key)
                    except StorageFailure as exc:
                        # Only replay gets slower; every result is still in the journal.
                        span.set_attribute("error.type", type(exc).__name__)
                        self.storage_health.failed("snapshot", study_id, exc)
                        log.warning(
                            "will try the snapshot again after %d events", self._snapshot_every
                        )
                        return
                try:
                    # Serialized and written outside the study's lock.
                    with self._spans.span(SNAPSHOT_WRITE, {"sanas.study_id": study_id}):
                        self._storage.write_snapshot(entry.key, rotation, snapshot_event(state))
                except StorageFailure as exc:
                    span.set_attribute("error.type", type(exc).__name__)
                    self.storage_health.failed("snapshot", study_id, exc)
                    log.warning("the journals still hold every result of %r", study_id)
                else:
                    self.storage_health.succeeded()
        finally:
            entry.snapshotting.release()

    def _reload_locked(self, entry: _Entry) -> None:
        """Drop in-memory events that never reached disk by replaying the checkpoint."""
        if entry.deleted:
            return
        try:
            header, events = self._storage.load(entry.key)
            entry.study = self._replay(header, events)
        except CorruptCheckpoint as exc:
            # Memory may hold events that never reached disk, and the disk cannot be read
            # back: serve neither. The study is broken until deleted or repaired.
            study_id = entry.study.study_id
            log.error("study %r cannot be reloaded and is no longer served: %s", study_id, exc)
            entry.deleted = True
            self._end_watchers_locked(entry, WatchKind.DELETED)
            with self._lock:
                if self._studies.get(study_id) is entry:
                    del self._studies[study_id]
                self._mark_broken(study_id, (entry.key,), str(exc))
            raise StorageFailure(f"reloading study {study_id!r} failed: {exc}") from exc
        entry.study.renew_leases(self._clock())
        entry.since_snapshot = journal_length(events)
        entry.generation += 1

    # -- studies -------------------------------------------------------------------------
    def create_study(self, study_id: str, request: StudyRequest) -> tuple[StudySummary, bool]:
        study_id = check_study_id(study_id) if study_id else f"study-{uuid.uuid4().hex[:12]}"
        try:
            spec = StudySpec.resolve(request)
        except InvalidArgument:
            # A config refused now (a loss goal with stopped values as rewards) still
            # joins the study it made before the refusal.
            joined = self._join_unchanged(study_id, request)
            if joined is None:
                raise
            return joined, False
        while True:
            study = Study(study_id, request, spec, self._clock())
            entry = _Entry(study, key="", in_transit=True)
            with self._lock:
                existing = self._studies.get(study_id)
                if existing is None:
                    self._refuse_broken(study_id)
                    # Reserved under the dict lock, created under its own lock only:
                    # callers that find it meanwhile wait for it alone.
                    entry.lock.acquire()
                    self._studies[study_id] = entry
            if existing is None:
                self._create_locked(entry, [])
                return study.summary(), True
            with existing.lock:
                if existing.deleted:
                    continue  # deleted (or failed to create) meanwhile: try again
                if existing.deletion is not None:
                    raise self._deleted_exists(existing)
                self._check_same_config(existing, request)
                return existing.study.summary(), False

    def join_study(self, study_id: str, request: StudyRequest) -> StudySummary | None:
        """create_study for a caller that may not create (a trainer token): the study if
        it exists with this config, else None."""
        return self._join_unchanged(study_id, request)

    def _join_unchanged(self, study_id: str, request: StudyRequest) -> StudySummary | None:
        with self._lock:
            existing = self._studies.get(study_id)
        if existing is None:
            return None
        with existing.lock:
            if existing.deletion is not None and not existing.deleted:
                raise self._deleted_exists(existing)
            if existing.deleted or existing.study.differences(request):
                return None
            return existing.study.summary()

    def _refuse_taken(self, study_id: str, message: str) -> None:
        """(Caller holds `_lock`.) StudyExists when the id is taken: `message` for a
        live study, a soft-deleted one's own (undelete or purge it), a broken one's."""
        existing = self._studies.get(study_id)
        if existing is not None:
            if existing.deletion is not None:
                raise self._deleted_exists(existing)
            raise StudyExists(message)
        self._refuse_broken(study_id)

    def _refuse_broken(self, study_id: str) -> None:
        broken = self._broken.get(study_id)
        if broken is not None and broken.newer_format:
            raise StudyExists(
                f"study {study_id!r} exists in a newer release's format and is kept for it "
                f"({broken.reason}); use another study_id"
            )
        if broken is not None:
            raise StudyExists(
                f"study {study_id!r} exists but its checkpoint could not be loaded "
                f"({broken.reason}); delete it first to reuse the id"
            )

    @staticmethod
    def _check_same_config(existing: _Entry, request: StudyRequest) -> None:
        differences = existing.study.differences(request)
        if differences:
            raise StudyExists(
                f"study {existing.study.study_id!r} already exists with a different config "
                f"({'; '.join(differences)}); use another study_id or the same config"
            )

    def import_study(
        self,
        study_id: str,
        request: StudyRequest,
        results: Sequence[tuple[Sequence[int], float]],
        base: tuple[Sequence[int], float | None],
        best: tuple[Sequence[int] | None, float | None],
        rewarded: int,
    ) -> StudySummary:
        check_study_id(study_id)
        spec = StudySpec.resolve(request)
        if len(results) > spec.search_steps:
            raise InvalidArgument(
                f"the checkpoint holds {len(results)} rewarded trials but search_steps is "
                f"{spec.search_steps}; set search_steps to at least {len(results)}"
            )
        study = Study(study_id, request, spec, self._clock())
        # Everything is validated (and the summary rendered) before anything is stored.
        events = study.import_history(results, base, best, rewarded, self._clock())
        summary = study.summary()
        entry = _Entry(study, key="", in_transit=True)
        with self._lock:
            self._refuse_taken(study_id, f"study {study_id!r} already exists; import into a new id")
            entry.lock.acquire()
            self._studies[study_id] = entry
        self._create_locked(entry, events)
        return summary

    def _create_locked(self, entry: _Entry, events: list[Record]) -> None:
        """Write a reserved entry's folder; the caller acquired `entry.lock`, released
        here. A failure removes the reservation and leaves nothing behind."""
        study = entry.study
        try:
            with self._spans.span(STORAGE_CREATE, {"sanas.study_id": study.study_id}):
                entry.key = self._storage.create(study.study_id, study.header(), events)
            entry.in_transit = False
        except StorageFailure as exc:
            self.storage_health.failed("create", study.study_id, exc)
            entry.deleted = True
            with self._lock:
                if self._studies.get(study.study_id) is entry:
                    del self._studies[study.study_id]
            raise
        finally:
            entry.lock.release()
        self.storage_health.succeeded()

    # -- backup and restore --------------------------------------------------------------
    def backup_study(self, study_id: str) -> Backup:
        """A consistent copy of a live study, for BackupStudy. Its state is captured under
        the study's lock (a copy of references, as a snapshot's), and the call waits until
        every event of that state is on disk before anything is returned: the copy holds
        every result acknowledged before the call and none that could still be lost. It
        is one state, never parts of two journals, whatever rotation follows. Its
        snapshot bytes are made as the caller reads them, with no lock held, in the layout
        of a study folder's `snapshot.json` (continued by an empty `journal.log`)."""
        with self._locked(study_id, deleted_ok=True) as entry:
            header = entry.study.header()
            state = entry.study.snapshot_state()
            durable = self._storage.append(entry.key, [])
        with self._spans.span(JOURNAL_COMMIT, {"sanas.study_id": study_id}):
            durable()  # a failed write raises StorageFailure: no copy of undurable events
        return Backup(
            study_id, header, len(state.trials), snapshot_chunks(JOURNAL, snapshot_event(state))
        )

    def restore_study(self, study_id: str, header_json: bytes, snapshot: Path) -> StudySummary:
        """Create a study from a backup (its header's JSON text and a file holding its
        snapshot) as a new incarnation: a new uid, so calls bound to the backed-up
        incarnation's trials are refused as stale. `study_id` empty: the backup's own.
        Refused (StudyExists) when the id is taken, a broken study's too."""
        try:
            header = json.loads(header_json)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument(f"the backup's header is not JSON: {exc}") from exc
        if not isinstance(header, dict):
            raise InvalidArgument("the backup's header is not a study header")
        try:
            check_format(header)
        except (NewerFormat, ValueError) as exc:
            raise InvalidArgument(f"the backup cannot be restored: {exc}") from None
        study_id = check_study_id(study_id or str(header.get("study_id", "")))
        try:
            event = read_snapshot(snapshot)["event"]
        except (OSError, ValueError, RecursionError, KeyError, TypeError) as exc:
            raise InvalidArgument(f"the backup's snapshot cannot be read: {exc!r}") from exc
        if not isinstance(event, dict) or event.get("e") != EventKind.SNAPSHOT.value:
            raise InvalidArgument("the backup's snapshot holds no snapshot event")
        backed_up_uid = header.get("uid")
        header = {**header, "study_id": study_id, "uid": new_study_uid()}
        try:
            study = self._replay(header, [event])
        except CorruptCheckpoint as exc:
            raise InvalidArgument(f"the backup cannot be restored: {exc}") from exc
        del event
        # Trials out at the backup belong to the old incarnation's trainers, whose calls
        # are now stale: each is handed to another trainer once its lease runs out.
        study.renew_leases(self._clock())
        # The new folder holds the current format, whatever release made the backup.
        events = [study.snapshot_event()]
        summary = study.summary()
        entry = _Entry(study, key="", in_transit=True)
        with self._lock:
            self._refuse_taken(
                study_id,
                f"study {study_id!r} already exists; delete it first to restore over it "
                f"(`sanas delete {study_id} --purge --yes`), or restore under another id",
            )
            entry.lock.acquire()
            self._studies[study_id] = entry
        self._create_locked(entry, events)
        log.info(
            "restored study %r (uid %s, %d trials) from a backup of uid %s",
            study_id,
            study.uid,
            len(study.trials),
            backed_up_uid,
        )
        return summary

    def get_study(self, study_id: str) -> StudySummary | BrokenStudy:
        with self._lock:
            broken = self._broken.get(study_id)
        if broken is not None:
            return broken
        with self._locked(study_id, deleted_ok=True) as entry:
            return self._summary_locked(entry)

    @staticmethod
    def _summary_locked(entry: _Entry) -> StudySummary | BrokenStudy:
        """The study's summary (a soft-deleted one's with its delete and expire times);
        one that cannot be made (a bug the sums never reach, we hope) is logged and
        answered as a broken study with the reason, never UNKNOWN, and never left out of
        a listing."""
        study = entry.study
        try:
            summary = study.summary()
        except (ArithmeticError, ValueError, TypeError) as exc:
            reason = f"cannot be summarized: {exc!r}"
            log.exception("study %r %s", study.study_id, reason)
            return BrokenStudy(study.study_id, (entry.key,), reason)
        if entry.deletion is not None:
            summary = dataclasses.replace(
                summary,
                delete_time=entry.deletion.delete_time,
                expire_time=entry.deletion.expire_time,
            )
        return summary

    def list_studies(
        self, page_size: int, page_token: str, show_deleted: bool = False
    ) -> tuple[list[StudySummary | BrokenStudy], str]:
        """A page of studies by id; soft-deleted ones only with `show_deleted` (AIP-164)."""
        size = page_size_of(page_size)
        after = decode_page_token(page_token, str)
        with self._lock:
            # A study whose folder is being created or deleted is not listed (either
            # answer is true of some instant of the call), and not waited for.
            live = (
                i
                for i, e in self._studies.items()
                if not e.in_transit and (show_deleted or e.deletion is None)
            )
            known = itertools.chain(live, self._broken)
            ids = sorted(i for i in known if after is None or i > after)
        page = ids[:size]
        out = []
        for study_id in page:
            try:
                summary = self.get_study(study_id)
            except StudyNotFound:
                continue  # deleted between the two looks
            if isinstance(summary, StudySummary) and summary.delete_time is not None:
                if not show_deleted:
                    continue  # soft-deleted between the two looks
            out.append(summary)
        more = len(ids) > size
        return out, encode_page_token(page[-1]) if more and page else ""

    def delete_study(
        self, study_id: str, requester: str = "", purge: bool = False
    ) -> StudySummary | BrokenStudy | None:
        """Delete a study: soft (kept, with its Deletion, until its retention runs out)
        unless `purge` or a retention of 0, when it is removed with its files. A study
        already soft-deleted is left as it is unless `purge`; a broken study is always
        purged (nothing of it could be restored). Returns the soft-deleted study's
        summary, None when it was purged. `requester` (who asked: client id and peer)
        goes into the log line every delete writes."""
        by = f" at the request of {requester}" if requester else ""
        with self._lock:
            broken = self._broken.get(study_id)
            if broken is not None and broken.newer_format:
                # Its data is fine, for the release that wrote it: a rollback of the
                # server must not be a way to lose it. Moving the folder is a choice
                # made on the host.
                raise StudyBroken(
                    f"study {study_id!r} is not deleted: {broken.reason}. To drop it "
                    f"anyway, stop the server and move {', '.join(broken.keys)} out of "
                    "the checkpoint folder's studies/"
                )
            broken = self._broken.pop(study_id, None)  # one caller claims it
        if broken is not None:
            removals = []
            try:
                with self._spans.span(STORAGE_DELETE, {"sanas.study_id": study_id}):
                    for key in broken.keys:
                        removals.append(self._storage.delete(key))
            except StorageFailure as exc:
                self.storage_health.failed("delete", study_id, exc)
                with self._lock:
                    left = broken.keys[len(removals) :]
                    self._broken[study_id] = dataclasses.replace(broken, keys=left)
                raise
            log.info("purged broken study %r (%s)%s", study_id, ", ".join(broken.keys), by)
            for remove in removals:
                remove()
            return None
        if not purge and self.deleted_retention > 0:
            return self._soft_delete(self._entry(study_id), by)
        with self._locked(study_id, deleted_ok=True) as entry:
            # The rename that makes the delete durable, under this study's lock only.
            entry.in_transit = True
            try:
                with self._spans.span(STORAGE_DELETE, {"sanas.study_id": study_id}):
                    remove = self._storage.delete(entry.key)
            except StorageFailure as exc:
                self.storage_health.failed("delete", study_id, exc)
                raise
            finally:
                entry.in_transit = False
            was = " soft-deleted" if entry.deletion is not None else ""
            log.info(
                "purged%s study %r (%s, %d trials, uid %s)%s",
                was,
                study_id,
                entry.key,
                len(entry.study.trials),
                entry.study.uid,
                by,
            )
            entry.deleted = True
            with self._lock:
                if self._studies.get(study_id) is entry:
                    del self._studies[study_id]
            self._end_watchers_locked(entry, WatchKind.DELETED)
        remove()  # the files themselves, with no lock held
        return None

    def _soft_delete(self, entry: _Entry, by: str) -> StudySummary | BrokenStudy:
        """Keep the study, marked deleted: its folder moves aside (durably) and it
        refuses trial calls until undeleted. No snapshot is written meanwhile: one in
        progress is waited for (`snapshotting`, taken before the study's lock, as
        _snapshot does), since its file goes into the folder that moves."""
        study_id = entry.study.study_id
        with entry.snapshotting, entry.lock:
            if entry.deleted:
                raise StudyNotFound(f"no study {study_id!r} on this controller (deleted)")
            if entry.deletion is not None:
                return self._summary_locked(entry)  # a retry: nothing changes
            now = self._clock()
            deletion = Deletion(now, now + self.deleted_retention)
            entry.in_transit = True
            try:
                self._storage.soft_delete(entry.key, deletion.to_json())
            except StorageFailure as exc:
                self.storage_health.failed("delete", study_id, exc)
                raise
            finally:
                entry.in_transit = False
            entry.deletion = deletion
            self._end_watchers_locked(entry, WatchKind.DELETED)
            log.info(
                "soft-deleted study %r (%s, %d trials, uid %s)%s; it is purged at %s unless "
                "undeleted",
                study_id,
                entry.key,
                len(entry.study.trials),
                entry.study.uid,
                by,
                iso_time(deletion.expire_time),
            )
            return self._summary_locked(entry)

    def undelete_study(self, study_id: str, requester: str = "") -> StudySummary | BrokenStudy:
        """Restore a soft-deleted study as it was deleted: the same Study (trials, best,
        budget, annealing state) and the same uid, so its trainers' trials stay theirs.
        Each running trial gets a whole lease from now, as after a restart: its trainer
        may have kept training through the delete. StudyExists when it is not deleted."""
        by = f" at the request of {requester}" if requester else ""
        entry = self._entry(study_id)
        with entry.lock:
            if entry.deleted:
                raise StudyNotFound(f"no study {study_id!r} on this controller (deleted)")
            if entry.deletion is None:
                raise StudyExists(f"study {study_id!r} is not deleted: nothing to undelete")
            entry.in_transit = True
            try:
                self._storage.undelete(entry.key)
            except StorageFailure as exc:
                self.storage_health.failed("undelete", study_id, exc)
                raise
            finally:
                entry.in_transit = False
            deleted_at = entry.deletion.delete_time
            entry.deletion = None
            entry.study.renew_leases(self._clock())
            log.info(
                "undeleted study %r (%s, %d trials, uid %s, deleted at %s)%s",
                study_id,
                entry.key,
                len(entry.study.trials),
                entry.study.uid,
                iso_time(deleted_at),
                by,
            )
            return self._summary_locked(entry)

    def next_expiry(self) -> float | None:
        """The earliest expire time of the soft-deleted studies; None when there are none."""
        with self._lock:
            times = [e.deletion.expire_time for e in self._studies.values() if e.deletion]
        return min(times, default=None)

    def purge_expired(self, limit: int = PURGE_BATCH) -> list[Expiry]:
        """Purge up to `limit` soft-deleted studies whose expire time has passed, the
        earliest first. The dict lock is held only to pick them; each is removed under
        its own lock (a rename), its files after with no lock held. A purge that fails
        is reported in the list and tried again at the next call."""
        now = self._clock()
        with self._lock:
            due = sorted(
                (
                    (e.deletion.expire_time, study_id, e)
                    for study_id, e in self._studies.items()
                    if e.deletion is not None and e.deletion.expire_time <= now
                ),
                key=lambda item: item[:2],
            )[:limit]
        out = []
        for _, study_id, entry in due:
            with entry.lock:
                deletion = entry.deletion
                if entry.deleted or deletion is None or deletion.expire_time > now:
                    continue  # purged, or undeleted, meanwhile
                expiry = Expiry(
                    study_id, entry.study.uid, entry.key, len(entry.study.trials), deletion
                )
                try:
                    remove = self._storage.delete(entry.key)
                except StorageFailure as exc:
                    self.storage_health.failed("delete", study_id, exc)
                    out.append(dataclasses.replace(expiry, error=str(exc)))
                    continue
                entry.deleted = True
                with self._lock:
                    if self._studies.get(study_id) is entry:
                        del self._studies[study_id]
            remove()
            log.info(
                "purged study %r (%s, %d trials, uid %s): soft-deleted at %s, its retention "
                "ran out at %s",
                study_id,
                expiry.key,
                expiry.trials,
                expiry.uid,
                iso_time(deletion.delete_time),
                iso_time(deletion.expire_time),
            )
            out.append(expiry)
        return out

    def summaries(self) -> list[StudySummary | BrokenStudy]:
        """Every study's current state (metrics), the broken ones included: those that
        could not be loaded and those that cannot be summarized (logged), so one bad
        study never breaks a scrape and never goes missing from it."""
        with self._lock:
            entries = [e for e in self._studies.values() if not e.in_transit]
            # Soft-deleted studies too, with their delete time (metrics count them).
            out: list[StudySummary | BrokenStudy] = list(self._broken.values())
        for entry in entries:
            with entry.lock:
                if not entry.deleted:
                    out.append(self._summary_locked(entry))
        return out

    def check_storage(self) -> bool:
        """Try a small write (the server's probe while writes fail): whether it worked."""
        try:
            self._storage.probe()
        except StorageFailure as exc:
            self.storage_health.failed("probe", "", exc)
            return False
        self.storage_health.succeeded()
        return True

    # -- trials --------------------------------------------------------------------------
    def suggest_trial(self, study_id: str, client_id: str, request_id: str = "") -> TrialRecord:
        def job_of(study: Study) -> FitJob | None:
            job = study.fit_job(self._clock())
            if job is not None and study.answer_for(request_id, "suggest") is not None:
                return None  # a retry: its first answer, no proposal
            return job

        def decide(
            study: Study, fitted: object | None, last: bool
        ) -> tuple[TrialRecord, list[Record]]:
            if fitted is not None and not study.install_fit(fitted, stale_ok=last):
                if not last:
                    raise _StaleFit
                # Only a fit of another results list is refused on the last attempt: the
                # study was reloaded meanwhile (after a failed write), and its proposal
                # fits inline this once.
            trial, event = study.suggest(client_id, self._clock(), request_id, self._max_pending)
            # A retried request waits too: its first answer may not be on disk yet.
            return trial, [] if event is None else [event]

        return self._mutate_fitted(study_id, job_of, decide, FIT_ATTEMPTS)

    def describe(
        self, study_id: str, tokens: Sequence[int]
    ) -> tuple[list[Architecture], Cost] | None:
        """Decoded architectures and their cost for a token vector of the study."""
        with self._locked(study_id) as entry:
            study = entry.study
        return study.describe(tokens)

    # The trial calls take the request's Binding; None (callers inside the server and
    # its tests) skips the check, which the gRPC service never does.
    def heartbeat_trial(
        self, study_id: str, trial_id: int, binding: Binding | None = None
    ) -> TrialRecord:
        with self._locked(study_id) as entry:
            return entry.study.heartbeat(trial_id, self._clock(), binding)

    def complete_trial(
        self,
        study_id: str,
        trial_id: int,
        reward: float,
        infeasible: bool,
        suggest_next: bool = False,
        client_id: str = "",
        request_id: str = "",
        binding: Binding | None = None,
    ) -> Completion:
        # With suggest_next the next trial's fit runs before the lock is taken to record
        # the report, on the study's results plus this one (counted as if reported), and
        # the Complete and the next Suggest are then decided in one lock hold and
        # written together, as without a fit. So the journal holds no new state, a
        # retried Complete gets its first answer (next trial included) exactly as
        # before, and a crash during the fit has decided nothing: the retry after a
        # restart is a new report. The price: results that arrive during this fit are
        # not in the model used (one attempt; there is no undoing the recorded result).
        def job_of(study: Study) -> FitJob | None:
            if not suggest_next:
                return None
            try:
                study.bound_trial(trial_id, binding)  # a refused report fits nothing
            except ControllerError:
                return None  # decide() refuses it, with this same error
            job = study.fit_job(self._clock(), (trial_id, reward, infeasible))
            if job is not None and study.answer_for(
                request_id, "complete", trial_id, (reward, infeasible)
            ):
                return None  # a retry: its first answer, no proposal
            return job

        def decide(
            study: Study, fitted: object | None, last: bool
        ) -> tuple[Completion, list[Record]]:
            known = study.answer_for(request_id, "complete", trial_id, (reward, infeasible))
            if known is not None:  # a retry: the first answer, nothing new
                study.bound_trial(trial_id, binding)  # bound like the first call
                return Completion(known[0], known[1], study.budget_remaining), []
            now = self._clock()
            trial, event = study.complete(trial_id, reward, infeasible, now, request_id, binding)
            # A repeated report still waits for durability: its first copy may be in flight.
            events = [] if event is None else [event]
            next_trial = None
            if suggest_next:
                if fitted is not None:
                    study.install_fit(fitted, stale_ok=True)
                try:
                    next_trial, next_event = study.suggest(
                        client_id,
                        now,
                        max_pending=self._max_pending,
                        next_of=(request_id, trial_id),
                    )
                except (BudgetExhausted, SearchSpaceExhausted, TooManyPendingTrials):
                    next_trial, next_event = None, None
                if next_event is not None:
                    events.append(next_event)
            return Completion(trial, next_trial, study.budget_remaining), events

        if not suggest_next:
            return self._mutate(study_id, lambda study: decide(study, None, True))
        return self._mutate_fitted(study_id, job_of, decide, attempts=1)

    def skip_trial(
        self,
        study_id: str,
        trial_id: int,
        client_id: str = "",
        reason: str = "",
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, int]:
        """Skip a running trial; returns it and the study's remaining budget."""

        def decide(study: Study) -> tuple[tuple[TrialRecord, int], list[Record]]:
            trial, event = study.skip(trial_id, self._clock(), client_id, reason, binding)
            # A retry waits for durability too: its first copy may be in flight.
            return (trial, study.budget_remaining), [] if event is None else [event]

        return self._mutate(study_id, decide)

    def report_progress(
        self,
        study_id: str,
        trial_id: int,
        step: int,
        value: float,
        max_step: int = 0,
        client_id: str = "",
        rule: EarlyStopping | None = None,
        binding: Binding | None = None,
    ) -> tuple[TrialRecord, bool]:
        def decide(study: Study) -> tuple[tuple[TrialRecord, bool], list[Record]]:
            trial, stop, event = study.report_progress(
                trial_id, step, value, self._clock(), max_step, client_id, rule, binding
            )
            # A repeated report waits for durability too: its first copy may be in flight.
            return (trial, stop), [] if event is None else [event]

        return self._mutate(study_id, decide)

    def list_trials(
        self, study_id: str, page_size: int, page_token: str, state: TrialState | None
    ) -> tuple[list[TrialRecord], str, int]:
        size = page_size_of(page_size)
        start = decode_page_token(page_token, int) or 0
        if start < 0:
            raise InvalidArgument(f"page_token {page_token!r} is not a token this server issued")
        # A soft-deleted study's trials can be read: what an admin looks at before an
        # undelete or a purge.
        with self._locked(study_id, deleted_ok=True) as entry:
            trials = entry.study.trials
            total = len(trials) if state is None else entry.study.counts[state]
            page: list[TrialRecord] = []
            end, measured = start, 0
            # AIP-158: a page may hold fewer than page_size trials; long curves shorten it
            # so a response stays a few MB.
            while end < len(trials) and len(page) < size:
                trial = trials[end]
                if state is None or trial.state is state:
                    if page and measured + len(trial.measurements) > MAX_PAGE_MEASUREMENTS:
                        break
                    measured += len(trial.measurements)
                    page.append(trial)
                end += 1
            if state is None:
                more = end < len(trials)
            else:
                more = any(t.state is state for t in itertools.islice(trials, end, None))
        return page, encode_page_token(end) if more else "", total

    def end_watches(self) -> None:
        """End every watch stream (server shutdown), so draining does not wait on them."""
        with self._lock:
            entries = list(self._studies.values())
        for entry in entries:
            with entry.lock:
                self._end_watchers_locked(entry, WatchKind.SHUTDOWN)

    def close(self) -> None:
        self.end_watches()
        self._storage.close()
