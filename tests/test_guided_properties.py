"""The annealer's general properties (tests/test_annealer.py) for the model-guided policy
too, with its surrogate in use from the 3rd result: never a vector twice, the whole of a
small space then SpaceExhausted, ranges of one never moved, bounded work on a huge range,
an infeasible start that does not trap it, and rewards at the study's limits."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from sanas_server.annealer import SpaceExhausted
from sanas_server.guided import GuidedAnnealer
from sanas_server.policy import MAX_ABS_REWARD


def guided(table: list[int], start: list[int], seed: int = 0) -> GuidedAnnealer:
    return GuidedAnnealer(table, start, 10.0, 0.85, seed, min_results=3)


def peak(tokens: tuple[int, ...]) -> float:
    return -float(sum((t - 4) ** 2 for t in tokens))


def test_no_vector_twice_and_every_token_in_range() -> None:
    a = guided([9] * 5, [1, 2, 3, 4, 5])
    assert a.draw() == (1, 2, 3, 4, 5)
    seen = {(1, 2, 3, 4, 5)}
    a.observe((1, 2, 3, 4, 5), peak((1, 2, 3, 4, 5)), False)
    for _ in range(400):
        t = a.draw()
        assert t not in seen and all(0 <= v < 9 for v in t)
        seen.add(t)
        a.observe(t, peak(t), False)
    assert a.fits > 0


def test_whole_small_space_is_issued_then_exhaustion_is_reported() -> None:
    a = guided([3, 2, 4], [0, 0, 0], 1)
    got = set()
    for _ in range(24):
        t = a.draw()
        got.add(t)
        a.observe(t, peak(t), False)
    assert len(got) == 24 and a.fits > 0
    with pytest.raises(SpaceExhausted, match="all 24 token vectors"):
        a.draw()


def test_ranges_of_one_are_never_moved() -> None:
    a = guided([1, 5, 1, 7], [0, 0, 0, 0], 2)
    for _ in range(30):
        t = a.draw()
        assert t[0] == 0 and t[2] == 0
        a.observe(t, peak(t), False)
    assert a.fits > 0


@pytest.mark.parametrize("big", [10**6, 2**31 - 1])
def test_a_huge_range_costs_bounded_memory(big: int) -> None:
    a = guided([2, big, big], [0, 0, 0], 6)
    for _ in range(12):
        t = a.draw()
        a.observe(t, -float(t[1] % 97), False)
    tracemalloc.start()
    try:
        proposals = []
        for _ in range(20):
            t = a.draw()
            proposals.append(t)
            a.observe(t, -float(t[1] % 97), False)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 4 << 20  # the pool and a fit on ~30 results, never the range
    assert len(set(proposals)) == 20 and a.fits > 0


def test_an_infeasible_start_does_not_trap_the_search() -> None:
    a = guided([10] * 6, [9] * 6, 3)
    for _ in range(200):
        t = a.draw()
        feasible = sum(t) <= 20
        a.observe(t, -float(sum(t)), not feasible)
        if feasible:
            break
    else:
        pytest.fail("never left the infeasible region")
    # and the surrogate then learns from feasible results only
    for _ in range(10):
        t = a.draw()
        a.observe(t, -float(sum(t)), sum(t) > 20)
    assert all(sum(t) <= 20 for t, _ in a.results)


@pytest.mark.parametrize(
    "rewards",
    [
        [MAX_ABS_REWARD, -MAX_ABS_REWARD],
        [5e-324, 0.0],
        [1.0, 1.0],  # no spread at all
    ],
    ids=["limits", "subnormal", "constant"],
)
def test_rewards_at_the_limits_never_break_the_surrogate(rewards: list[float]) -> None:
    a = guided([9] * 4, [0] * 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warning from numpy
        for n in range(40):
            t = a.draw()
            a.observe(t, rewards[n % len(rewards)], False)
        surrogate = a.surrogate()
        mean, sd = surrogate.posterior(np.array([a.draw()]))
    assert np.isfinite(mean).all() and np.isfinite(sd).all() and a.fits > 0
