"""What a suggestion costs, and how long it holds its study's lock, through a real
Controller (in-memory storage), for the annealer and the model-guided policy.

usage: PYTHONPATH=server:python_client python bench/suggest_cost.py [--counts 100,1000,10000]
       [--repeats 50] [--seconds 30] [--quick]

For each policy and each count of finished results: the study is first brought to that
count (the model-guided policy proposes as the annealer meanwhile: only the count
matters here, and it keeps the set-up short), then `repeats` rounds, at most `seconds`
each: a result arrives, then one SuggestTrial (and, separately, one CompleteTrial with
suggest_next) is timed, so every model-guided suggestion fits its surrogate again. The
study's lock is replaced by one that times each hold: "lock held" is the sum of the
holds one call made (taking the fit job, then installing it and deciding), the fit
itself running outside. p50 / p99 in milliseconds, on a 5 x 9 token space.
"""

from __future__ import annotations

import os

# As sanas-server does (docs/operations.md), before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sanas.spaces import SpaceConfig
from sanas_server.annealer import Annealer
from sanas_server.controller import Controller
from sanas_server.guided import MIN_RESULTS, GuidedAnnealer
from sanas_server.policy import Policy
from sanas_server.spec import StudyRequest
from sanas_server.storage import MemoryStorage
from sanas_server.study import POLICIES

TABLE = (9,) * 5


class TimedLock:
    """A Lock that records how long each hold lasted (seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since = 0.0
        self.holds: list[float] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got:
            self._since = time.perf_counter()
        return got

    def release(self) -> None:
        self.holds.append(time.perf_counter() - self._since)
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def study_at(policy: type[Policy], count: int) -> tuple[Controller, TimedLock, Any]:
    """A controller with study "b" after `count` results, one trial running."""
    name = {cls: n for n, cls in POLICIES.items()}[policy]
    c = Controller(MemoryStorage())
    request = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=TABLE),),
        search_steps=count + 10_000,
        seed=count,
        policy=name,
    )
    c.create_study("b", request)
    entry = c._entry("b")
    lock = TimedLock()
    entry.lock = lock  # type: ignore[assignment]
    guided = entry.study.policy if isinstance(entry.study.policy, GuidedAnnealer) else None
    if guided is not None:
        guided.min_results = 10**9  # the set-up proposes as the annealer: no fits
    rng = np.random.default_rng(count)
    for _ in range(count):
        trial = c.suggest_trial("b", "w")
        c.complete_trial("b", trial.trial_id, float(rng.random()), False)
    if guided is not None:
        guided.min_results = MIN_RESULTS
    return c, lock, rng


def measure(
    policy: type[Policy], count: int, repeats: int, seconds: float, with_next: bool
) -> tuple[list[float], list[float]]:
    """(call ms, lock-held ms) of up to `repeats` timed calls after `count` results."""
    c, lock, rng = study_at(policy, count)
    trial = c.suggest_trial("b", "w")
    calls: list[float] = []
    held: list[float] = []
    ends = time.monotonic() + seconds
    while len(calls) < repeats and time.monotonic() < ends:
        if with_next:
            lock.holds.clear()
            start = time.perf_counter()
            done = c.complete_trial(
                "b", trial.trial_id, float(rng.random()), False, suggest_next=True, client_id="w"
            )
            calls.append(1000 * (time.perf_counter() - start))
            assert done.next_trial is not None
            trial = done.next_trial
        else:
            c.complete_trial("b", trial.trial_id, float(rng.random()), False)  # a new result
            lock.holds.clear()
            start = time.perf_counter()
            trial = c.suggest_trial("b", "w")
            calls.append(1000 * (time.perf_counter() - start))
        held.append(1000 * sum(lock.holds))
    return calls, held


def report(counts: list[int], repeats: int, seconds: float) -> str:
    out = [
        "| policy | call | results so far | calls | p50 ms | p99 ms | lock held p50 ms "
        "| lock held p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    pct: Callable[[list[float]], Any] = lambda xs: np.percentile(xs, [50, 99])  # noqa: E731
    for policy in (Annealer, GuidedAnnealer):
        for count in counts:
            for with_next in (False, True):
                calls, held = measure(policy, count, repeats, seconds, with_next)
                (c50, c99), (h50, h99) = pct(calls), pct(held)
                call = "CompleteTrial + next" if with_next else "SuggestTrial"
                out.append(
                    f"| {policy.__name__} | {call} | {count} | {len(calls)} | {c50:.2f} "
                    f"| {c99:.2f} | {h50:.2f} | {h99:.2f} |"
                )
                print(out[-1], flush=True)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="100,1000,10000")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="per measurement, at most")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 results, 5 calls")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    if args.quick:
        counts, args.repeats, args.seconds = [20], 5, 10.0
    print(report(counts, args.repeats, args.seconds))


if __name__ == "__main__":
    main()
