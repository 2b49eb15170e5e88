"""The annealing algorithm as a pure, seeded state machine: no I/O, no clock, no threads.

PaddleSlim's step, with its defects fixed:
- never hands out a token vector already issued (searched or pending): when the base's
  1-hop neighbourhood is used up the move widens to 2, 3, ... positions, and when random
  moves keep colliding an ordered scan from a random point finds a fresh vector in at most
  (issued + 1) steps, so the search only ends when its budget (or the space) is spent;
- the temperature counts rewards held by the annealer itself and has a floor, so it
  neither underflows to 0 nor divides by it;
- randomness comes from a generator owned by the annealer (PCG64, seeded), whose state
  is part of the annealer's state, so a journal replay rebuilds it exactly;
- an infeasible start does not trap the search: once a result is infeasible before any
  feasible one, proposals are drawn anywhere (not around the infeasible base) until a
  feasible result gives the search a base.

Late rewards (parallel trainers): a result is judged against the base *current when it
arrives*, at the temperature of that moment, never against the base it was drawn from.
A better result always becomes the base; a worse one is accepted with probability
exp((reward - base_reward) / T). Infeasible results are recorded and never move the base.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# The temperature never drops below this fraction of the initial temperature.
TEMPERATURE_FLOOR_RATIO = 1e-6
# Random moves tried at one distance before the move widens.
ATTEMPTS_PER_DISTANCE = 16
# Infeasible vectors the final ordered scan may pass over before giving up.
MAX_INFEASIBLE_SCAN = 20_000

Feasible = Callable[[tuple[int, ...]], bool]

RngState = tuple[int, int, int, int]


class SpaceExhausted(Exception):
    """Every token vector of the space has been issued."""


@dataclass(frozen=True)
class Outcome:
    """What a result did to the search."""

    accepted: bool
    new_best: bool


class Annealer:
    """Simulated annealing over integer token vectors with per-position ranges."""

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
        self._space_size = math.prod(self.range_table)
        self._mutable = [i for i, r in enumerate(self.range_table) if r > 1]
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))

    # -- state -------------------------------------------------------------------------
    @property
    def temperature(self) -> float:
        """The temperature the next proposal is drawn at."""
        return self._temperature_after(self.rewarded)

    def _temperature_after(self, rewards: int) -> float:
        floor = self.init_temperature * TEMPERATURE_FLOOR_RATIO
        # reduce_rate ** k underflows to 0.0 for large k (no exception); the floor holds.
        return max(self.init_temperature * self.reduce_rate**rewards, floor)

    def is_issued(self, tokens: Sequence[int]) -> bool:
        return tuple(tokens) in self._issued

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
    def propose(self, feasible: Feasible | None = None) -> tuple[int, ...]:
        """Issue a token vector never issued before, near the base when possible, and
        accepted by `feasible` (cost constraints) when given."""
        if len(self._issued) >= self._space_size:
            raise SpaceExhausted(
                f"all {self._space_size} token vectors of the search space have been issued"
            )
        self._feasible = feasible
        try:
            candidate = self._fresh_candidate()
        finally:
            self._feasible = None
        self._issued.add(candidate)
        return candidate

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
        for distance in range(self.radius, len(self._mutable) + 1):
            for _ in range(ATTEMPTS_PER_DISTANCE):
                candidate = self._move(base, distance)
                if self._fresh(candidate):
                    return candidate
            if distance == 1:
                fresh = [n for n in self._neighbours(base) if self._fresh(n)]
                if fresh:
                    return fresh[int(self._rng.integers(len(fresh)))]
            self.radius = distance + 1
        return self._scan_from_random_point()

    def _move(self, base: tuple[int, ...], distance: int) -> tuple[int, ...]:
        tokens = list(base)
        positions = self._rng.choice(len(self._mutable), size=distance, replace=False)
        for p in positions:
            i = self._mutable[int(p)]
            # A value different from the current one, uniformly among the others.
            shift = 1 + int(self._rng.integers(self.range_table[i] - 1))
            tokens[i] = (tokens[i] + shift) % self.range_table[i]
        return tuple(tokens)

    def _neighbours(self, base: tuple[int, ...]) -> list[tuple[int, ...]]:
        out = []
        for i in self._mutable:
            for value in range(self.range_table[i]):
                if value != base[i]:
                    out.append((*base[:i], value, *base[i + 1 :]))
        return out

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
        if self.base_reward is None or reward > self.base_reward:
            accepted = True
        else:
            probability = math.exp((reward - self.base_reward) / temperature)
            accepted = bool(self._rng.random() < probability)
        return self.apply_result(tokens, reward, infeasible, accepted)

    def apply_result(
        self, tokens: Sequence[int], reward: float, infeasible: bool, accepted: bool
    ) -> Outcome:
        """Apply a decided result (also used by journal replay)."""
        if infeasible:
            if self.base_reward is None:
                self.lost = True
            return Outcome(accepted=False, new_best=False)
        self.lost = False
        self.rewarded += 1
        key = tuple(tokens)
        if accepted:
            if key != self.base_tokens:
                self.radius = 1
            self.base_tokens, self.base_reward = key, reward
        new_best = self.best_reward is None or reward > self.best_reward
        if new_best:
            self.best_tokens, self.best_reward = key, reward
        return Outcome(accepted=accepted, new_best=new_best)

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
