"""One WatchStudy stream per open study, shared by every browser tab that shows it.

A StudyFeed's thread opens the stream, waits for its first event (the current state),
lists the trials once into the TrialIndex, then applies each event to the index and
hands it to the subscribed pages (asyncio queues, through the event loop). Events that
arrive while ListTrials runs wait in the stream, so none is lost.

Each stream takes one of the controller's --max-watchers slots until it is cancelled, so
the Hub holds at most `max_watches` of them (below the controller's limit, so other
clients keep some), cancels the stream of every feed it drops, and drops feeds nobody has
looked at for `idle_seconds`.
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

from ..client import Client, WatchStream
from ..errors import SanasError, StudyDeletedError, StudyNotFoundError, TooManyWatchersError
from ..v1 import sanas_pb2 as pb
from .index import Row, TrialIndex, policy_text

log = logging.getLogger("sanas.dashboard")

EVENT_NAMES = {v: k.removeprefix("STUDY_EVENT_TYPE_").lower() for k, v in pb.StudyEventType.items()}
MAX_FEEDS = 64  # study indexes held (a completed study's holds no stream)
QUEUE_LIMIT = 1000
LIST_PAGE = 1000  # ListTrials page size (the controller's maximum)
LIST_CHUNK_MEASUREMENTS = 50_000
LIST_QUEUE = 2
# sanas-server's default --max-watchers (sanas_server.server.DEFAULT_MAX_WATCHERS; a test
# checks they agree). The dashboard takes at most half by default, so `sanas watch`, other
# dashboards and scripts keep the rest.
CONTROLLER_MAX_WATCHERS = 64
DEFAULT_MAX_WATCHES = CONTROLLER_MAX_WATCHERS // 2
# A feed with no page open and no request for this long cancels its stream and is
# dropped, index and all; opening the study again lists its trials again.
DEFAULT_IDLE_SECONDS = 60.0
# What a refused page is told to wait (Retry-After) when every stream is in use.
RETRY_AFTER_SECONDS = 10


class WatchCapReached(Exception):
    """Every stream the dashboard may hold shows a page that is open (or is still loading
    for one): no study more can be watched until one closes. The app answers 503 with
    Retry-After."""


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
        "policy": policy_text(s),
        "rank_correlation": s.model_fit.rank_correlation if s.HasField("model_fit") else None,
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
        self.refused = False  # the controller had no watch slot left
        self.streams_opened = 0
        self.last_used = time.monotonic()  # the last request, or the last page closing
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream: WatchStream | None = None
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
        self.touch()  # idle from when the last page closed, not from when it opened

    def touch(self) -> None:
        self.last_used = time.monotonic()

    @property
    def watching(self) -> bool:
        """The feed holds, or is about to reopen, a WatchStudy stream (a controller slot)."""
        return self.thread.is_alive() and not self._stop.is_set()

    def idle_for(self, now: float) -> float:
        """Seconds with no page open and no request; 0 while either, or while loading
        (a page is waiting for it)."""
        if self._subscribers or not self.ready.is_set():
            return 0.0
        return max(0.0, now - self.last_used)

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
                if self._stop.is_set():
                    return
                self.error = str(exc)
                self._publish({"type": "error", "message": str(exc)})
                # A soft-deleted study has nothing to watch either (until an undelete).
                self.not_found = isinstance(exc, StudyNotFoundError | StudyDeletedError)
                self.refused = isinstance(exc, TooManyWatchersError)
                if not self.refused:
                    log.warning("watch %s: %s; again in %.1f s", self.study_id, exc, delay)
                self.ready.set()
                # Deleted or never was: nothing to watch. Refused: the Hub frees a slot
                # of its own and tries again, or the page is told to retry later.
                if self.not_found or self.refused:
                    return
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 10.0)

    def _watch(self) -> None:
        self.streams_opened += 1
        events = self.client.open_watch(self.study_id)
        with self._lock:
            if self._stop.is_set():  # stopped while it was being opened
                events.cancel()
                return
            self._stream = events
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
        if self._stop.is_set():  # cancelled by stop()
            return
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
        gRPC wait releases the GIL): about half the time of listing, then converting.
        Chunks end at LIST_PAGE trials or LIST_CHUNK_MEASUREMENTS progress reports, and
        at most LIST_QUEUE wait: trials with 10,000 reports each are ~1 MB apiece as
        protobuf, and 300 of them held at once took 250 MB before they were cut down."""
        pages: queue.Queue[list[pb.Trial] | BaseException | None] = queue.Queue(LIST_QUEUE)

        def hand_over(item: list[pb.Trial] | BaseException | None) -> bool:
            while not self._stop.is_set():  # a stopped feed's listing is dropped
                try:
                    pages.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    pass
            return False

        def produce() -> None:
            try:
                chunk: list[pb.Trial] = []
                measured = 0
                for t in self.client.list_trials(self.study_id, page_size=LIST_PAGE):
                    chunk.append(t)
                    measured += len(t.measurements)
                    if len(chunk) == LIST_PAGE or measured >= LIST_CHUNK_MEASUREMENTS:
                        if not hand_over(chunk):
                            return
                        chunk, measured = [], 0
                if hand_over(chunk):
                    hand_over(None)
            except BaseException as exc:  # handed to the consumer, raised there
                hand_over(exc)

        threading.Thread(target=produce, name=f"list-{self.study_id}", daemon=True).start()
        rows: list[Row] = []
        while True:
            try:
                item = pages.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set():
                    return rows
                continue
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
        """Ends the feed and cancels its stream now: the controller frees the slot at
        once, not at the study's next event (which may be hours away)."""
        with self._lock:
            self._stop.set()
            stream = self._stream
        if stream is not None:
            stream.cancel()


