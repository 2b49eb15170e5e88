"""One WatchStudy stream per open study, shared by every browser tab that shows it.

A StudyFeed's thread opens the stream, waits for its first event (the current state),
lists the trials once into the TrialIndex, then applies each event to the index and
hands it to the subscribed pages (asyncio queues, through the event loop). Events that
arrive while ListTrials runs wait in the stream, so none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..client import Client
from ..errors import SanasError, StudyNotFoundError
from ..v1 import sanas_pb2 as pb
from .index import Row, TrialIndex

log = logging.getLogger("sanas.dashboard")

EVENT_NAMES = {v: k.removeprefix("STUDY_EVENT_TYPE_").lower() for k, v in pb.StudyEventType.items()}
MAX_FEEDS = 64
QUEUE_LIMIT = 1000
LIST_PAGE = 1000  # ListTrials page size (the controller's maximum)


def study_json(s: pb.Study) -> dict[str, Any]:
    c = s.trial_counts
    return {
        "study_id": s.study_id,
        "state": pb.StudyState.Name(s.state).removeprefix("STUDY_STATE_").lower(),
        "search_steps": s.config.search_steps,
        "used": s.config.search_steps - s.budget_remaining,
        "budget_remaining": s.budget_remaining,
        "counts": {
            "active": c.active,
            "succeeded": c.succeeded,
            "infeasible": c.infeasible,
            "stopped": c.stopped,
            "skipped": c.skipped,
        },
        "completed": c.succeeded + c.infeasible + c.stopped,
        "best_reward": s.best_reward if s.HasField("best_reward") else None,
        "best_tokens": list(s.best_tokens),
        "current_reward": s.current_reward if s.HasField("current_reward") else None,
        "temperature": s.temperature,
        "accepted_moves": s.accepted_moves,
        "rejected_moves": s.rejected_moves,
        "lease_expirations": s.lease_expirations,
        "lease_seconds": s.config.lease_duration.ToNanoseconds() / 1e9,
        "create_time": s.create_time.seconds + s.create_time.nanos / 1e9,
        "broken_reason": s.broken_reason,
        "steps_saved": s.steps_saved,
    }


class StudyFeed:
    def __init__(self, client: Client, study_id: str) -> None:
        self.client = client
        self.study_id = study_id
        self.index = TrialIndex()
        self.study: pb.Study | None = None
        self.study_fetched = 0.0  # time.monotonic() of the last GetStudy
        self.ready = threading.Event()
        self.error: str | None = None
        self.not_found = False
        self.finished = False  # the study completed: the stream ended for good
        self.streams_opened = 0
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._call: Any = None
        self.thread = threading.Thread(target=self._run, name=f"watch-{study_id}", daemon=True)
        self.thread.start()

    # -- subscribers ---------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[dict]:
        queue: asyncio.Queue[dict] = asyncio.Queue(QUEUE_LIMIT)
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict]) -> None:
        with self._lock:
            self._subscribers = {s for s in self._subscribers if s[1] is not queue}

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for loop, inbox in targets:
            with contextlib.suppress(RuntimeError):  # a loop that has closed
                loop.call_soon_threadsafe(_offer, inbox, message)

    # -- the stream ----------------------------------------------------------------------
    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._watch()
                if self.finished:
                    return
                delay = 0.5
            except SanasError as exc:
                self.error = str(exc)
                self._publish({"type": "error", "message": str(exc)})
                log.warning("watch %s: %s; again in %.1f s", self.study_id, exc, delay)
                self.not_found = isinstance(exc, StudyNotFoundError)
                self.ready.set()
                if self.not_found:  # deleted, or never was: nothing to watch
                    return
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 10.0)

    def _watch(self) -> None:
        self.streams_opened += 1
        events = self.client.watch_study(self.study_id)
        first = next(events, None)
        if first is None:
            return
        self._apply_study(first.study)
        # Listed after the stream is open: later changes come as events.
        self.index.load_rows(self._listed_rows())
        self.error = None
        self.ready.set()
        self._publish({"type": "reload", "study": study_json(first.study)})
        for event in events:
            if self._stop.is_set():
                return
            self._apply(event)
        # The stream ends when the study completes.
        self.finished = self.study is not None and self.study.state != pb.STUDY_STATE_ACTIVE
        if not self.finished:  # the server went away: look again
            with contextlib.suppress(SanasError):
                self._apply_study(self.client.get_study(self.study_id))
                self.finished = self.study is not None and (
                    self.study.state != pb.STUDY_STATE_ACTIVE
                )
        self._publish({"type": "study", "study": study_json(self.study or pb.Study())})

    def _listed_rows(self) -> list[Row]:
        """Every trial, by ListTrials, converted while the next page is on its way (the
        gRPC wait releases the GIL): about half the time of listing, then converting."""
        pages: queue.Queue[list[pb.Trial] | BaseException | None] = queue.Queue(8)

        def produce() -> None:
            try:
                chunk: list[pb.Trial] = []
                for t in self.client.list_trials(self.study_id, page_size=LIST_PAGE):
                    chunk.append(t)
                    if len(chunk) == LIST_PAGE:
                        pages.put(chunk)
                        chunk = []
                pages.put(chunk)
                pages.put(None)
            except BaseException as exc:  # handed to the consumer, raised there
                pages.put(exc)

        threading.Thread(target=produce, name=f"list-{self.study_id}", daemon=True).start()
        rows: list[Row] = []
        while True:
            item = pages.get()
            if item is None:
                return rows
            if isinstance(item, BaseException):
                raise item
            rows.extend(Row.from_pb(t) for t in item)

    def _apply_study(self, study: pb.Study) -> None:
        self.study = study

    def _apply(self, event: pb.WatchStudyResponse) -> None:
        kind = EVENT_NAMES.get(event.type, "unknown")
        message: dict[str, Any] = {"type": kind, "time": time.time()}
        if event.HasField("study"):
            self._apply_study(event.study)
            message["study"] = study_json(event.study)
        if event.HasField("trial"):
            row: Row | None
            if event.type == pb.STUDY_EVENT_TYPE_TRIAL_PROGRESS:
                m = event.measurement
                self.index.add_measurement(event.trial, m.step, m.value)
                row = self.index.get(event.trial.trial_id)
            else:
                row = self.index.update(event.trial)
            if row is not None:
                message["trial"] = row.to_json()
        self._publish(message)

    def stop(self) -> None:
        self._stop.set()


def _offer(queue: asyncio.Queue[dict], message: dict[str, Any]) -> None:
    if queue.full():  # a page that stopped reading: it reloads on "overflow"
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
        message = {"type": "overflow"}
    queue.put_nowait(message)


class Hub:
    """The open studies' feeds (at most MAX_FEEDS; the least recently used goes first)."""

    def __init__(self, client_factory: Callable[[], Client]) -> None:
        self._client_factory = client_factory
        self._feeds: dict[str, StudyFeed] = {}
        self._lock = threading.Lock()
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def feed(self, study_id: str) -> StudyFeed:
        with self._lock:
            feed = self._feeds.pop(study_id, None)
            if feed is None or (feed.error and not feed.thread.is_alive()):
                feed = StudyFeed(self.client, study_id)
            self._feeds[study_id] = feed  # most recent last
            # Drop the least recently opened studies nobody is viewing; only viewed ones
            # (bounded by the event streams the app accepts) may keep it over the cap.
            for old in list(self._feeds):
                if len(self._feeds) <= MAX_FEEDS:
                    break
                if old != study_id and not self._feeds[old].subscribers:
                    self._feeds.pop(old).stop()
            return feed

    def drop(self, study_id: str) -> None:
        with self._lock:
            feed = self._feeds.pop(study_id, None)
        if feed is not None:
            feed.stop()

    def feeds(self) -> dict[str, StudyFeed]:
        return dict(self._feeds)

    def close(self) -> None:
        for feed in list(self._feeds.values()):
            feed.stop()
        if self._client is not None:
            self._client.close()
