"""The annealer alone: pure, seeded, no I/O."""

from __future__ import annotations

import math
import tracemalloc

import pytest

from sanas.spaces import SpaceConfig, SpaceConfigError, check_range_table
from sanas_server.annealer import TEMPERATURE_FLOOR_RATIO, Annealer, SpaceExhausted, spread_of
from sanas_server.errors import InvalidArgument
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.study import Study
from sanas_server.trials import TrialState


def peak(tokens: tuple[int, ...]) -> float:
    return -float(sum((t - 4) ** 2 for t in tokens))


def run(seed: int, steps: int, table: list[int] | None = None) -> list[tuple[int, ...]]:
    a = Annealer(table or [9] * 5, [0] * len(table or [9] * 5), 10.0, 0.85, seed)
    out = []
    for _ in range(steps):
        t = a.draw()
        a.observe(t, peak(t), False)
        out.append(t)
    return out


def test_same_seed_same_search_and_different_seed_differs():
    assert run(7, 200) == run(7, 200)
    assert run(7, 200) != run(8, 200)


def test_first_proposal_is_the_start_and_no_vector_is_issued_twice():
    a = Annealer([9] * 5, [1, 2, 3, 4, 5], 10.0, 0.85, 0)
    assert a.draw() == (1, 2, 3, 4, 5)
    seen = {(1, 2, 3, 4, 5)}
    for _ in range(2000):
        t = a.draw()
        assert t not in seen
        assert all(0 <= v < 9 for v in t)
        seen.add(t)
        a.observe(t, peak(t), False)


def test_exhausted_neighbourhood_kicks_instead_of_stopping():
    # PaddleSlim stopped 30/30 runs at 200 evaluations on this space (5 tokens x 9).
    a = Annealer([9] * 5, [4] * 5, 1.0, 0.85, 3)
    seen = set()
    for _ in range(1000):
        t = a.draw()
        seen.add(t)
        a.observe(t, peak(t), False)  # the base sits on the optimum: its 40 neighbours go
    assert len(seen) == 1000
    distances = {sum(x != 4 for x in t) for t in seen}
    assert max(distances) >= 3  # kicks took it past the optimum's 1- and 2-hop rings


def test_whole_small_space_is_issued_then_exhaustion_is_reported():
    a = Annealer([3, 2, 4], [0, 0, 0], 1.0, 0.85, 1)
    got = {a.draw() for _ in range(24)}
    assert len(got) == 24
    with pytest.raises(SpaceExhausted, match="all 24 token vectors"):
        a.draw()


def test_ranges_of_one_are_never_moved():
    a = Annealer([1, 5, 1], [0, 0, 0], 1.0, 0.85, 2)
    tokens = {a.draw() for _ in range(5)}
    assert {(t[0], t[2]) for t in tokens} == {(0, 0)}


def test_temperature_has_a_floor_and_never_divides_by_zero():
    a = Annealer([50] * 4, [0] * 4, 1.0, 0.85, 5)
    for i in range(6000):  # PaddleSlim died of ZeroDivisionError after ~4,600 rewards
        t = a.draw()
        a.observe(t, -float(i % 7), False)
    assert a.temperature == pytest.approx(1.0 * TEMPERATURE_FLOOR_RATIO)
    assert a.temperature > 0


def test_better_reward_always_accepted_worse_rarely_when_cold():
    a = Annealer([10] * 3, [0, 0, 0], 1e-3, 0.5, 0)
    first = a.draw()
    assert a.observe(first, 0.5, False).accepted
    second = a.draw()
    assert a.observe(second, 0.9, False).accepted
    assert a.base_tokens == second
    worse = a.draw()
    assert not a.observe(worse, 0.1, False).accepted  # exp(-0.8 / 2.5e-4) == 0
    assert a.base_tokens == second and a.best_reward == 0.9


def test_worse_reward_accepted_with_the_metropolis_probability_when_hot():
    accepted = 0
    trials = 2000
    for seed in range(trials):
        a = Annealer([10] * 3, [0, 0, 0], 1.0, 1.0, seed)
        a.observe(a.draw(), 1.0, False)
        accepted += a.observe(a.draw(), 0.0, False).accepted
        assert a.reward_spread == pytest.approx(0.5)  # the standard deviation of {1, 0}
    # exp(delta / (T * spread)) with delta -1, T 1, spread 0.5
    assert accepted / trials == pytest.approx(math.exp(-2.0), abs=0.03)


