"""Model-guided annealing (issue "model-guided proposals"): the annealer's frame with a
surrogate choosing its moves.

At each proposal a bounded pool of fresh candidates is drawn from the annealer's own
seeded generator: neighbours of the annealer's base (the moves it would make itself, 1
position away mostly, some 2), local mutations of the best results found so far, and a
few uniformly random vectors. A Gaussian process fitted on the study's finished results
scores them by expected improvement over the best result (its posterior mean *and*
variance), and the best-scoring one is proposed. Running trials are handled as a kriging
believer: each counts as observed at the GP's own prediction, which leaves the mean as it
is and shrinks the variance around it, so parallel trainers are sent to different places.
Everything else is the annealer's: hints, the temperature, the acceptance rule (a result
becomes the base by the same test, whichever candidate it came from) and the journal
fields. Until `min_results` feasible results exist, and whenever no fresh candidate is
found, it proposes exactly as the annealer does (kicks included); while the surrogate
chooses, the mutations of the best results and the random candidates take the kicks'
place in leaving a used-up neighbourhood.

The GP: an exponential Hamming kernel k(x, y) = exp(-mismatches(x, y) / (s * L)) for L
positions, the length scale s chosen per fit by marginal likelihood from a small grid,
noise (ridge) `noise` on standardised rewards, over the last `max_fit` results: numpy
only, no dependency, O(max_fit^3) per fit (see docs/model-guided.md for the cost).

Where the fit runs: `propose` fits inline when no model for the current results is
installed, so a study used alone (tests, replays, the bench) decides exactly what it
always did. A controller instead takes a `SurrogateFit` under the study's lock (a copy of
the fit's data), runs it without the lock and installs the result (`install_fit`); the
fit and the inline path are the same code (`surrogate()` runs a job itself), so the same
data give the same proposals. The length scale's choice is part of the job.

Replay never refits: the chosen tokens and the generator state after choosing are the
Proposal's (`tokens`, `rng_state`), which `record` restores as the annealer's do. The
results the surrogate learns from are rebuilt by `apply_result` (live and replayed alike)
and travel through snapshots in `state()["results"]`; the fit is a deterministic function
of them and of the pending trials, so a study restored from a snapshot proposes what the
live one would have.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .annealer import Annealer, Outcome
from .policy import FitJob, PendingResult

# Fresh candidates per proposal, by source (the surrogate picks one of them all).
BASE_CANDIDATES = 24  # moves from the annealer's base
TOP_K = 5  # the best results whose mutations are candidates
TOP_CANDIDATES = 40  # mutations of those, spread over them
RANDOM_CANDIDATES = 8  # uniformly random vectors
# Of the moves (base and top), the share 2 positions away rather than 1.
TWO_HOP_SHARE = 0.25
# Feasible results before the surrogate is used (the annealer's own moves until then).
MIN_RESULTS = 10
# The surrogate is fitted on the most recent results only: bounds the cost per proposal.
MAX_FIT = 256
# Length scales (in units of the vector length) the marginal likelihood chooses from.
LENGTH_SCALES = (0.2, 0.35, 0.5, 0.75)
# The length scale is chosen again every this many results (each choice costs a fit per
# grid value).
RESCALE_EVERY = 10
NOISE = 0.1  # ridge term, in units of the standardised reward variance
ACQUISITION = "ucb"  # "ucb" (mean + beta * sd), "ei" (expected improvement) or "mean"
UCB_BETA = 2.0


def mismatches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise count of differing positions between the rows of a and of b."""
    counts = np.zeros((len(a), len(b)), dtype=np.float64)
    for i in range(a.shape[1]):  # one position at a time: no (len(a), len(b), L) array
        counts += a[:, None, i] != b[None, :, i]
    return counts


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return out


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    out: np.ndarray = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    return out


def log_likelihood(distances: np.ndarray, z: np.ndarray, scale: float, noise: float) -> float:
    """log p(z) of standardised rewards under the GP, up to a constant."""
    k = np.exp(-distances / scale)
    k[np.diag_indices_from(k)] += noise
    chol = np.linalg.cholesky(k)
    alpha = np.linalg.solve(k, z)
    return -0.5 * float(z @ alpha) - float(np.log(np.diag(chol)).sum())


def choose_length_scale(
    x: np.ndarray, y: np.ndarray, length_scales: Sequence[float], noise: float
) -> float:
    """The length scale (in units of the vector length) of highest marginal likelihood."""
    if len(length_scales) == 1:
        return float(length_scales[0])
    std = float(y.std())
    z = (y - y.mean()) / (std if std > 0.0 else 1.0)
    distances = mismatches(x, x)
    fits = [log_likelihood(distances, z, s * x.shape[1], noise) for s in length_scales]
    return float(length_scales[int(np.argmax(fits))])


