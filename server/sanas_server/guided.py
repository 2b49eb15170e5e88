"""Model-guided annealing (issue "model-guided proposals"): the annealer's frame with a
surrogate choosing its moves.

At each proposal a bounded pool of fresh candidates is drawn from the annealer's own
seeded generator: neighbours of the annealer's base (the moves it would make itself, 1
position away mostly, some 2), local mutations of the best results found so far, and a
few uniformly random vectors. A Gaussian process fitted on the study's finished results
scores them by an upper confidence bound (its posterior mean *and* variance), and the
best-scoring one is proposed. Running trials are handled as a kriging believer: each
counts as observed at the GP's own prediction, which leaves the mean as it is and
shrinks the variance around it, so parallel trainers are sent to different places.
Everything else is the annealer's: hints, the temperature, the acceptance rule (a result
becomes the base by the same test, whichever candidate it came from) and the journal
fields. Until `min_results` feasible results exist, and whenever no fresh candidate is
found, it proposes exactly as the annealer does (kicks included); while the surrogate
chooses, the mutations of the best results and the random candidates take the kicks'
place in leaving a used-up neighbourhood.

The GP: an exponential kernel k(x, y) = exp(-d(x, y) / (s * L)) for L positions, d
either Hamming (the count of differing positions: token values as unordered categories)
or ordinal (sum of |x_i - y_i| / (range_i - 1): values as ordered steps, e.g. channel
counts); which one, and the length scale s from a small grid, are chosen together by
marginal likelihood every `rescale_every` results. Noise (ridge) `noise` on
standardised rewards, over the last `max_fit` results: numpy only, no dependency,
O(max_fit^3) per fit (see docs/model-guided.md for the cost).

Infeasible results teach it where not to go, two ways (`feasibility`, "both" by
default): they count as observed at the GP's own prediction (as pending trials do: the
mean is untouched, so a cliff does not distort the reward model, but the variance there
shrinks, so the UCB stops chasing the unexplored infeasible side), and a classifier on
the same kernel (`Feasibility`) estimates P(feasible) of each candidate from the recent
feasible and infeasible results; candidates below `feasible_threshold` rank after all
others.

Where the fit runs: `propose` fits inline when no model for the current results is
installed, so a study used alone (tests, replays, the bench) decides exactly what it
always did. A controller instead takes a `SurrogateFit` under the study's lock (a copy of
the fit's data), runs it without the lock and installs the result (`install_fit`); the
fit and the inline path are the same code (`surrogate()` runs a job itself), so the same
data give the same proposals. The length scale's choice is part of the job.

Replay never refits: the chosen tokens and the generator state after choosing are the
Proposal's (`tokens`, `rng_state`), which `record` restores as the annealer's do. The
results the surrogate learns from are rebuilt by `apply_result` (live and replayed alike)
and travel through snapshots in `state()["results"]` and `state()["infeasible"]`; the
fits are deterministic functions of them and of the pending trials, so a study restored
from a snapshot proposes what the live one would have.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .annealer import Annealer, Outcome
from .policy import Feasible, FitJob, ModelFit, PendingResult, Proposal, Standing

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
# Distances the marginal likelihood chooses between, with the length scale: token values
# as unordered categories ("hamming") or as ordered steps ("ordinal").
KERNELS = ("hamming", "ordinal")
# The kernel and length scale are chosen again every this many results (each choice
# costs a fit per kernel and grid value).
RESCALE_EVERY = 10
NOISE = 0.1  # ridge term, in units of the standardised reward variance
ACQUISITION = "ucb"  # "ucb" (mean + beta * sd), "ei" (expected improvement) or "mean"
UCB_BETA = 2.0
# The operator's measure of the model: rank correlation of its predictions with the
# results, over this many of the latest results of trials it chose.
RANKED_RESULTS = 20
# At most this many running trials, and as many infeasible results, count as observed
# (believer points) when candidates are scored: that O(p^3) solve runs under the study's
# lock, so p stays bounded however many trials run at once.
MAX_BELIEVED = 64


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank); 0.0 when either side
    is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    sx, sy = float(rx.std()), float(ry.std())
    if sx == 0.0 or sy == 0.0:
        return 0.0
    return float(((rx - rx.mean()) * (ry - ry.mean())).mean() / (sx * sy))


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = np.arange(len(v), dtype=np.float64)
    for value in np.unique(v):  # ties: their average rank
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


# What infeasible results do: "gate" (a classifier on the surrogate's kernel, candidates
# below FEASIBLE_THRESHOLD ranked after the others), "believer" (observed at the GP's
# own prediction, so the variance there shrinks and UCB stops chasing it), "both", or
# "none" (ignored).
FEASIBILITY = "both"
FEASIBLE_THRESHOLD = 0.5


# Elements of the (rows of a, rows of b, positions) block a distance is summed over at
# once: bounds the temporary arrays (~4 MB of bools) whatever the vector length.
DISTANCE_BLOCK = 1 << 22


def _position_blocks(a: np.ndarray, b: np.ndarray) -> list[slice]:
    width = max(1, DISTANCE_BLOCK // max(1, len(a) * len(b)))
    return [slice(i, i + width) for i in range(0, a.shape[1], width)]


def mismatches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise count of differing positions between the rows of a and of b."""
    counts = np.zeros((len(a), len(b)), dtype=np.float64)
    for block in _position_blocks(a, b):  # vectorised, in bounded blocks of positions
        counts += (a[:, None, block] != b[None, :, block]).sum(axis=2)
    return counts