def search(scale: float, shift: float, steps: int = 300) -> list[tuple[int, ...]]:
    a = Annealer([9] * 5, [0] * 5, 10.0, 0.85, 21)
    out = []
    for _ in range(steps):
        t = a.draw()
        a.observe(t, shift + scale * peak(t), False)
        out.append(t)
    return out


def test_the_temperature_means_the_same_for_any_reward_scale():
    # PaddleSlim's fixed scale made T0 a random walk for accuracies and greedy for losses
    # in the hundreds; measured in reward spreads, the search is the same for both.
    reference = search(1.0, 0.0)
    assert search(1e-3, 0.5) == reference
    assert search(250.0, -1e4) == reference


def test_infeasible_is_recorded_but_never_moves_base_or_cools():
    a = Annealer([10] * 3, [0, 0, 0], 2.0, 0.5, 0)
    a.observe(a.draw(), 0.1, False)
    base, temperature = a.base_tokens, a.temperature
    bad = a.draw()
    outcome = a.observe(bad, 1e9, True)
    assert not outcome.accepted and not outcome.new_best
    assert a.base_tokens == base and a.best_reward == 0.1 and a.temperature == temperature
    assert a.is_issued(bad)


def test_late_reward_is_judged_against_the_current_base():
    # Two trials drawn from the same base; the second to arrive is compared to the base
    # the first one set, not to the base both were drawn from.
    a = Annealer([10] * 3, [0, 0, 0], 1e-6, 0.85, 0)
    a.observe(a.draw(), 0.0, False)
    t1, t2 = a.draw(), a.draw()
    assert a.observe(t2, 0.8, False).accepted
    outcome = a.observe(t1, 0.5, False)  # better than the base t1 was drawn from (0.0)
    assert not outcome.accepted and a.base_tokens == t2


def test_a_late_improvement_is_recombined_with_the_current_base():
    a = Annealer([10] * 4, [0, 0, 0, 0], 1e-6, 0.85, 0)
    a.observe(a.draw(), 0.0, False)
    t1, t2 = a.draw(), a.draw()
    changed = [i for i in range(4) if t1[i] != 0]
    assert len(changed) == 1 and t1 != t2
    a.observe(t2, 0.8, False)
    a.observe(t1, 0.5, False)  # helped its own base, worse than the new one
    assert t2[changed[0]] == 0  # (seed 0) the two moves changed different positions
    hint = list(t2)
    hint[changed[0]] = t1[changed[0]]
    assert a.draw() == tuple(hint)
    # A result drawn from the current base carries nothing to recombine.
    t3 = a.draw()
    a.observe(t3, 0.1, False)
    assert not a.hints


def test_a_local_optimum_is_left_by_one_kick_from_the_best_that_is_always_accepted():
    a = Annealer([3] * 4, [1] * 4, 1.0, 0.5, 4)
    for _ in range(9):  # the start and its 8 neighbours: the start is the optimum
        t = a.draw()
        a.observe(t, peak(t) if t == (1,) * 4 else peak(t) - 100, False)
    assert a.base_tokens == (1,) * 4 and a.temperature < 0.01
    kick = a.draw()
    assert sum(x != 1 for x in kick) == 2 and a.kicks == {kick}
    other = a.draw()  # while the kick runs: a 2-position move, not a second kick
    assert sum(x != 1 for x in other) >= 2 and a.kicks == {kick}
    assert a.observe(kick, -1e6, False).accepted  # far worse, accepted all the same
    assert a.base_tokens == kick and a.best_tokens == (1,) * 4 and not a.kicks


def test_rng_state_round_trips():
    a = Annealer([9] * 5, [0] * 5, 10.0, 0.85, 11)
    a.draw()
    state = a.rng_state
    draws = [a.draw() for _ in range(5)]
    b = Annealer([9] * 5, [0] * 5, 10.0, 0.85, 999)
    for t in [(0,) * 5]:
        b.mark_issued(t)
    b.rng_state = state
    assert [b.draw() for _ in range(5)] == draws


