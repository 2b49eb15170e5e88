"""Model-guided annealing (issue "model-guided proposals", first step): the annealer's
frame with a surrogate choosing among its moves.

At each proposal the annealer draws up to `candidates` fresh neighbours of its base from
its own seeded generator (the same moves it would make, 1-hop mostly, some 2-hop), a
surrogate fitted on the study's finished results so far predicts their rewards, and the
best-predicted one is proposed. Everything else is the annealer's: hints, kicks, the
temperature, acceptance and the journal fields. Until `min_results` feasible results
exist, and whenever no fresh candidate is found, it proposes exactly as the annealer does.

The surrogate is the posterior mean of a Gaussian process (kernel ridge regression) with
an exponential Hamming kernel, k(x, y) = exp(-mismatches(x, y) / (length_scale * L)) for
L positions, over the last `max_fit` results, rewards standardised: numpy only, no
dependency, O(max_fit^3) per proposal at most (see docs/model-guided.md for the cost).

Replay never refits: the chosen tokens and the generator state after choosing are the
Proposal's (`tokens`, `rng_state`), which `record` restores as the annealer's do. The
results the surrogate learns from are rebuilt by `apply_result` (live and replayed alike)
and travel through snapshots in `state()["results"]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .annealer import Annealer, Outcome

# Fresh neighbours drawn per proposal (the surrogate picks one).
CANDIDATES = 24
# Of those, the share drawn 2 positions from the base rather than 1.
TWO_HOP_SHARE = 0.25
# Feasible results before the surrogate is used (the annealer's own moves until then).
MIN_RESULTS = 10
# The surrogate is fitted on the most recent results only: bounds the cost per proposal.
MAX_FIT = 400
LENGTH_SCALE = 0.5  # in units of the vector length (tuned on NAS-Bench-Graph tuning sets)
NOISE = 0.1  # ridge term, in units of the standardised reward variance


def mismatches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise count of differing positions between the rows of a and of b."""
    counts: np.ndarray = (a[:, None, :] != b[None, :, :]).sum(axis=-1)
    return counts


class Surrogate:
    """GP posterior mean with an exponential Hamming kernel (see the module doc)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, length_scale: float, noise: float) -> None:
        self.x = x
        self.scale = length_scale * x.shape[1]
        self.mean = float(y.mean())
        std = float(y.std())
        self.std = std if std > 0.0 else 1.0
        k = np.exp(-mismatches(x, x) / self.scale)
        k[np.diag_indices_from(k)] += noise
        self.alpha = np.linalg.solve(k, (y - self.mean) / self.std)

    def predict(self, x: np.ndarray) -> np.ndarray:
        k = np.exp(-mismatches(x, self.x) / self.scale)
        predicted: np.ndarray = self.mean + self.std * (k @ self.alpha)
        return predicted


class GuidedAnnealer(Annealer):
    """The annealer whose 1-hop move is chosen by a surrogate among `candidates` fresh
    neighbours (module doc). Temperature and acceptance are the annealer's."""

    def __init__(
        self,
        range_table: Sequence[int],
        init_tokens: Sequence[int],
        init_temperature: float,
        reduce_rate: float,
        seed: int,
        candidates: int = CANDIDATES,
        two_hop_share: float = TWO_HOP_SHARE,
        min_results: int = MIN_RESULTS,
        max_fit: int = MAX_FIT,
        length_scale: float = LENGTH_SCALE,
        noise: float = NOISE,
    ) -> None:
        super().__init__(range_table, init_tokens, init_temperature, reduce_rate, seed)
        self.candidates = candidates
        self.two_hop_share = two_hop_share
        self.min_results = min_results
        self.max_fit = max_fit
        self.length_scale = length_scale
        self.noise = noise
        # Feasible results in arrival order: what the surrogate learns from.
        self.results: list[tuple[tuple[int, ...], float]] = []
        self._surrogate: Surrogate | None = None
        self._fitted_on = -1  # len(results) the cached surrogate was fitted on
        self.fits = 0  # surrogate fits so far (tests: replay never fits)

    # -- the surrogate -----------------------------------------------------------------
    def surrogate(self) -> Surrogate:
        if self._surrogate is None or self._fitted_on != len(self.results):
            recent = self.results[-self.max_fit :]
            x = np.array([t for t, _ in recent], dtype=np.int64)
            y = np.array([r for _, r in recent], dtype=np.float64)
            self._surrogate = Surrogate(x, y, self.length_scale, self.noise)
            self._fitted_on = len(self.results)
            self.fits += 1
        return self._surrogate

    def _fresh_candidate(self) -> tuple[int, ...]:
        base = self.base_tokens
        if (
            len(self.results) < self.min_results
            or self.lost
            or self.radius != 1
            or base not in self._issued  # the start is evaluated first, as by the annealer
        ):
            return super()._fresh_candidate()
        free = self._free_positions(base)
        two_hop = round(self.candidates * self.two_hop_share)
        pool: dict[tuple[int, ...], None] = {}
        for n in range(self.candidates * 2):  # collisions: twice the draws at most
            if len(pool) >= self.candidates:
                break
            distance = 2 if n % self.candidates < two_hop and len(self._mutable) > 1 else 1
            candidate = self._move(base, distance, free if distance == 1 else None)
            if candidate not in pool and self._fresh(candidate):
                pool[candidate] = None
        if not pool:
            return super()._fresh_candidate()
        options = list(pool)
        predicted = self.surrogate().predict(np.array(options, dtype=np.int64))
        return options[int(np.argmax(predicted))]

    # -- results -----------------------------------------------------------------------
    def apply_result(
        self, tokens: Sequence[int], reward: float, infeasible: bool, accepted: bool
    ) -> Outcome:
        if not infeasible:
            self.results.append((tuple(tokens), float(reward)))
        return super().apply_result(tokens, reward, infeasible, accepted)

    # -- snapshots ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {**super().state(), "results": [[list(t), r] for t, r in self.results]}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.results = [(tuple(t), float(r)) for t, r in state.get("results", [])]