def _offer(queue: asyncio.Queue[dict], message: dict[str, Any]) -> None:
    if queue.full():  # a page that stopped reading: it reloads on "overflow"
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
        message = {"type": "overflow"}
    queue.put_nowait(message)


class Hub:
    """The open studies' feeds: at most `max_watches` of them hold a WatchStudy stream
    and MAX_FEEDS an index; past either, the least recently used feed without a page
    open is dropped (its stream cancelled). Feeds idle for `idle_seconds` are dropped by
    a reaper thread."""

    def __init__(
        self,
        client_factory: Callable[[], Client],
        *,
        max_watches: int = DEFAULT_MAX_WATCHES,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        if max_watches < 1:
            raise ValueError(f"max_watches = {max_watches}: must be at least 1")
        if not idle_seconds > 0:
            raise ValueError(f"idle_seconds = {idle_seconds}: must be above 0")
        self._client_factory = client_factory
        self.max_watches = max_watches
        self.idle_seconds = idle_seconds
        self._feeds: dict[str, StudyFeed] = {}
        self._prefetched: set[str] = set()
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="feed-reaper", daemon=True)
        self._reaper.start()

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def watching(self) -> int:
        """Feeds holding (or reopening) a stream."""
        with self._lock:
            return self._watching()

    def _watching(self) -> int:
        return sum(f.watching for f in self._feeds.values())

    def feed(self, study_id: str) -> StudyFeed:
        """The study's feed, started if need be; raises WatchCapReached when every stream
        the dashboard may hold shows an open page."""
        with self._lock:
            feed = self._feeds.pop(study_id, None)
            if feed is None or (feed.error and not feed.thread.is_alive()):
                if feed is not None:
                    feed.stop()
                self._make_room(1)
                feed = StudyFeed(self.client, study_id)
            feed.touch()
            self._feeds[study_id] = feed  # most recent last
            self._trim()
            return feed

    def prefetch(self, study_id: str) -> None:
        """Index a study before anyone opens it, once per study and only into the first
        half of the slots: a loading feed cannot be dropped, so prefetches never hold
        what a page opening needs; one that nobody opens is dropped when idle and not
        fetched again."""
        with self._lock:
            if study_id in self._feeds or study_id in self._prefetched:
                return
            if self._watching() >= self.max_watches // 2:
                return
            if len(self._prefetched) > 10_000:  # bounded: forget, at worst fetch again
                self._prefetched.clear()
            self._prefetched.add(study_id)
            self._feeds[study_id] = StudyFeed(self.client, study_id)
            self._trim()

    def make_room(self) -> bool:
        """Frees one stream of a feed without a page open (the controller refused a
        watch: its slots are taken, maybe by us). False when there is none."""
        with self._lock:
            victim = self._least_used_unviewed(lambda f: f.watching)
            if victim is None:
                return False
            self._feeds.pop(victim).stop()
            return True

    def _least_used_unviewed(self, also: Callable[[StudyFeed], bool]) -> str | None:
        candidates = [
            (f.last_used, k)
            for k, f in self._feeds.items()
            if not f.subscribers and f.ready.is_set() and also(f)
        ]
        return min(candidates)[1] if candidates else None

    def _make_room(self, needed: int) -> None:
        # Called with the lock held. Loading feeds (a request waits on them) are kept.
        while self._watching() + needed > self.max_watches:
            victim = self._least_used_unviewed(lambda f: f.watching)
            if victim is None:
                raise WatchCapReached(
                    f"the dashboard watches {self.max_watches} studies at once (--max-watches)"
                    " and each shows an open page or is loading: close one, or retry in "
                    f"{RETRY_AFTER_SECONDS} s"
                )
            self._feeds.pop(victim).stop()

    def _trim(self) -> None:
        # Called with the lock held: at most MAX_FEEDS indexes; only viewed ones (bounded
        # by the event streams the app accepts) may keep it over.
        while len(self._feeds) > MAX_FEEDS:
            victim = self._least_used_unviewed(lambda f: True)
            if victim is None:
                return
            self._feeds.pop(victim).stop()

    def reap(self, now: float | None = None) -> list[str]:
        """Drops the feeds idle for idle_seconds (their streams cancelled); their ids."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [k for k, f in self._feeds.items() if f.idle_for(now) >= self.idle_seconds]
            for study_id in idle:
                self._feeds.pop(study_id).stop()
        if idle:
            log.info("dropped %d idle studies: %s", len(idle), ", ".join(idle[:10]))
        return idle

    def _reap_loop(self) -> None:
        interval = min(5.0, max(0.1, self.idle_seconds / 4))
        while not self._closed.wait(interval):
            try:
                self.reap()
            except Exception:  # a bug here must not end reaping for good
                log.exception("reaping idle feeds")

    def drop(self, study_id: str) -> None:
        with self._lock:
            feed = self._feeds.pop(study_id, None)
        if feed is not None:
            feed.stop()

    def feeds(self) -> dict[str, StudyFeed]:
        with self._lock:
            return dict(self._feeds)

    def close(self) -> None:
        self._closed.set()
        for feed in self.feeds().values():
            feed.stop()
        if self._client is not None:
            self._client.close()