def test_an_infeasible_start_does_not_trap_the_search():
    # Feasible only where the token sum is small; the start is far outside that region.
    def feasible(t):
        return sum(t) <= 20

    a = Annealer([10] * 6, [9] * 6, 10.0, 0.85, 3)
    found = None
    for i in range(200):
        t = a.draw()
        outcome = a.observe(t, -float(sum(t)), not feasible(t))
        if feasible(t):
            found = i
            assert outcome.accepted and a.base_tokens == t and not a.lost
            break
        assert a.base_reward is None and a.lost
    # Around the start (sum 54) no 1- or 2-token move gets below 36: only proposals drawn
    # anywhere reach the feasible region (neighbour moves alone would widen for ages).
    assert found is not None


def stuck_on_position_0(a: Annealer) -> None:
    """Put `a` where every random 1-hop move fails: the start is evaluated, position 0's
    only other value is issued, and a pending move has taken position 1, so the random
    attempts (on free positions only) all redraw the issued vector."""
    start = a.draw()
    a.observe(start, 0.0, False)
    a.mark_issued((1 - start[0], *start[1:]))
    pending = a.draw()
    assert pending[0] == start[0] and pending[1] != start[1]


@pytest.mark.parametrize("big", [10**6, 2**31 - 1])
def test_a_huge_range_never_enumerates_the_neighbourhood(big: int) -> None:
    # Listing the neighbours took 96 MiB at 10**6 values (and would need ~200 GiB at
    # 2**31 - 1); the scan from a random neighbour allocates next to nothing.
    a = Annealer([2, big], [0, 0], 1.0, 0.5, 6)
    stuck_on_position_0(a)
    tracemalloc.start()
    try:
        proposals = [a.draw() for _ in range(20)]
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 1 << 20
    assert len(set(proposals)) == 20 and a.radius == 1
    assert all(t[0] == 0 and t[1] != 0 for t in proposals)  # fresh 1-hop neighbours


def test_the_neighbour_scan_finds_the_last_fresh_neighbour_then_widens_to_a_kick() -> None:
    a = Annealer([2, 3000], [0, 0], 1.0, 0.5, 1)
    start = a.draw()
    a.observe(start, 0.0, False)
    left = {(0, 1234), (0, 2999)}
    for v in range(1, 3000):
        if (0, v) not in left:
            a.mark_issued((0, v))
    a.mark_issued((1, 0))
    # 2 fresh neighbours among 3,000: the random attempts miss them, the scan does not.
    assert {a.draw(), a.draw()} == left and a.radius == 1
    # The neighbourhood is used up: the next proposal is a 2-position move (a kick).
    kick = a.draw()
    assert a.radius == 2 and kick[0] == 1 and kick[1] != 0 and a.kicks == {kick}


def test_an_exhausted_small_neighbourhood_moves_to_radius_2() -> None:
    a = Annealer([3, 3, 3], [1, 1, 1], 1.0, 0.5, 2)
    start = a.draw()
    a.observe(start, 0.0, False)
    for i in range(3):
        for v in (0, 2):
            a.mark_issued(tuple(v if j == i else 1 for j in range(3)))
    t = a.draw()
    assert a.radius == 2 and sum(x != 1 for x in t) == 2


def test_a_range_above_int32_is_rejected_with_the_limit() -> None:
    from sanas.spaces.base import MAX_RANGE

    assert check_range_table([2, MAX_RANGE]) == [2, 2**31 - 1]
    with pytest.raises(SpaceConfigError, match=r"range_table\[1\] = 2147483648.*2147483647"):
        check_range_table([2, 2**31])
    request = StudyRequest(search_spaces=(SpaceConfig("c", range_table=(2**31, 2)),))
    with pytest.raises(InvalidArgument, match=r"c\.range_table\[0\].*at most 2147483647"):
        StudySpec.resolve(request)