class Surrogate:
    """A GP with an exponential Hamming kernel (see the module doc): standardised
    rewards, unit signal variance, `noise` on the diagonal. A fit is the kernel matrix
    and its factor (O(n^3) for n results); a query is matrix products with the cached
    factor (O(n^2) per candidate)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, length_scale: float, noise: float) -> None:
        self.x = x
        self.noise = noise
        self.length_scale = length_scale
        self.scale = length_scale * x.shape[1]
        self.mean = float(y.mean())
        std = float(y.std())
        self.std = std if std > 0.0 else 1.0
        self.z = (y - self.mean) / self.std
        self.best = float(self.z.max())
        self.k = self._k(x, x)
        self.k[np.diag_indices_from(self.k)] += noise
        # The O(n^3) part, once per fit (outside the study's lock when a controller runs
        # it): the inverse of K's Cholesky factor and K^-1 z. A query is then matrix
        # products, O(n^2) per candidate. numpy has no triangular solve, so the factor
        # is inverted; K's diagonal is >= 1 + noise, so it is well conditioned.
        self.l_inv = np.linalg.inv(np.linalg.cholesky(self.k))
        self.alpha = self.l_inv.T @ (self.l_inv @ self.z)

    def _k(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k: np.ndarray = np.exp(-mismatches(a, b) / self.scale)
        return k

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Posterior mean, in reward units."""
        mean, _ = self.posterior(x, with_sd=False)
        predicted: np.ndarray = self.mean + self.std * mean
        return predicted

    def posterior(
        self, x: np.ndarray, pending: np.ndarray | None = None, with_sd: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation in standardised units, the pending rows
        counted as observed at the posterior mean (kriging believer: the mean does not
        move, the variance around them shrinks)."""
        m = len(x)
        kx = self._k(x, self.x)  # (m, n)
        mean: np.ndarray = kx @ self.alpha
        if not with_sd:
            return mean, np.zeros(m)
        v = self.l_inv @ kx.T  # L^-1 kx.T, (n, m): kx K^-1 kx.T = |v|^2 per column
        var = 1.0 - (v * v).sum(axis=0)
        if pending is not None and len(pending):
            vp = self.l_inv @ self._k(pending, self.x).T  # (n, p)
            cpp = self._k(pending, pending) - vp.T @ vp
            cpp[np.diag_indices_from(cpp)] += self.noise
            cxp = self._k(x, pending) - v.T @ vp  # (m, p)
            var = var - (cxp * np.linalg.solve(cpp, cxp.T).T).sum(axis=1)
        sd: np.ndarray = np.sqrt(np.maximum(var, 1e-12))
        return mean, sd


@dataclass(frozen=True, eq=False)
class SurrogateFit(FitJob):
    """A surrogate's fit as data copied out of the policy: `run()` reads nothing else,
    so it can run with no lock held. `epoch` names the policy's results list it was
    copied from (`install_fit` refuses another's); the fit is on the first `base`
    results plus `extra` (a result being reported, None: none)."""

    epoch: object
    base: int
    extra: PendingResult | None
    x: np.ndarray  # the fit window, read-only
    y: np.ndarray
    scale_at: int  # the length scale is chosen on the first scale_at results ...
    scale: float | None  # ... and known already, or
    scale_x: np.ndarray | None  # ... chosen by run() on these (read-only)
    scale_y: np.ndarray | None
    scales: tuple[float, ...]
    noise: float

    @property
    def count(self) -> int:
        """The results the fit is for."""
        return self.base + (self.extra is not None)

    def run(self) -> FittedSurrogate:
        scale = self.scale
        if scale is None:
            assert self.scale_x is not None and self.scale_y is not None
            scale = choose_length_scale(self.scale_x, self.scale_y, self.scales, self.noise)
        return FittedSurrogate(self, scale, Surrogate(self.x, self.y, scale, self.noise))


@dataclass(frozen=True, eq=False)
class FittedSurrogate:
    """A SurrogateFit's result: the fitted surrogate and the length scale chosen."""

    job: SurrogateFit
    scale: float
    surrogate: Surrogate


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    z = (mean - best) / sd
    ei: np.ndarray = (mean - best) * _normal_cdf(z) + sd * _normal_pdf(z)
    return ei


class GuidedAnnealer(Annealer):
    """The annealer whose moves are chosen by a surrogate among a bounded pool of fresh
    candidates (module doc). Temperature and acceptance are the annealer's."""

    def __init__(
        self,
        range_table: Sequence[int],
        init_tokens: Sequence[int],
        init_temperature: float,
        reduce_rate: float,
        seed: int,
        candidates: int = BASE_CANDIDATES,
        two_hop_share: float = TWO_HOP_SHARE,
        min_results: int = MIN_RESULTS,
        max_fit: int = MAX_FIT,
        length_scale: float | Sequence[float] = LENGTH_SCALES,
        noise: float = NOISE,
        top_k: int = TOP_K,
        top_candidates: int = TOP_CANDIDATES,
        random_candidates: int = RANDOM_CANDIDATES,
        acquisition: str = ACQUISITION,
        ucb_beta: float = UCB_BETA,
        believer: bool = True,
        rescale_every: int = RESCALE_EVERY,
    ) -> None:
        super().__init__(range_table, init_tokens, init_temperature, reduce_rate, seed)
        self.candidates = candidates
        self.two_hop_share = two_hop_share
        self.min_results = min_results
        self.max_fit = max_fit
        self.length_scale = length_scale
        self.noise = noise
        self.top_k = top_k
        self.top_candidates = top_candidates
        self.random_candidates = random_candidates
        self.acquisition = acquisition
        self.ucb_beta = ucb_beta
        self.believer = believer
        self.rescale_every = rescale_every
        self._scale: tuple[int, float] | None = None  # (results it was chosen on, scale)
        # Feasible results in arrival order: what the surrogate learns from.
        self.results: list[tuple[tuple[int, ...], float]] = []
        # The best top_k results as (-reward, index, tokens), best first (_note_top).
        self._top: list[tuple[float, int, tuple[int, ...]]] = []
        self._surrogate: Surrogate | None = None
        self._fitted_on = -1  # the results the installed surrogate was fitted on
        self._stale_for = -1  # len(results) a stale surrogate was accepted for
        # A new identity whenever `results` is replaced (load_state): within one epoch
        # results are only appended, which is what install_fit's checks rely on.
        self._epoch = object()
        self.fits = 0  # surrogate fits installed (tests: replay never fits)
        self.inline_fits = 0  # of which run by propose itself (tests: none under a lock)

    # -- the surrogate -----------------------------------------------------------------
    def surrogate(self) -> Surrogate:
        n = len(self.results)
        if self._surrogate is None or n not in (self._fitted_on, self._stale_for):
            self.inline_fits += 1
            self.install_fit(self._fit_job(None).run())
        assert self._surrogate is not None
        return self._surrogate

    def fit_job(self, result: PendingResult | None = None) -> SurrogateFit | None:
        count = len(self.results) + (result is not None)
        if count < self.min_results:
            return None  # the annealer's own moves: no surrogate
        if result is None and self._surrogate is not None and self._fitted_on == count:
            return None  # installed already
        return self._fit_job(result)

    def _fit_job(self, extra: PendingResult | None) -> SurrogateFit:
        base = len(self.results)
        count = base + (extra is not None)
        x, y = self._window(count, extra)
        scales = (
            (float(self.length_scale),)
            if isinstance(self.length_scale, (int, float))
            else tuple(self.length_scale)
        )
        # Chosen by marginal likelihood every `rescale_every` results: a pure function of
        # the results, so a restored policy chooses the same.
        at = max(self.min_results, count // self.rescale_every * self.rescale_every)
        known = self._scale[1] if self._scale is not None and self._scale[0] == at else None
        sx, sy = (None, None) if known is not None else self._window(at, extra)
        return SurrogateFit(
            epoch=self._epoch,
            base=base,
            extra=extra,
            x=_frozen(x),
            y=_frozen(y),
            scale_at=at,
            scale=known,
            scale_x=None if sx is None else _frozen(sx),
            scale_y=None if sy is None else _frozen(sy),
            scales=scales,
            noise=self.noise,
        )

    def install_fit(self, fitted: object, stale_ok: bool = False) -> bool:
        if not isinstance(fitted, FittedSurrogate) or fitted.job.epoch is not self._epoch:
            return False
        job, n = fitted.job, len(self.results)
        # Results are only appended within an epoch, so the first `base` are the job's;
        # its extra result must be the one that came next for the fit to be of ours.
        ours = job.extra is None or (n > job.base and self.results[job.base] == job.extra)
        if ours and job.count <= n:
            self._scale = (job.scale_at, fitted.scale)  # of the first scale_at results
        if ours and job.count == n:
            self._surrogate, self._fitted_on, self._stale_for = fitted.surrogate, n, -1
            self.fits += 1
            return True
        if self._surrogate is not None and self._fitted_on == n:
            return True  # a current one is installed already: keep it
        if not stale_ok:
            return False
        # Results arrived during the fit: propose with this model for now (it is never
        # taken for the model of any other count of results).
        self._surrogate, self._stale_for = fitted.surrogate, n
        self._fitted_on = job.count if ours else -1
        self.fits += 1
        return True

    def _window(
        self, count: int, extra: PendingResult | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The fit data after `count` results: the last `max_fit` of them, `extra`
        counted as the result after the policy's own."""
        recent = self.results[max(0, count - self.max_fit) : count]
        if extra is not None and count > len(self.results):
            recent = [*recent, extra]
        x = np.array([t for t, _ in recent], dtype=np.int64)
        y = np.array([r for _, r in recent], dtype=np.float64)
        return x, y

    def _moves(
        self,
        source: tuple[int, ...],
        count: int,
        pool: dict[tuple[int, ...], None],
        free: list[int] | None = None,
    ) -> None:
        """Up to `count` fresh moves from `source` into `pool` (twice the draws at most)."""
        two_hop = round(count * self.two_hop_share)
        added = 0
        for n in range(count * 2):
            if added >= count:
                break
            distance = 2 if n % count < two_hop and len(self._mutable) > 1 else 1
            candidate = self._move(source, distance, free if distance == 1 else None)
            if candidate not in pool and self._fresh(candidate):
                pool[candidate] = None
                added += 1

    def _fresh_candidate(self) -> tuple[int, ...]:
        base = self.base_tokens
        if (
            len(self.results) < self.min_results
            or self.lost
            or base not in self._issued  # the start is evaluated first, as by the annealer
        ):
            return super()._fresh_candidate()
        pool: dict[tuple[int, ...], None] = {}
        if self.candidates:
            self._moves(base, self.candidates, pool, self._free_positions(base))
        if self.top_k and self.top_candidates:
            sources = list(dict.fromkeys(t for _, _, t in self._top))
            share, extra = divmod(self.top_candidates, len(sources))
            for i, source in enumerate(sources):
                self._moves(source, share + (i < extra), pool)
        for _ in range(self.random_candidates * 2):
            if len(pool) >= self.candidates + self.top_candidates + self.random_candidates:
                break
            candidate = tuple(int(self._rng.integers(r)) for r in self.range_table)
            if candidate not in pool and self._fresh(candidate):
                pool[candidate] = None
        if not pool:
            return super()._fresh_candidate()
        options = list(pool)
        return options[int(np.argmax(self._scores(options)))]

    def _scores(self, options: list[tuple[int, ...]]) -> np.ndarray:
        surrogate = self.surrogate()
        x = np.array(options, dtype=np.int64)
        if self.acquisition == "mean":
            return surrogate.predict(x)
        pending = None
        if self.believer and self.origins:
            pending = np.array(list(self.origins), dtype=np.int64)
        mean, sd = surrogate.posterior(x, pending)
        if self.acquisition == "ucb":
            ucb: np.ndarray = mean + self.ucb_beta * sd
            return ucb
        return expected_improvement(mean, sd, surrogate.best)

    # -- results -----------------------------------------------------------------------
    def apply_result(
        self, tokens: Sequence[int], reward: float, infeasible: bool, accepted: bool
    ) -> Outcome:
        if not infeasible:
            self.results.append((tuple(tokens), float(reward)))
            self._note_top(len(self.results) - 1)
        return super().apply_result(tokens, reward, infeasible, accepted)

    def _note_top(self, index: int) -> None:
        """Keep the `top_k` best results as they arrive, so a proposal (under the study's
        lock) does not scan them all: the best first, the earlier of equal rewards
        first, i.e. heapq.nlargest(top_k, results, key=reward), which it replaces."""
        tokens, reward = self.results[index]
        bisect.insort(self._top, (-reward, index, tokens))
        del self._top[self.top_k :]

    # -- snapshots ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {**super().state(), "results": [[list(t), r] for t, r in self.results]}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.results = [(tuple(t), float(r)) for t, r in state.get("results", [])]
        self._top = []
        for index in range(len(self.results)):
            self._note_top(index)
        self._epoch = object()  # fits taken before are of another list
        self._surrogate, self._fitted_on, self._stale_for, self._scale = None, -1, -1, None
