"""The annealing algorithm as a pure, seeded state machine: no I/O, no clock, no threads.

PaddleSlim's step, with its defects fixed:
- never hands out a token vector already issued (searched or pending), and never stops
  at a local optimum: when the base's 1-hop neighbourhood is used up, the next proposal is
  a *kick*, a 2-position move from the best vector found, and its result becomes the base
  whatever it is (iterated local search: the search leaves the optimum it is stuck on and
  climbs again from nearby). While a kick is pending, the other proposals are 2-position
  moves around the base. When random moves keep colliding, an ordered scan from a random
  point finds a fresh vector in at most (issued + 1) steps, so the search only ends when
  its budget (or the space) is spent. The 1-hop neighbourhood is scanned the same way
  (never listed: a range may hold 2**31 - 1 values), so the work per proposal is bounded
  by the issued count, not by the size of the ranges;
- the temperature counts rewards held by the annealer itself and has a floor that is
  never 0.0 (even for init_temperature = 5e-324), so it neither underflows to 0 nor
  divides by it; the acceptance probability is defined for any finite rewards and stats
  (a scale T * spread that underflows to 0 never accepts a worse result, one that
  overflows to inf always does). Callers bound rewards by MAX_ABS_REWARD, so the reward
  statistics themselves stay finite;
- the temperature is measured in units of the spread of the rewards (their standard
  deviation so far): PaddleSlim's fixed scale made T0 = 10 a random walk for ~40 steps
  with accuracies in [0, 1], and greedy from the first step with losses in the hundreds.
  init_temperature and reduce_rate keep their meaning (start hot, cool by reduce_rate per
  reward), and now mean the same for any reward scale;
- randomness comes from a generator owned by the annealer (PCG64, seeded), whose state
  is part of the annealer's state, so a journal replay rebuilds it exactly;
- an infeasible start does not trap the search: once a result is infeasible before any
  feasible one, proposals are drawn anywhere (not around the infeasible base) until a
  feasible result gives the search a base.

Late rewards (parallel trainers): a result is judged against the base *current when it
arrives*, at the temperature of that moment, never against the base it was drawn from.
A better result always becomes the base; a worse one is accepted with probability
exp((reward - base_reward) / (T * spread)). Infeasible results are recorded and never move
the base. A late result that is worse than the current base but better than the base it was
drawn from carries a change that helped: that change applied to the current base is the
next proposal (a recombination hint), so parallel trainers' results are not wasted.

Everything a proposal or a result changes is either decided again identically on replay
(`record_proposal`, `apply_result`) or returned in the `Proposal` / `Judgement` the study
stores in the journal event (random generator state, radius, kicks, rejected candidates,
and the hints a proposal dropped as infeasible, which a replay cannot re-check), so a
journal replay rebuilds the exact state. The `Policy` methods (policy.py) at the end of
the class are the study's only way in.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .policy import (
    Feasible,
    Judgement,
    Policy,
    Proposal,
    SpaceExhausted,
    Standing,
)

if TYPE_CHECKING:
    from .spec import StudySpec

# The temperature never drops below this fraction of the initial temperature (nor below
# the smallest normal float, or the initial temperature when that is smaller still).
TEMPERATURE_FLOOR_RATIO = 1e-6
# MAX_ABS_REWARD and MAX_REWARDED (policy.py) bound rewards and imported reward counts
# for every policy: the reward spread never overflows, and MAX_REWARDED is far above
# any real search (the temperature has long reached its floor).
# Random moves tried at one distance before trying the next distance.
ATTEMPTS_PER_DISTANCE = 16
# Infeasible vectors the final ordered scan may pass over before giving up.
MAX_INFEASIBLE_SCAN = 20_000
# Positions a kick changes (measured in bench/quality.py: 2 beat 3 and a random 2-3).
KICK_DISTANCE = 2

RngState = tuple[int, int, int, int]
# Count, mean and sum of squared deviations of a sequence of rewards (Welford).
RewardStats = tuple[int, float, float]


def add_reward(stats: RewardStats, reward: float) -> RewardStats:
    n, mean, m2 = stats
    n += 1
    delta = reward - mean
    mean += delta / n
    return n, mean, m2 + delta * (reward - mean)


def spread_of(stats: RewardStats) -> float:
    """Standard deviation of the rewards; 1 until two differ (PaddleSlim's fixed scale).
    Never raises: stats that overflowed (NaN, or a negative sum) count as "no spread"."""
    n, _, m2 = stats
    if n < 2 or not m2 > 0.0:  # also catches NaN
        return 1.0
    spread = math.sqrt(m2 / n)  # inf for an infinite sum: accepted as a scale below
    return spread if spread > 0.0 else 1.0


def acceptance_probability(delta: float, scale: float) -> float:
    """exp(delta / scale) for a worse result (delta < 0), defined for any floats."""
    if not delta < 0.0:
        return 1.0
    if math.isinf(scale):  # a hot search: every move goes
        return 1.0
    if not scale > 0.0:  # T * spread underflowed (or NaN): a cold search never gets worse
        return 0.0
    ratio = delta / scale  # <= 0 or NaN: exp never overflows
    return 0.0 if math.isnan(ratio) else math.exp(ratio)


@dataclass(frozen=True)
class Outcome:
    """What a result did to the search."""

    accepted: bool
    new_best: bool


class Annealer(Policy):
    """Simulated annealing over integer token vectors with per-position ranges: the
    first `Policy` (policy.py). `draw`, `observe`, `apply_result` and friends are the
    algorithm; the Policy methods below wrap them in what a study's events store."""

    def __init__(
        self,
        range_table: Sequence[int],
        init_tokens: Sequence[int],
        init_temperature: float,
        reduce_rate: float,
        seed: int,
    ) -> None:
        self.range_table = tuple(int(r) for r in range_table)
        self.init_temperature = float(init_temperature)
        self.reduce_rate = float(reduce_rate)
        self.base_tokens: tuple[int, ...] = tuple(init_tokens)
        self.base_reward: float | None = None
        self.best_tokens: tuple[int, ...] | None = None
        self.best_reward: float | None = None
        self.rewarded = 0
        self._issued: set[tuple[int, ...]] = set()
        # Smallest move distance that may still find a fresh vector around the base. The
        # issued set only grows, so an exhausted distance stays exhausted until the base
        # moves: remembering it keeps a converged search from re-walking it every time.
        self.radius = 1
        self.rejected = 0  # candidates discarded by the feasibility check
        # Set when a result proved infeasible before any feasible one: moves around an
        # infeasible base carry no signal, so proposals go anywhere until one is feasible.
        self.lost = False
        self._feasible: Feasible | None = None
        # Pending kicks: their results are accepted whatever they are.
        self.kicks: set[tuple[int, ...]] = set()
        # Pending proposals -> the base (tokens, reward) they were drawn from.
        self.origins: dict[tuple[int, ...], tuple[tuple[int, ...], float | None]] = {}
        # Recombination hints, proposed first (a dict keeps their order).
        self.hints: dict[tuple[int, ...], None] = {}
        # Hints the last `draw` discarded, for its journal event (not part of state()).
        self.last_dropped = 0
        # Of the feasible rewards so far.
        self.reward_stats: RewardStats = (0, 0.0, 0.0)
        self._space_size = math.prod(self.range_table)
        self._mutable = [i for i, r in enumerate(self.range_table) if r > 1]
        # The 1-hop neighbours, numbered without listing them: _mutable[k] owns numbers
        # [starts[k], starts[k + 1]), one per value other than the base's.
        self._neighbour_starts = list(
            itertools.accumulate((self.range_table[i] - 1 for i in self._mutable), initial=0)
        )
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))

    # -- state -------------------------------------------------------------------------
    @property
    def temperature(self) -> float:
        """The temperature the next proposal is drawn at."""
        return self._temperature_after(self.rewarded)

    def _temperature_after(self, rewards: int) -> float:
        t0 = self.init_temperature
        # T0 * ratio underflows to 0.0 for a tiny T0: the floor stays positive.
        floor = max(t0 * TEMPERATURE_FLOOR_RATIO, min(t0, sys.float_info.min))
        try:
            count = float(rewards)
        except OverflowError:  # an int beyond 1.8e308 (imports): cooled as far as it goes
            count = math.inf
        # reduce_rate ** k underflows to 0.0 for large k (no exception); the floor holds.
        cooling: float = self.reduce_rate**count  # a positive base: a float, never complex
        return max(t0 * cooling, floor)

    def is_issued(self, tokens: Sequence[int]) -> bool:
        return tuple(tokens) in self._issued

    @property
    def reward_spread(self) -> float:
        """Standard deviation of the feasible rewards so far (see `spread_of`)."""
        return spread_of(self.reward_stats)

    @property
    def rng_state(self) -> RngState:
        s = self._rng.bit_generator.state
        return (s["state"]["state"], s["state"]["inc"], s["has_uint32"], s["uinteger"])

    @rng_state.setter
    def rng_state(self, value: Sequence[int]) -> None:
        state, inc, has_uint32, uinteger = (int(v) for v in value)
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": state, "inc": inc},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }

    # -- proposals ---------------------------------------------------------------------
    def draw(self, feasible: Feasible | None = None) -> tuple[int, ...]:
        """Issue a token vector never issued before, near the base when possible, and
        accepted by `feasible` (cost constraints) when given."""
        if len(self._issued) >= self._space_size:
            raise SpaceExhausted(
                f"all {self._space_size} token vectors of the search space have been issued"
            )
        self._feasible = feasible
        try:
            hint, dropped = self._next_hint()
            candidate = hint or self._fresh_candidate()
        finally:
            self._feasible = None
        self.last_dropped = dropped
        # The same update as a replay's, so the journal needs only `dropped` (and a kick
        # is already in self.kicks).
        self.record_proposal(candidate, dropped=dropped)
        return candidate

    def record_proposal(self, tokens: Sequence[int], kick: bool = False, dropped: int = 0) -> None:
        """Record an issued proposal: from `propose`, and from the journal on replay.
        `dropped`: hints the proposal discarded from the front of the queue as not fresh
        (issued, or infeasible under constraints: a replay cannot re-check those)."""
        if dropped:
            for hint in list(self.hints)[:dropped]:
                del self.hints[hint]
        key = tuple(tokens)
        self._issued.add(key)
        self.origins[key] = (self.base_tokens, self.base_reward)
        self.hints.pop(key, None)
        if kick:
            self.kicks.add(key)

    def _next_hint(self) -> tuple[tuple[int, ...] | None, int]:
        """The first fresh hint, and how many hints before it are not fresh (all of
        them when none is). Nothing is removed here: `record_proposal` does that."""
        for dropped, hint in enumerate(self.hints):
            if self._fresh(hint):
                return hint, dropped
        return None, len(self.hints)

    def _fresh(self, candidate: tuple[int, ...]) -> bool:
        if candidate in self._issued:
            return False
        if self._feasible is not None and not self._feasible(candidate):
            self.rejected += 1
            return False
        return True

    def mark_issued(self, tokens: Sequence[int]) -> None:
        """Record a vector as issued without drawing (journal replay, imports)."""
        self._issued.add(tuple(tokens))

    def _fresh_candidate(self) -> tuple[int, ...]:
        base = self.base_tokens
        if self._fresh(base):  # the starting point is evaluated first
            return base
        if self.lost:
            return self._scan_from_random_point()
        if self.radius == 1:
            free = self._free_positions(base)
            for _ in range(ATTEMPTS_PER_DISTANCE):
                candidate = self._move(base, 1, free)
                if self._fresh(candidate):
                    return candidate
            neighbour = self._scan_neighbours(base)
            if neighbour is not None:
                return neighbour
            self.radius = KICK_DISTANCE  # a local optimum: remembered until the base moves
        # One kick at a time, from the best; the other proposals widen around the base.
        kick = not self.kicks and self.best_tokens is not None
        source = self.best_tokens if kick and self.best_tokens is not None else base
        for distance in range(self.radius, len(self._mutable) + 1):
            for _ in range(ATTEMPTS_PER_DISTANCE):
                candidate = self._move(source, distance)
                if self._fresh(candidate):
                    if kick:
                        self.kicks.add(candidate)
                    return candidate
        return self._scan_from_random_point()

    def _free_positions(self, base: tuple[int, ...]) -> list[int]:
        """Positions no pending proposal drawn from `base` has changed: parallel trainers
        then probe different positions, and hints combine what they find."""
        busy = {
            i
            for tokens, (origin, _) in self.origins.items()
            if origin == base
            for i in self._mutable
            if tokens[i] != base[i]
        }
        free = [i for i in self._mutable if i not in busy]
        return free or self._mutable

    def _move(
        self, base: tuple[int, ...], distance: int, positions: Sequence[int] | None = None
    ) -> tuple[int, ...]:
        tokens = list(base)
        pool = self._mutable if positions is None or len(positions) < distance else positions
        for p in self._rng.choice(len(pool), size=distance, replace=False):
            i = pool[int(p)]
            # A value different from the current one, uniformly among the others.
            shift = 1 + int(self._rng.integers(self.range_table[i] - 1))
            tokens[i] = (tokens[i] + shift) % self.range_table[i]
        return tuple(tokens)

    def _scan_neighbours(self, base: tuple[int, ...]) -> tuple[int, ...] | None:
        """A fresh 1-hop neighbour of `base`, scanning the numbered neighbourhood in
        successor order (wrapping) from a random number; None when it is used up.

        Without constraints at most len(issued) neighbours are issued, so (issued + 1)
        steps find a fresh one whenever one exists. Under constraints at most
        MAX_INFEASIBLE_SCAN infeasible ones more are passed over; running out of those
        counts as a used-up neighbourhood too (the search widens instead of re-checking
        the same infeasible ones on every proposal).
        """
        starts = self._neighbour_starts
        total = starts[-1]
        if total == 0:
            return None
        extra = MAX_INFEASIBLE_SCAN if self._feasible is not None else 0
        number = int(self._rng.integers(total))
        k = bisect.bisect_right(starts, number) - 1
        for _ in range(min(total, len(self._issued) + 1 + extra)):
            i = self._mutable[k]
            value = number - starts[k]
            if value >= base[i]:  # skip the base's own value
                value += 1
            candidate = (*base[:i], value, *base[i + 1 :])
            if self._fresh(candidate):
                return candidate
            number += 1
            if number == starts[k + 1]:
                k += 1
                if k == len(self._mutable):
                    k, number = 0, 0
        return None

    def _scan_from_random_point(self) -> tuple[int, ...]:
        # Mixed-radix successor order from a random start: at most len(issued) vectors
        # are skipped before a fresh one (plus the infeasible ones under constraints).
        tokens = [int(self._rng.integers(r)) for r in self.range_table]
        limit = min(self._space_size, len(self._issued) + 1 + MAX_INFEASIBLE_SCAN)
        for _ in range(limit):
            candidate = tuple(tokens)
            if self._fresh(candidate):
                return candidate
            for i in reversed(range(len(tokens))):
                tokens[i] += 1
                if tokens[i] < self.range_table[i]:
                    break
                tokens[i] = 0
        raise SpaceExhausted(
            "no token vector left that meets the constraints: loosen max_flops / max_params"
        )

    # -- results -----------------------------------------------------------------------
    def observe(self, tokens: Sequence[int], reward: float, infeasible: bool) -> Outcome:
        """Judge a result against the current base (see the module doc) and apply it."""
        if infeasible:
            return self.apply_result(tokens, reward, infeasible, accepted=False)
        # As in PaddleSlim, the result being judged already counts towards the cooling.
        temperature = self._temperature_after(self.rewarded + 1)
        # The result being judged counts towards the spread too.
        spread = spread_of(add_reward(self.reward_stats, reward))
        if self.base_reward is None or reward > self.base_reward or tuple(tokens) in self.kicks:
            accepted = True
        else:
            probability = acceptance_probability(reward - self.base_reward, temperature * spread)
            accepted = bool(self._rng.random() < probability)
        return self.apply_result(tokens, reward, infeasible, accepted)

    def apply_result(
        self, tokens: Sequence[int], reward: float, infeasible: bool, accepted: bool
    ) -> Outcome:
        """Apply a decided result (also used by journal replay)."""
        key = tuple(tokens)
        self.kicks.discard(key)
        origin = self.origins.pop(key, None)
        if infeasible:
            if self.base_reward is None:
                self.lost = True
            return Outcome(accepted=False, new_best=False)
        self.lost = False
        self.rewarded += 1
        self.reward_stats = add_reward(self.reward_stats, reward)
        if origin is not None:
            self._hint_from(key, reward, *origin)
        if accepted:
            if key != self.base_tokens:
                self.radius = 1
            self.base_tokens, self.base_reward = key, reward
        new_best = self.best_reward is None or reward > self.best_reward
        if new_best:
            self.best_tokens, self.best_reward = key, reward
        return Outcome(accepted=accepted, new_best=new_best)

    def apply_stop(self, tokens: Sequence[int]) -> None:
        """A trial stopped early, as a rejected move: it cools the temperature like any
        result but never becomes the base or the best, and its partial value stays out of
        the reward statistics (it would understate the spread of finished results)."""
        key = tuple(tokens)
        self.kicks.discard(key)
        self.origins.pop(key, None)
        self.rewarded += 1

    def apply_skip(self, tokens: Sequence[int]) -> None:
        """A trial its trainer skipped: no result, so nothing about the search changes
        but that it is no longer pending (its tokens stay issued, never proposed again)."""
        key = tuple(tokens)
        self.kicks.discard(key)
        self.origins.pop(key, None)

    def _hint_from(
        self,
        tokens: tuple[int, ...],
        reward: float,
        origin: tuple[int, ...],
        origin_reward: float | None,
    ) -> None:
        # Only late results (drawn from another base) that beat their own base qualify.
        if origin == self.base_tokens or origin_reward is None or reward <= origin_reward:
            return
        hint = tuple(
            new if new != old else mine
            for new, old, mine in zip(tokens, origin, self.base_tokens, strict=True)
        )
        if hint not in self._issued:
            self.hints[hint] = None

    def state(self) -> dict[str, Any]:
        """Everything but the issued set (the trials hold it), as JSON for snapshots."""
        return {
            "base": list(self.base_tokens),
            "base_reward": self.base_reward,
            "best": None if self.best_tokens is None else list(self.best_tokens),
            "best_reward": self.best_reward,
            "rewarded": self.rewarded,
            "radius": self.radius,
            "rng": list(self.rng_state),
            "rejected": self.rejected,
            "lost": self.lost,
            "kicks": [list(t) for t in self.kicks],
            "origins": [[list(t), list(base), r] for t, (base, r) in self.origins.items()],
            "hints": [list(t) for t in self.hints],
            "reward_stats": list(self.reward_stats),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Load `state()` output; snapshots from before a field existed lack it."""
        self.rebase(
            state["base"],
            state["base_reward"],
            state["best"],
            state["best_reward"],
            state["rewarded"],
        )
        self.radius = state["radius"]
        self.rng_state = state["rng"]
        self.rejected = state.get("rejected", 0)
        self.lost = state.get("lost", False)
        self.kicks = {tuple(t) for t in state.get("kicks", [])}
        self.origins = {tuple(t): (tuple(b), r) for t, b, r in state.get("origins", [])}
        self.hints = dict.fromkeys(tuple(t) for t in state.get("hints", []))
        n, mean, m2 = state.get("reward_stats", (0, 0.0, 0.0))
        self.reward_stats = (int(n), float(mean), float(m2))

    def rebase(
        self,
        base_tokens: Sequence[int],
        base_reward: float | None,
        best_tokens: Sequence[int] | None,
        best_reward: float | None,
        rewarded: int,
    ) -> None:
        """Set the search position directly (PaddleSlim checkpoint import)."""
        self.base_tokens = tuple(base_tokens)
        self.base_reward = base_reward
        self.radius = 1
        self.best_tokens = tuple(best_tokens) if best_tokens is not None else None
        self.best_reward = best_reward
        self.rewarded = rewarded

    # -- the Policy interface (policy.py) ----------------------------------------------
    @classmethod
    def for_spec(cls, spec: StudySpec) -> Annealer:
        return cls(
            spec.range_table, spec.init_tokens, spec.init_temperature, spec.reduce_rate, spec.seed
        )

    def propose(self, feasible: Feasible | None = None) -> Proposal:
        temperature = self.temperature  # the one the proposal is drawn at
        tokens = self.draw(feasible)
        return Proposal(
            tokens=tokens,
            temperature=temperature,
            rng_state=list(self.rng_state),
            radius=self.radius,
            # Written only under constraints (the count never moves without them).
            rejected=None if feasible is None else self.rejected,
            kick=tokens in self.kicks,
            dropped=self.last_dropped,
        )

    def record(self, proposal: Proposal) -> None:
        self.record_proposal(proposal.tokens, kick=proposal.kick, dropped=proposal.dropped)
        if proposal.rng_state is not None:
            self.rng_state = proposal.rng_state
        if proposal.radius is not None:
            self.radius = proposal.radius
        if proposal.rejected is not None:
            self.rejected = proposal.rejected

    def judge(self, tokens: Sequence[int], reward: float, infeasible: bool) -> Judgement:
        outcome = self.observe(tokens, reward, infeasible)
        return Judgement(outcome.accepted, list(self.rng_state))

    def restore(
        self, tokens: Sequence[int], reward: float, infeasible: bool, judgement: Judgement
    ) -> None:
        self.apply_result(tokens, reward, infeasible, judgement.accepted)
        if judgement.rng_state is not None:
            self.rng_state = judgement.rng_state

    def stop(self, tokens: Sequence[int]) -> None:
        self.apply_stop(tokens)

    def skip(self, tokens: Sequence[int]) -> None:
        self.apply_skip(tokens)

    def standing(self) -> Standing:
        return Standing(
            best_tokens=self.best_tokens,
            best_reward=self.best_reward,
            current_tokens=self.base_tokens,
            current_reward=self.base_reward,
            temperature=self.temperature,
            rejected_proposals=self.rejected,
        )

    @classmethod
    def from_state(
        cls, spec: StudySpec, state: dict[str, Any], issued: Iterable[Sequence[int]]
    ) -> Annealer:
        annealer = cls.for_spec(spec)
        for tokens in issued:
            annealer.mark_issued(tokens)
        annealer.load_state(state)
        return annealer