def ordinal_distances(a: np.ndarray, b: np.ndarray, ranges: Sequence[int]) -> np.ndarray:
    """Pairwise sum over positions of |a_i - b_i| / (range_i - 1): token values as
    ordered steps, each position contributing at most 1 (as a mismatch does; a range of
    one never differs)."""
    steps = np.array([1.0 / (r - 1) if r > 1 else 0.0 for r in ranges])
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    for block in _position_blocks(a, b):
        diff = np.abs(a[:, None, block] - b[None, :, block]).astype(np.float64)
        out += diff @ steps[block]
    return out


def distances(kernel: str, a: np.ndarray, b: np.ndarray, ranges: Sequence[int]) -> np.ndarray:
    """The distance a kernel decays with: "hamming" or "ordinal" (see KERNELS)."""
    if kernel == "ordinal":
        return ordinal_distances(a, b, ranges)
    return mismatches(a, b)


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


def choose_kernel(
    x: np.ndarray,
    y: np.ndarray,
    ranges: Sequence[int],
    kernels: Sequence[str],
    length_scales: Sequence[float],
    noise: float,
) -> tuple[str, float]:
    """The (kernel, length scale) of highest marginal likelihood, the scale in units of
    the vector length. Ties go to the first listed (np.argmax): a pure function of its
    arguments, so a restored policy chooses what the live one chose."""
    if len(kernels) == 1 and len(length_scales) == 1:
        return kernels[0], float(length_scales[0])
    std = float(y.std())
    z = (y - y.mean()) / (std if std > 0.0 else 1.0)
    fits: list[tuple[float, str, float]] = []
    for kernel in kernels:
        d = distances(kernel, x, x, ranges)
        for s in length_scales:
            fits.append((log_likelihood(d, z, s * x.shape[1], noise), kernel, float(s)))
    _, kernel, scale = fits[int(np.argmax([f[0] for f in fits]))]
    return kernel, scale


