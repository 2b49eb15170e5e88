"""Watching a study: the stream events (WatchEvent), each watcher's queue, the slots
that bound how many watchers a controller serves, and which stream events a study's
journal events make (`watch_events`, a pure function of the study and the events)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .errors import TooManyWatchers
from .journal import Complete, Progress, Record, Reissue, Skip, Suggest, decode_event
from .trials import TrialRecord

if TYPE_CHECKING:
    from .study import Study, StudySummary

WATCH_QUEUE = 10_000


class WatchKind(str, Enum):
    CURRENT_STATE = "CURRENT_STATE"
    TRIAL_SUGGESTED = "TRIAL_SUGGESTED"
    LEASE_EXPIRED = "LEASE_EXPIRED"
    TRIAL_COMPLETED = "TRIAL_COMPLETED"
    TRIAL_PROGRESS = "TRIAL_PROGRESS"
    TRIAL_STOPPED = "TRIAL_STOPPED"
    TRIAL_SKIPPED = "TRIAL_SKIPPED"
    NEW_BEST = "NEW_BEST"
    STUDY_COMPLETED = "STUDY_COMPLETED"
    # Stream ends: the study was deleted, the watcher fell behind, the server stops.
    DELETED = "DELETED"
    OVERFLOW = "OVERFLOW"
    SHUTDOWN = "SHUTDOWN"


@dataclass(frozen=True)
class WatchEvent:
    kind: WatchKind
    time: float
    trial: TrialRecord | None = None
    study: StudySummary | None = None
    measurement: tuple[int, float, float] | None = None  # for TRIAL_PROGRESS


class Subscription:
    """A watcher's queue of study events. A watcher that falls WATCH_QUEUE events behind
    is dropped (OVERFLOW) rather than slowing the study down."""

    def __init__(self) -> None:
        self._queue: queue.Queue[WatchEvent] = queue.Queue(maxsize=WATCH_QUEUE)
        # Holds one of Controller's watcher slots until unwatched (under its watch lock).
        self.counted = False

    def put(self, event: WatchEvent) -> bool:
        try:
            self._queue.put_nowait(event)
            return True
        except queue.Full:
            return False

    def end(self, event: WatchEvent) -> None:
        """A last event that always fits (it ends the stream)."""
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                self._queue.get_nowait()

    def get(self, timeout: float) -> WatchEvent | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class WatchSlots:
    """At most `limit` live subscriptions (None: no limit), each a server thread."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._watching = 0
        self._lock = threading.Lock()

    def take(self, subscription: Subscription) -> None:
        with self._lock:
            if self.limit is not None and self._watching >= self.limit:
                raise TooManyWatchers(
                    (
                        f"{self.limit} watch streams are already open, the most "
                        "this controller allows; close one, or restart sanas-server with a "
                        "higher --max-watchers"
                    )
                    if self.limit
                    else (
                        "this controller serves no watch streams (--max-watchers 0); "
                        "restart sanas-server with --max-watchers N to allow N of them"
                    )
                )
            self._watching += 1
            subscription.counted = True

    def usage(self) -> tuple[int, int]:
        """(streams open, the cap); no cap counts as the streams open (for metrics)."""
        with self._lock:
            used = self._watching
        return used, used if self.limit is None else self.limit

    def free(self, subscription: Subscription) -> None:
        """Give a subscription's slot back; safe to call more than once."""
        with self._lock:
            if subscription.counted:
                subscription.counted = False
                self._watching -= 1


def current_state(summary: StudySummary, clock: Callable[[], float]) -> list[WatchEvent]:
    """What a new watcher sees first: the state, and whether the study is completed."""
    out = [WatchEvent(WatchKind.CURRENT_STATE, clock(), study=summary)]
    if summary.completed:
        out.append(WatchEvent(WatchKind.STUDY_COMPLETED, clock(), study=summary))
    return out


_KINDS = {
    Suggest: WatchKind.TRIAL_SUGGESTED,
    Reissue: WatchKind.LEASE_EXPIRED,
    Complete: WatchKind.TRIAL_COMPLETED,
    Skip: WatchKind.TRIAL_SKIPPED,
}


def watch_events(study: Study, records: Iterable[Record], now: float) -> list[WatchEvent]:
    """The stream events that journal records, just recorded in `study`, make (read
    from the study as it is after them; nothing is changed)."""
    out = []
    for record in records:
        event = decode_event(record)
        if isinstance(event, Progress):
            trial = study.trials[event.trial_id]
            point = (event.step, event.value, event.time)
            out.append(WatchEvent(WatchKind.TRIAL_PROGRESS, now, trial, measurement=point))
            if event.stopped:
                out.append(WatchEvent(WatchKind.TRIAL_STOPPED, now, trial=trial))
            continue
        kind = _KINDS.get(type(event))
        if kind is None:
            continue
        trial = study.trials[event.trial_id]  # type: ignore[union-attr]
        out.append(WatchEvent(kind, now, trial=trial))
        if (
            kind is WatchKind.TRIAL_COMPLETED
            and not trial.infeasible
            and (standing := study.policy.standing()).best_reward == trial.reward
            and standing.best_tokens == trial.tokens
        ):
            out.append(WatchEvent(WatchKind.NEW_BEST, now, trial=trial))
    if study.completed:
        out.append(WatchEvent(WatchKind.STUDY_COMPLETED, now, study=study.summary()))
    return out


def deliver(watchers: list[Subscription], items: list[WatchEvent], now: float) -> None:
    """Queue the items for every watcher; one that is full is ended (OVERFLOW) and
    removed from `watchers`."""
    for subscription in list(watchers):
        for item in items:
            if not subscription.put(item):
                subscription.end(WatchEvent(WatchKind.OVERFLOW, now))
                watchers.remove(subscription)
                break
