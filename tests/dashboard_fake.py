"""A stand-in for the dashboard's `sanas.Client`: studies of any size in memory, watch
streams that stay open (idle, as a quiet study's do) until cancelled, and a count of the
streams open, as the controller's --max-watchers counts them.

Imported by the tests, and run as a script it serves the real dashboard app on it:

    PYTHONPATH=python_client python tests/dashboard_fake.py --trials 50000
    # prints "sanas dashboard on URL"

(a 50,000-trial study through a real controller takes ~15 s to build and load; the
dashboard's work on it is the same either way)."""

from __future__ import annotations

import argparse
import random
import sys
import threading
from collections.abc import Iterator

from sanas.errors import StudyNotFoundError, TooManyWatchersError
from sanas.v1 import sanas_pb2 as pb


def make_trials(n: int, seed: int = 1, points: int = 0) -> list[pb.Trial]:
    """n succeeded trials of 8 trainers with uniform rewards in [0, 1) and `points`
    progress reports each."""
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        t = pb.Trial(
            trial_id=i,
            state=pb.TRIAL_STATE_SUCCEEDED,
            reward=rng.random(),
            client_id=f"trainer-{i % 8}",
            temperature=1.0,
            tokens=[rng.randrange(8) for _ in range(20)],
            issue_count=1,
        )
        t.create_time.FromSeconds(1_000_000 + i)
        if points:
            t.measurements.extend(
                pb.Measurement(step=s, value=rng.random()) for s in range(1, points + 1)
            )
        trials.append(t)
    return trials


class FakeStream:
    """One WatchStudy call: the current state, then nothing until cancelled."""

    def __init__(self, owner: FakeClient, study: pb.Study) -> None:
        self.owner = owner
        self.study = study
        self.sent = False
        self.cancelled = threading.Event()

    def __iter__(self) -> FakeStream:
        return self

    def __next__(self) -> pb.WatchStudyResponse:
        if not self.sent:
            self.sent = True
            if self.owner.max_watchers is not None:
                with self.owner.lock:
                    # Counted as the controller does: every stream not yet cancelled.
                    if self.owner.open_streams(exclude=self) >= self.owner.max_watchers:
                        self.cancelled.set()
                        raise TooManyWatchersError(
                            "RESOURCE_EXHAUSTED: watch streams are already open",
                            code="RESOURCE_EXHAUSTED",
                            reason="ERROR_REASON_TOO_MANY_WATCHERS",
                        )
            return pb.WatchStudyResponse(type=pb.STUDY_EVENT_TYPE_CURRENT_STATE, study=self.study)
        if self.study.state != pb.STUDY_STATE_ACTIVE:
            self.cancelled.set()  # a completed study's stream ends, and frees its slot
            raise StopIteration
        self.cancelled.wait()
        raise StopIteration

    def cancel(self) -> None:
        self.cancelled.set()


class FakeClient:
    """Studies `name -> trials`; each is active unless named in `completed`."""

    def __init__(
        self,
        studies: dict[str, list[pb.Trial]],
        completed: frozenset[str] = frozenset(),
        max_watchers: int | None = None,
    ) -> None:
        self.studies = studies
        self.completed = completed
        self.max_watchers = max_watchers
        self.streams: list[FakeStream] = []
        self.lock = threading.Lock()

    def study(self, study_id: str) -> pb.Study:
        if study_id not in self.studies:
            raise StudyNotFoundError(f"NOT_FOUND: no study {study_id!r}", code="NOT_FOUND")
        trials = self.studies[study_id]
        done = study_id in self.completed
        study = pb.Study(
            study_id=study_id,
            state=pb.STUDY_STATE_COMPLETED if done else pb.STUDY_STATE_ACTIVE,
            budget_remaining=0 if done else 10,
        )
        study.config.search_steps = len(trials) + study.budget_remaining
        study.trial_counts.succeeded = len(trials)
        return study

    def open_streams(self, exclude: FakeStream | None = None) -> int:
        return sum(not s.cancelled.is_set() for s in self.streams if s is not exclude)

    def open_watch(self, study_id: str) -> FakeStream:
        stream = FakeStream(self, self.study(study_id))
        with self.lock:
            self.streams.append(stream)
        return stream

    def watch_study(self, study_id: str) -> Iterator[pb.WatchStudyResponse]:
        yield from self.open_watch(study_id)

    def list_trials(
        self, study_id: str, state: int = pb.TRIAL_STATE_UNSPECIFIED, page_size: int = 0
    ) -> Iterator[pb.Trial]:
        for t in self.studies[study_id]:
            if state in (pb.TRIAL_STATE_UNSPECIFIED, t.state):
                yield t

    def get_study(self, study_id: str) -> pb.Study:
        return self.study(study_id)

    def list_studies(self) -> Iterator[pb.Study]:
        return iter([self.study(k) for k in self.studies])

    def close(self) -> None:
        for s in self.streams:
            s.cancel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50_000)
    args = parser.parse_args()
    from sanas.dashboard import serve

    fake = FakeClient({"big": make_trials(args.trials)})
    return serve(lambda: fake, "fake-controller", port=0)  # type: ignore[arg-type, return-value]


if __name__ == "__main__":
    sys.exit(main())