class KernelFit:
    """What the Surrogate and the Feasibility model share: a GP regression of `target`
    on the rows of x with an exponential kernel, k = exp(-d / (s * L)), d Hamming or
    ordinal (see the module doc), unit signal variance and `noise` on the diagonal. The
    O(n^3) part is done here, once per fit (outside the study's lock when a controller
    runs it): the inverse of K's Cholesky factor and K^-1 target. A query is then matrix
    products, O(n^2) per candidate. numpy has no triangular solve, so the factor is
    inverted; K's diagonal is >= 1 + noise, so it is well conditioned."""

    def __init__(
        self,
        x: np.ndarray,
        target: np.ndarray,
        length_scale: float,
        noise: float,
        kernel: str,
        ranges: Sequence[int] | None,
    ) -> None:
        if kernel == "ordinal" and ranges is None:
            raise ValueError("the ordinal kernel needs the ranges (its steps are per range)")
        self.x = x
        self.kernel = kernel
        self.ranges = tuple(ranges) if ranges is not None else (2,) * x.shape[1]
        self.noise = noise
        self.length_scale = length_scale
        self.scale = length_scale * x.shape[1]
        self.k = self._k(x, x)
        self.k[np.diag_indices_from(self.k)] += noise
        self.l_inv = np.linalg.inv(np.linalg.cholesky(self.k))
        self.alpha = self.l_inv.T @ (self.l_inv @ target)

    def _k(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        k: np.ndarray = np.exp(-distances(self.kernel, a, b, self.ranges) / self.scale)
        return k


class Surrogate(KernelFit):
    """The reward model (a KernelFit): standardised rewards; a fit is the kernel matrix
    and its factor (O(n^3) for n results), a query matrix products with the cached
    factor (O(n^2) per candidate)."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        length_scale: float,
        noise: float,
        kernel: str = "hamming",
        ranges: Sequence[int] | None = None,
    ) -> None:
        self.mean = float(y.mean())
        std = float(y.std())
        self.std = std if std > 0.0 else 1.0
        self.z = (y - self.mean) / self.std
        self.best = float(self.z.max())
        super().__init__(x, self.z, length_scale, noise, kernel, ranges)

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


class Feasibility(KernelFit):
    """P(feasible) on the surrogate's kernel: a GP regression (a KernelFit) on labels +1
    (feasible) and -1 (infeasible) around their mean (a least-squares classifier, numpy
    only), the probability Phi(mean / sd) of its predictive distribution. Unvisited
    regions fall back to the base rate with low confidence; near infeasible results it
    drops."""

    def __init__(
        self,
        x: np.ndarray,
        feasible: np.ndarray,
        length_scale: float,
        noise: float,
        kernel: str,
        ranges: Sequence[int],
    ) -> None:
        labels = np.where(feasible, 1.0, -1.0)
        self.prior = float(labels.mean())
        self.centred = labels - self.prior
        super().__init__(x, self.centred, length_scale, noise, kernel, ranges)

    def probability(self, x: np.ndarray) -> np.ndarray:
        kx = self._k(x, self.x)
        mean = self.prior + kx @ self.alpha
        v = self.l_inv @ kx.T
        var = 1.0 + self.noise - (v * v).sum(axis=0)
        return _normal_cdf(mean / np.sqrt(np.maximum(var, 1e-12)))


@dataclass(frozen=True, eq=False)
class SurrogateFit(FitJob):
    """A fit of the policy's models as data copied out of the policy: `run()` reads
    nothing else, so it can run with no lock held. `epoch` names the policy's results
    list it was copied from (`install_fit` refuses another's); the fit is on the first
    `base` results (and `infeasible` infeasible ones) plus `extra` (a result being
    reported, None: none)."""

    epoch: object
    base: int
    infeasible: int
    extra: PendingResult | None
    x: np.ndarray  # the fit window, read-only
    y: np.ndarray
    choice_at: int  # kernel and length scale are chosen on the first choice_at results ...
    choice: tuple[str, float] | None  # ... and known already, or
    choice_x: np.ndarray | None  # ... chosen by run() on these (read-only)
    choice_y: np.ndarray | None
    kernels: tuple[str, ...]
    scales: tuple[float, ...]
    ranges: tuple[int, ...]
    noise: float
    # The feasibility classifier's window (read-only), None: no infeasible result in it.
    classify_x: np.ndarray | None
    classify_ok: np.ndarray | None

    @property
    def count(self) -> int:
        """The results the fit is for."""
        return self.base + (self.extra is not None)

    def run(self) -> FittedSurrogate:
        choice = self.choice
        if choice is None:
            assert self.choice_x is not None and self.choice_y is not None
            choice = choose_kernel(
                self.choice_x, self.choice_y, self.ranges, self.kernels, self.scales, self.noise
            )
        kernel, scale = choice
        surrogate = Surrogate(self.x, self.y, scale, self.noise, kernel, self.ranges)
        classifier = None
        if self.classify_x is not None and self.classify_ok is not None:
            classifier = Feasibility(
                self.classify_x, self.classify_ok, scale, self.noise, kernel, self.ranges
            )
        return FittedSurrogate(self, kernel, scale, surrogate, classifier)


@dataclass(frozen=True, eq=False)
class FittedSurrogate:
    """A SurrogateFit's result: the fitted models and the kernel and scale chosen."""

    job: SurrogateFit
    kernel: str
    scale: float
    surrogate: Surrogate
    classifier: Feasibility | None


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
        kernels: Sequence[str] = KERNELS,
        feasibility: str = FEASIBILITY,
        feasible_threshold: float = FEASIBLE_THRESHOLD,
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
        if feasibility not in ("gate", "believer", "both", "none"):
            raise ValueError(f"unknown feasibility model {feasibility!r}")
        if not kernels or any(k not in KERNELS for k in kernels):
            raise ValueError(f"kernels must be some of {KERNELS}, not {tuple(kernels)!r}")
        self.kernels = tuple(kernels)
        self.feasibility = feasibility
        self.feasible_threshold = feasible_threshold
        # (results it was chosen on, kernel, scale)
        self._choice: tuple[int, str, float] | None = None
        # Feasible results in arrival order: what the surrogate learns from.
        self.results: list[tuple[tuple[int, ...], float]] = []
        # Infeasible results, each with the count of feasible ones before it (arrival
        # order of both, for the feasibility model's window).
        self.infeasible: list[tuple[tuple[int, ...], int]] = []
        # The best top_k results as (-reward, index, tokens), best first (_note_top).
        self._top: list[tuple[float, int, tuple[int, ...]]] = []
        self._surrogate: Surrogate | None = None
        self._classifier: Feasibility | None = None  # fitted with the surrogate
        # (results, infeasible results) the installed models were fitted on, and those a
        # stale fit was accepted for.
        self._fitted_on: tuple[int, int] = (-1, -1)
        self._stale_for: tuple[int, int] = (-1, -1)
        # A new identity whenever `results` is replaced (load_state): within one epoch
        # results are only appended, which is what install_fit's checks rely on.
        self._epoch = object()
        self.fits = 0  # model fits installed (tests: replay never fits)
        self.inline_fits = 0  # of which run by propose itself (tests: none under a lock)
        # What the model predicted for each pending trial it chose, and (prediction,
        # reward) of the latest results of such trials: the operator's ModelFit.
        self.predicted: dict[tuple[int, ...], float] = {}
        self.ranked: deque[tuple[float, float]] = deque(maxlen=RANKED_RESULTS)
        self._pool_means: dict[tuple[int, ...], float] = {}  # this proposal's pool

    # -- the models --------------------------------------------------------------------
    def _key(self) -> tuple[int, int]:
        return len(self.results), len(self.infeasible)

    def surrogate(self) -> Surrogate:
        key = self._key()
        if self._surrogate is None or key not in (self._fitted_on, self._stale_for):
            self.inline_fits += 1
            self.install_fit(self._fit_job(None).run())
        assert self._surrogate is not None
        return self._surrogate

    def classifier(self) -> Feasibility | None:
        """The feasibility model fitted with the surrogate (on the last `max_fit`
        results, feasible or not, in arrival order); None while that window holds no
        infeasible one."""
        self.surrogate()
        return self._classifier

    def fit_job(self, result: PendingResult | None = None) -> SurrogateFit | None:
        count = len(self.results) + (result is not None)
        if count < self.min_results:
            return None  # the annealer's own moves: no surrogate
        if result is None and self._surrogate is not None and self._fitted_on == self._key():
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
        known = self._choice[1:] if self._choice is not None and self._choice[0] == at else None
        cx, cy = (None, None) if known is not None else self._window(at, extra)
        classify = self._classifier_window(extra) if self.feasibility in ("gate", "both") else None
        return SurrogateFit(
            epoch=self._epoch,
            base=base,
            infeasible=len(self.infeasible),
            extra=extra,
            x=_frozen(x),
            y=_frozen(y),
            choice_at=at,
            choice=known,
            choice_x=None if cx is None else _frozen(cx),
            choice_y=None if cy is None else _frozen(cy),
            kernels=self.kernels,
            scales=scales,
            ranges=tuple(self.range_table),
            noise=self.noise,
            classify_x=None if classify is None else _frozen(classify[0]),
            classify_ok=None if classify is None else _frozen(classify[1]),
        )

    def _classifier_window(
        self, extra: PendingResult | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The last `max_fit` results, feasible or not, in arrival order (`extra` the
        newest), as (tokens, feasible); None when none of them is infeasible."""
        # Merged from the end, newest first, so the work is bounded by max_fit.
        window: list[tuple[tuple[int, ...], bool]] = []
        if extra is not None:
            window.append((tuple(extra[0]), True))
        f, i = len(self.results) - 1, len(self.infeasible) - 1
        while len(window) < self.max_fit and (f >= 0 or i >= 0):
            # infeasible[i] arrived after results[before - 1], before results[before].
            if i >= 0 and self.infeasible[i][1] > f:
                window.append((self.infeasible[i][0], False))
                i -= 1
            else:
                window.append((self.results[f][0], True))
                f -= 1
        if all(ok for _, ok in window):
            return None
        window.reverse()
        x = np.array([t for t, _ in window], dtype=np.int64)
        return x, np.array([ok for _, ok in window], dtype=bool)

    def install_fit(self, fitted: object, stale_ok: bool = False) -> bool:
        if not isinstance(fitted, FittedSurrogate) or fitted.job.epoch is not self._epoch:
            return False
        job, n = fitted.job, len(self.results)
        key = self._key()
        # Results are only appended within an epoch, so the first `base` are the job's;
        # its extra result must be the one that came next for the fit to be of ours.
        ours = job.extra is None or (n > job.base and self.results[job.base] == job.extra)
        if ours and job.count <= n:
            self._choice = (job.choice_at, fitted.kernel, fitted.scale)
        if ours and (job.count, job.infeasible) == key:
            self._surrogate, self._classifier = fitted.surrogate, fitted.classifier
            self._fitted_on, self._stale_for = key, (-1, -1)
            self.fits += 1
            return True
        if self._surrogate is not None and self._fitted_on == key:
            return True  # a current one is installed already: keep it
        if not stale_ok:
            return False
        # Results arrived during the fit: propose with these models for now (they are
        # never taken for the models of any other count of results).
        self._surrogate, self._classifier = fitted.surrogate, fitted.classifier
        self._stale_for = key
        self._fitted_on = (job.count, job.infeasible) if ours else (-1, -1)
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
            predicted = surrogate.predict(x)
            self._pool_means = dict(zip(options, predicted.tolist(), strict=True))
            return predicted
        believed: list[tuple[int, ...]] = []
        if self.believer:  # the latest running trials: scoring is under the study's lock
            believed = list(itertools.islice(reversed(self.origins), MAX_BELIEVED))[::-1]
        if self.feasibility in ("believer", "both"):
            # Only those that arrived within the surrogate's window (its first result
            # on): the pending rows stay as recent, and as bounded, as the fit.
            start = max(0, len(self.results) - self.max_fit)
            recent: list[tuple[int, ...]] = []
            for tokens, before in reversed(self.infeasible):
                if before < start or len(recent) >= MAX_BELIEVED:
                    break
                recent.append(tokens)
            believed += recent[::-1]
        pending = np.array(believed, dtype=np.int64) if believed else None
        mean, sd = surrogate.posterior(x, pending)
        self._pool_means = dict(
            zip(options, (surrogate.mean + surrogate.std * mean).tolist(), strict=True)
        )
        if self.acquisition == "ucb":
            score: np.ndarray = mean + self.ucb_beta * sd
        else:
            score = expected_improvement(mean, sd, surrogate.best)
        classifier = self.classifier() if self.feasibility in ("gate", "both") else None
        if classifier is None:
            return score
        # Likely-infeasible candidates rank after every other, among themselves by their
        # probability: the gate never leaves the pool empty.
        p = classifier.probability(x)
        gated: np.ndarray = np.where(p >= self.feasible_threshold, score, p - 1e9)
        return gated

    # -- proposals: the model's prediction travels with the chosen tokens --------------
    def propose(self, feasible: Feasible | None = None) -> Proposal:
        self._pool_means = {}
        proposal = super().propose(feasible)
        predicted = self._pool_means.get(proposal.tokens)
        self._pool_means = {}
        if predicted is None:  # the annealer's own move (warm-up, fallback)
            return proposal
        self.predicted[proposal.tokens] = predicted
        return dataclasses.replace(proposal, predicted=predicted)

    def record(self, proposal: Proposal) -> None:
        super().record(proposal)
        if proposal.predicted is not None:
            self.predicted[proposal.tokens] = proposal.predicted

    # -- results -----------------------------------------------------------------------
    def apply_result(
        self, tokens: Sequence[int], reward: float, infeasible: bool, accepted: bool
    ) -> Outcome:
        key = tuple(tokens)
        predicted = self.predicted.pop(key, None)
        if infeasible:
            self.infeasible.append((key, len(self.results)))
        else:
            self.results.append((key, float(reward)))
            self._note_top(len(self.results) - 1)
            if predicted is not None:
                self.ranked.append((predicted, float(reward)))
        return super().apply_result(tokens, reward, infeasible, accepted)

    def _note_top(self, index: int) -> None:
        """Keep the `top_k` best results as they arrive, so a proposal (under the study's
        lock) does not scan them all: the best first, the earlier of equal rewards
        first, i.e. heapq.nlargest(top_k, results, key=reward), which it replaces."""
        tokens, reward = self.results[index]
        bisect.insort(self._top, (-reward, index, tokens))
        del self._top[self.top_k :]

    def apply_stop(self, tokens: Sequence[int]) -> None:
        self.predicted.pop(tuple(tokens), None)
        super().apply_stop(tokens)

    def apply_skip(self, tokens: Sequence[int]) -> None:
        self.predicted.pop(tuple(tokens), None)
        super().apply_skip(tokens)

    def standing(self) -> Standing:
        standing = super().standing()
        if len(self.ranked) < 2:
            return standing
        predicted, rewards = zip(*self.ranked, strict=True)
        fit = ModelFit(spearman(predicted, rewards), len(self.ranked))
        return dataclasses.replace(standing, model_fit=fit)

    # -- snapshots ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "results": [[list(t), r] for t, r in self.results],
            "predicted": [[list(t), p] for t, p in self.predicted.items()],
            "ranked": [list(pair) for pair in self.ranked],
            "infeasible": [[list(t), n] for t, n in self.infeasible],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.results = [(tuple(t), float(r)) for t, r in state.get("results", [])]
        self.predicted = {tuple(t): float(p) for t, p in state.get("predicted", [])}
        self.ranked = deque(
            ((float(p), float(r)) for p, r in state.get("ranked", [])), maxlen=RANKED_RESULTS
        )
        # Snapshots from before the feasibility model lack it: nothing infeasible known.
        self.infeasible = [(tuple(t), int(n)) for t, n in state.get("infeasible", [])]
        self._top = []
        for index in range(len(self.results)):
            self._note_top(index)
        self._epoch = object()  # fits taken before are of another list
        self._surrogate, self._classifier, self._choice = None, None, None
        self._fitted_on, self._stale_for = (-1, -1), (-1, -1)