def test_a_study_over_an_int32_range_suggests_without_enumerating() -> None:
    request = StudyRequest(
        search_spaces=(SpaceConfig("c", range_table=(2, 2**31 - 1)),), init_tokens=(0, 0), seed=3
    )
    study = Study("s", request, StudySpec.resolve(request), 0.0)
    first, _ = study.suggest("w", 0.0)
    study.complete(first.trial_id, 1.0, False, 0.0)
    study.policy.mark_issued((1, 0))
    tracemalloc.start()
    try:
        held = [study.suggest("w", 0.0)[0] for _ in range(50)]
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 1 << 20 and len({t.tokens for t in held}) == 50


def test_extreme_finite_rewards_never_break_the_acceptance_math() -> None:
    # 1e308 then -1e308 overflowed the Welford sums: sqrt(-inf), "math domain error".
    a = Annealer([10] * 3, [0, 0, 0], 1.0, 0.85, 0)
    a.observe(a.draw(), 1e308, False)
    assert not a.observe(a.draw(), -1e308, False).accepted
    a.observe(a.draw(), 0.5, False)  # and it goes on
    assert a.reward_spread > 0 and a.best_reward == 1e308


@pytest.mark.parametrize(
    "stats",
    [(2, 0.0, -math.inf), (2, math.nan, math.nan), (3, 0.0, math.inf), (2, 0.0, -1.0), (0, 0, 0)],
)
def test_spread_of_is_defined_for_any_stats(stats: tuple[int, float, float]) -> None:
    spread = spread_of(stats)
    assert spread > 0  # not NaN, never raised


def test_a_tiny_initial_temperature_never_divides_by_zero() -> None:
    # 5e-324 * ratio underflowed the floor to 0.0: ZeroDivisionError in observe().
    a = Annealer([10] * 3, [0, 0, 0], 5e-324, 0.5, 0)
    a.observe(a.draw(), 0.0, False)
    assert a.temperature > 0
    assert not a.observe(a.draw(), -1.0, False).accepted  # a zero scale: never worse
    assert a.observe(a.draw(), 1.0, False).accepted


def test_an_infinite_scale_accepts_a_worse_result() -> None:
    # temperature 1e308 times a spread of 1e100 overflows: probability 1, not NaN.
    a = Annealer([10] * 3, [0, 0, 0], 1e308, 1.0, 0)
    a.observe(a.draw(), 1e100, False)
    assert a.observe(a.draw(), -1e100, False).accepted


@pytest.mark.parametrize("rewarded", [10**400, 2**1100, 0], ids=["10**400", "2**1100", "0"])
@pytest.mark.parametrize("rate", [0.5, 1.0])
def test_the_temperature_is_defined_for_any_reward_count(rewarded: int, rate: float) -> None:
    a = Annealer([10] * 3, [0, 0, 0], 2.0, rate, 0)
    a.rebase([0, 0, 0], 0.0, None, None, rewarded)
    assert 0 < a.temperature <= 2.0


def custom_study(**kw: object) -> Study:
    request = StudyRequest(search_spaces=(SpaceConfig("c", range_table=(9, 9, 9)),), **kw)
    return Study("s", request, StudySpec.resolve(request), 0.0)


def test_study_rejects_rewards_beyond_the_limit_and_keeps_working() -> None:
    from sanas_server.policy import MAX_ABS_REWARD

    study = custom_study(seed=1)
    t = study.suggest("w", 0.0)[0]
    for bad in (1e308, -1e308, MAX_ABS_REWARD * 1.0000001):
        with pytest.raises(InvalidArgument, match=r"at most 1e\+100"):
            study.complete(t.trial_id, bad, False, 0.0)
    study.complete(t.trial_id, MAX_ABS_REWARD, False, 0.0)
    t2 = study.suggest("w", 0.0)[0]
    study.complete(t2.trial_id, -MAX_ABS_REWARD, False, 0.0)
    assert study.summary().counts[TrialState.SUCCEEDED] == 2


def test_study_with_a_tiny_initial_temperature_completes_every_result() -> None:
    study = custom_study(seed=2, init_temperature=5e-324, reduce_rate=0.5)
    for i in range(30):
        t = study.suggest("w", 0.0)[0]
        study.complete(t.trial_id, float(i % 3), False, 0.0)  # worse results too
    assert study.summary().temperature > 0
