"""Search quality on token-space landscapes with known optima (issue 6, first part).

Methods: this project's annealer with its documented defaults, its model-guided variant
(server/sanas_server/guided.py), random search without repeats, regularized evolution
(Real et al., 2019), Optuna's TPE sampler, and with --with-paddleslim PaddleSlim
2.6.0's SAController in its own environment (bench/paddleslim_peer.py). Each runs
sequentially and with 8 simulated parallel trainers whose results arrive out of order
(exponential durations).
Reported: mean and standard deviation of the regret (optimum minus best found, over the
landscape's reward range) across seeds, at each budget. Pure computation: no server.

NAS-Bench-Graph (--nas-bench-graph, needs `pip install nas-bench-graph==1.4.0 optuna`):
validation accuracies of its 26,206 GNN architectures on the tuning datasets citeseer,
computers, cs and physics, one run per seed and method up to the largest budget (regret
read off after each budget's evaluations). Its other datasets (cora, photo, pubmed, arxiv,
proteins) are held out for acceptance: refused unless --acceptance is given. PaddleSlim's
SAController is the method "paddleslim SA" there (opt-in: --methods or --with-paddleslim),
run in its own environment on the landscape's reward table, written to a temporary file.

usage: python bench/quality.py [--seeds 30] [--budgets 50,100,200,500] [--quick]
       python bench/quality.py --methods "sanas annealer,sanas model-guided" \
           [--landscapes separable,...] [--first-seed 100] [--seeds 20] [--trainers 1,8]
       python bench/quality.py --nas-bench-graph [--datasets citeseer,computers,cs,physics]
           [--seeds 30] [--budgets 50,100,200] [--trainers 1,8] [--methods ...]
           [--with-paddleslim] [--first-seed 0] [--json rows.json]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Small linear algebra (the model-guided policy's GP) is many times slower with OpenBLAS
# threads on a shared machine: one thread, unless told otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
import trained_landscape

from sanas_server.annealer import Annealer, SpaceExhausted
from sanas_server.guided import GuidedAnnealer

Tokens = tuple[int, ...]


@dataclass(frozen=True)
class Landscape:
    name: str
    table: tuple[int, ...]
    reward: Callable[[Tokens], float | None]  # None: infeasible
    best: float  # the known optimum
    worst: float  # for normalising regret

    def regret(self, found: float) -> float:
        return (self.best - found) / (self.best - self.worst)


def landscape_rng(seed: int) -> np.random.Generator:
    """Landscapes draw from their own stream, never the one a method is seeded with."""
    return np.random.default_rng([seed, 90210])


def separable(seed: int) -> Landscape:
    rng = landscape_rng(seed)
    table = (10,) * 8
    target = rng.integers(0, 10, len(table))

    def f(t: Tokens) -> float:
        return -float(np.sum((np.array(t) - target) ** 2))

    return Landscape("separable", table, f, 0.0, -8 * 81.0)


def rugged_nk(seed: int, n: int = 8, values: int = 4, k: int = 2) -> Landscape:
    """NK landscape: each token's contribution depends on it and its k right neighbours;
    the optimum is found by exhaustive search (4^8 vectors)."""
    rng = landscape_rng(seed)
    tables = rng.random((n, *([values] * (k + 1))))

    def f(t: Tokens) -> float:
        return float(
            sum(tables[i][tuple(t[(i + j) % n] for j in range(k + 1))] for i in range(n)) / n
        )

    grid = np.array(list(itertools.product(range(values), repeat=n)))
    scores = np.zeros(len(grid))
    for i in range(n):
        scores += tables[i][tuple(grid[:, (i + j) % n] for j in range(k + 1))]
    scores /= n
    return Landscape("rugged NK", (values,) * n, f, float(scores.max()), float(scores.min()))


def plateaus(seed: int) -> Landscape:
    """Wide flat terraces of the separable landscape: squared distance 0-39 from the
    target is the top terrace, 40-79 the next, ... Only accepting equal rewards (and
    kicks) crosses a terrace; the top one is wide, so it can be found."""
    base = separable(seed)

    def f(t: Tokens) -> float:
        return -float(np.floor(-base.reward(t) / 40.0) * 40.0)

    return Landscape("plateaus", base.table, f, 0.0, -float(np.floor(-base.worst / 40) * 40))


def many_to_one(seed: int) -> Landscape:
    """Reward depends on t // 3 only: every value is shared by 3^6 token vectors."""
    rng = landscape_rng(seed)
    target = rng.integers(0, 3, 6)

    def f(t: Tokens) -> float:
        return -float(np.sum((np.array(t) // 3 - target) ** 2))

    return Landscape("many-to-one", (9,) * 6, f, 0.0, -6 * 4.0)


def infeasible_regions(seed: int) -> Landscape:
    """The separable landscape with its optimum next to an infeasible region: vectors
    whose token sum exceeds the optimum's by more than 3 are infeasible."""
    base = separable(seed)
    rng = landscape_rng(seed)
    limit = int(np.sum(rng.integers(0, 10, 8))) + 3  # same draw as base's target

    def f(t: Tokens) -> float | None:
        return None if sum(t) > limit else base.reward(t)

    return Landscape("infeasible regions", base.table, f, 0.0, base.worst)


def trained_digits(seed: int) -> Landscape:
    """Test accuracies of 1,296 really trained MobileNetV2 block networks on load_digits
    (bench/trained_landscape.py; the table ships in bench/data). One table for all seeds:
    the seed varies the methods only."""
    data = trained_landscape.load()
    accuracy = data["accuracy"]
    table = tuple(len(c) for c in data["choices"])

    def f(t: Tokens) -> float:
        return float(accuracy[trained_landscape.index_of(t)])

    return Landscape("trained digits", table, f, max(accuracy), min(accuracy))


LANDSCAPES = [separable, rugged_nk, plateaus, many_to_one, infeasible_regions, trained_digits]

# -- NAS-Bench-Graph (Qin et al., 2022) ------------------------------------------------
NBG_TUNING = ("citeseer", "computers", "cs", "physics")
# Held out for acceptance: never loaded without --acceptance.
NBG_HELD_OUT = ("cora", "photo", "pubmed", "arxiv", "proteins")
_NBG_CACHE: dict[str, Landscape] = {}


def nas_bench_graph(name: str, acceptance: bool = False) -> Landscape:
    """Validation accuracy over NAS-Bench-Graph's space as 5 tokens: the link pattern
    (9, its link_list) and the operation of each of the 4 nodes (9, its gnn_list; 5 on
    proteins, gnn_list_proteins). Every vector maps to one of the benchmarked
    architectures (26,206; 2,021 on proteins) through the package's canonical hash
    (isomorphic vectors share a reward), but the 9 all-skip vectors, which it does not
    hold: those are infeasible. One table for all seeds."""
    if name in NBG_HELD_OUT and not acceptance:
        raise SystemExit(f"{name} is held out for acceptance: pass --acceptance to use it")
    if name not in NBG_TUNING + NBG_HELD_OUT:
        raise SystemExit(f"unknown NAS-Bench-Graph dataset {name!r}")
    if name in _NBG_CACHE:
        return _NBG_CACHE[name]
    from nas_bench_graph import Arch, light_read
    from nas_bench_graph.architecture import gnn_list, gnn_list_proteins, link_list

    # proteins was benchmarked on 5 of the 9 operations (the package's own list for it:
    # with it, every architecture of its table is reached; 9 x 5^4 vectors).
    ops = gnn_list_proteins if name == "proteins" else gnn_list
    bench = light_read(name)
    accuracy: dict[Tokens, float] = {}
    for tokens in itertools.product(range(len(link_list)), *[range(len(ops))] * 4):
        arch = Arch(link_list[tokens[0]], [ops[o] for o in tokens[1:]])
        key = arch.valid_hash()
        if key in bench:
            accuracy[tokens] = float(bench[key]["valid_perf"])
    values = [float(v["valid_perf"]) for v in bench.values()]
    table = (len(link_list), *(len(ops),) * 4)
    land = Landscape(f"nbg {name}", table, accuracy.get, max(values), min(values))
    _NBG_CACHE[name] = land
    return land


# -- methods: ask / tell ---------------------------------------------------------------
class Method:
    name = ""

    def ask(self) -> Tokens: ...
    def tell(self, tokens: Tokens, reward: float | None) -> None: ...


class SanasAnnealer(Method):
    """The project's annealer with its documented defaults (T0 10.0, rate 0.85, a random
    start drawn from the seed, as the controller does for a custom space)."""

    name = "sanas annealer"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        rng = np.random.default_rng([seed, 1])
        start = [int(rng.integers(r)) for r in table]
        self.a = Annealer(table, start, 10.0, 0.85, seed)

    def ask(self) -> Tokens:
        return self.a.draw()

    def tell(self, tokens: Tokens, reward: float | None) -> None:
        self.a.observe(tokens, 0.0 if reward is None else reward, reward is None)


class ModelGuided(SanasAnnealer):
    """The annealer's frame with a GP choosing each move by UCB among a bounded pool of
    fresh candidates (sanas_server/guided.py, its defaults), same start and temperature
    schedule."""

    name = "sanas model-guided"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        rng = np.random.default_rng([seed, 1])
        start = [int(rng.integers(r)) for r in table]
        self.a = GuidedAnnealer(table, start, 10.0, 0.85, seed)


class TPE(Method):
    """Optuna's TPE sampler (multivariate, constant liar for pending trials), one
    categorical parameter per position, through ask / tell. It may repeat a vector (each
    repeat costs an evaluation, as it would for real); infeasible results are FAIL."""

    name = "optuna TPE"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.dists = {
            f"t{i}": optuna.distributions.CategoricalDistribution(list(range(r)))
            for i, r in enumerate(table)
        }
        self.pending: dict[Tokens, list] = {}

    def ask(self) -> Tokens:
        trial = self.study.ask(self.dists)
        t = tuple(int(trial.params[f"t{i}"]) for i in range(len(self.dists)))
        self.pending.setdefault(t, []).append(trial)
        return t

    def tell(self, tokens: Tokens, reward: float | None) -> None:
        import optuna

        trial = self.pending[tokens].pop(0)
        if reward is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, reward)


class RandomSearch(Method):
    name = "random search"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        self.table, self.rng, self.seen = table, np.random.default_rng(seed), set()

    def ask(self) -> Tokens:
        while True:
            t = tuple(int(self.rng.integers(r)) for r in self.table)
            if t not in self.seen:
                self.seen.add(t)
                return t

    def tell(self, tokens: Tokens, reward: float | None) -> None:
        return None


class RegularizedEvolution(Method):
    """Aging evolution: population 20, tournament of 5, one-token mutation, no repeats."""

    name = "regularized evolution"

    def __init__(self, table: Sequence[int], seed: int, population: int = 20, sample: int = 5):
        self.table, self.rng = table, np.random.default_rng(seed)
        self.population, self.sample = population, sample
        self.alive: list[tuple[Tokens, float]] = []
        self.seen: set[Tokens] = set()

    def _fresh(self, make: Callable[[], Tokens]) -> Tokens:
        # Mutants of a converged population repeat: fall back to random vectors.
        for attempt in range(2000):
            t = make() if attempt < 1000 else self._random()
            if t not in self.seen:
                self.seen.add(t)
                return t
        raise SpaceExhausted("regularized evolution found no unseen vector")

    def _random(self) -> Tokens:
        return tuple(int(self.rng.integers(r)) for r in self.table)

    def _mutant(self) -> Tokens:
        picks = self.rng.choice(
            len(self.alive), size=min(self.sample, len(self.alive)), replace=False
        )
        parent = max((self.alive[int(i)] for i in picks), key=lambda p: p[1])[0]
        child = list(parent)
        i = int(self.rng.integers(len(child)))
        child[i] = (child[i] + 1 + int(self.rng.integers(self.table[i] - 1))) % self.table[i]
        return tuple(child)

    def ask(self) -> Tokens:
        if len(self.alive) < self.population:
            return self._fresh(self._random)
        return self._fresh(self._mutant)

    def tell(self, tokens: Tokens, reward: float | None) -> None:
        if reward is None:
            return
        self.alive.append((tokens, reward))
        if len(self.alive) > self.population:
            self.alive.pop(0)


METHODS = [SanasAnnealer, RandomSearch, RegularizedEvolution]


def run(method: Method, land: Landscape, budget: int, trainers: int, seed: int) -> float:
    """Best reward found within `budget` evaluations; with several trainers, results come
    back in order of simulated completion time."""
    rng = np.random.default_rng([seed, 7])
    best = land.worst
    clock: list[tuple[float, int, Tokens]] = []
    issued = 0
    for n in range(min(trainers, budget)):
        t = method.ask()
        heapq.heappush(clock, (float(rng.exponential()), n, t))
        issued += 1
    while clock:
        now, n, t = heapq.heappop(clock)
        r = land.reward(t)
        method.tell(t, r)
        if r is not None:
            best = max(best, r)
        if issued < budget:
            try:
                nxt = method.ask()
            except SpaceExhausted:
                continue
            heapq.heappush(clock, (now + float(rng.exponential()), n, nxt))
            issued += 1
    return land.regret(best)


def run_curve(
    method: Method, land: Landscape, budgets: Sequence[int], trainers: int, seed: int
) -> dict[int, float]:
    """One run up to the largest budget: the regret after each budget's evaluations have
    completed (with several trainers, the first `budget` results to arrive)."""
    rng = np.random.default_rng([seed, 7])
    top = max(budgets)
    best = land.worst
    out: dict[int, float] = {}
    clock: list[tuple[float, int, Tokens]] = []
    issued = done = 0
    for n in range(min(trainers, top)):
        heapq.heappush(clock, (float(rng.exponential()), n, method.ask()))
        issued += 1
    while clock:
        now, n, t = heapq.heappop(clock)
        r = land.reward(t)
        method.tell(t, r)
        done += 1
        if r is not None:
            best = max(best, r)
        if done in budgets:
            out[done] = land.regret(best)
        if issued < top:
            try:
                nxt = method.ask()
            except SpaceExhausted:
                continue
            heapq.heappush(clock, (now + float(rng.exponential()), n, nxt))
            issued += 1
    for b in budgets:  # a space used up before a budget: the regret it ended with
        out.setdefault(b, land.regret(best))
    return out


class PaddleSlimNBG(Method):
    """PaddleSlim 2.6.0's SAController on NAS-Bench-Graph: a name for --methods only.
    It runs in its own environment (bench/paddleslim_peer.py, driven as PaddleSlim's
    ControllerServer drives it for 1 or 8 clients), never in this process."""

    name = "paddleslim SA"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        raise TypeError("PaddleSlim runs in its own environment: see paddleslim_nbg_rows")


PADDLESLIM_NBG = PaddleSlimNBG.name
NBG_METHODS = [SanasAnnealer, ModelGuided, RandomSearch, RegularizedEvolution, TPE]
# Opt-in, as on the synthetic landscapes: its environment is created on first use.
NBG_PEERS = [PaddleSlimNBG]


def measure_curves(
    landscapes: Sequence[Callable[[int], Landscape]],
    seeds: int,
    budgets: Sequence[int],
    trainer_counts: Sequence[int],
    methods: Sequence[type[Method]],
    first_seed: int = 0,
) -> list[dict]:
    """The synthetic landscapes with chosen methods and seeds, one run per seed up to the
    largest budget (`run_curve`: at the largest budget the same as `run`)."""
    rows = []
    for make_land in landscapes:
        lands = [make_land(s) for s in range(first_seed, first_seed + seeds)]
        for trainers in trainer_counts:
            for method_cls in methods:
                start = time.perf_counter()
                curves = [
                    run_curve(method_cls(land.table, s), land, budgets, trainers, s)
                    for s, land in zip(range(first_seed, first_seed + seeds), lands, strict=True)
                ]
                print(
                    f"  {lands[0].name} x{trainers} {method_cls.name}: "
                    f"{time.perf_counter() - start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                for b in budgets:
                    regrets = [c[b] for c in curves]
                    rows.append(regret_row(lands[0].name, trainers, method_cls.name, b, regrets))
    return rows


def regret_row(
    landscape: str, trainers: int, method: str, budget: int, regrets: list[float], **extra: object
) -> dict:
    """One table row: a method's regrets over the seeds at a budget, with their mean,
    standard deviation and standard error (the JSON rows every report reads)."""
    return {
        "landscape": landscape,
        "trainers": trainers,
        "method": method,
        "budget": budget,
        "mean": statistics.fmean(regrets),
        "std": statistics.pstdev(regrets),
        "se": statistics.stdev(regrets) / len(regrets) ** 0.5,
        "regrets": regrets,
        **extra,
    }


def measure_nbg(
    datasets: Sequence[str],
    seeds: int,
    budgets: Sequence[int],
    trainer_counts: Sequence[int],
    methods: Sequence[type[Method]],
    acceptance: bool = False,
    first_seed: int = 0,
) -> list[dict]:
    rows = []
    for name in datasets:
        land = nas_bench_graph(name, acceptance)
        if PaddleSlimNBG in methods:
            rows += paddleslim_nbg_rows(land, seeds, budgets, trainer_counts, first_seed)
        for trainers in trainer_counts:
            for method_cls in methods:
                if method_cls is PaddleSlimNBG:
                    continue
                per_budget: dict[int, list[float]] = {b: [] for b in budgets}
                start = time.perf_counter()
                for seed in range(first_seed, first_seed + seeds):
                    curve = run_curve(method_cls(land.table, seed), land, budgets, trainers, seed)
                    for b in budgets:
                        per_budget[b].append(curve[b])
                seconds = time.perf_counter() - start
                print(
                    f"  {land.name} x{trainers} {method_cls.name}: {seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                for b in budgets:
                    rows.append(regret_row(land.name, trainers, method_cls.name, b, per_budget[b]))
    return rows


def goals(rows: list[dict], ours: str, re: str, annealer: str) -> str:
    """The goal of issue "find better architectures in half the evaluations", per
    landscape and trainer count, paired by seed: (1) at 100 evaluations the regret RE
    reaches at 200, (2) at 200 at most 0.7x RE's regret, (3) with 8 trainers within 10%
    of sequential, (4) never worse than the annealer beyond noise (2 se)."""
    index = {(r["landscape"], r["trainers"], r["method"], r["budget"]): r for r in rows}
    out = [
        "| landscape | trainers | (1) ours@100 - RE@200 | (2) ours/RE @200 | "
        "(3) 8 vs 1 @200 | (4) worse than annealer |",
        "|---|---:|---|---|---|---|",
    ]
    for land, trainers in sorted({(r["landscape"], r["trainers"]) for r in rows}):
        a100 = index.get((land, trainers, ours, 100))
        a200 = index.get((land, trainers, ours, 200))
        r200 = index.get((land, trainers, re, 200))
        if a100 is None or a200 is None or r200 is None:
            continue
        c1 = paired(a100["regrets"], r200["regrets"])
        g1 = "met" if c1["diff"] <= 0 else f"missed by {c1['diff']:.4f}"
        ratio = a200["mean"] / r200["mean"] if r200["mean"] > 0 else 0.0
        g2 = "met" if ratio <= 0.7 else "missed"
        seq = index.get((land, 1, ours, 200))
        g3 = "-"
        if trainers != 1 and seq is not None and seq["mean"] > 0:
            r = a200["mean"] / seq["mean"]
            g3 = f"{'met' if r <= 1.1 else 'missed'} ({r:.2f})"
        worse = [
            f"@{b}"
            for b in sorted({r["budget"] for r in rows})
            if (x := index.get((land, trainers, ours, b))) is not None
            and (y := index.get((land, trainers, annealer, b))) is not None
            and paired(x["regrets"], y["regrets"])["verdict"] == "worse"
        ]
        out.append(
            f"| {land} | {trainers} | {g1} ({c1['diff']:+.4f} ± {c1['se']:.4f}) | "
            f"{g2} ({ratio:.2f}) | {g3} | {', '.join(worse) or 'never'} |"
        )
    return "\n".join(out)


def against(rows: list[dict], ours: str, peer: str) -> str:
    """`ours` against `peer` cell by cell, paired by seed, and the goal of issue
    "model-guided proposals": at 100 evaluations RE's regret at 200, at 200 at most 0.7x."""
    index = {(r["landscape"], r["trainers"], r["method"], r["budget"]): r for r in rows}
    budgets = sorted({r["budget"] for r in rows})
    out = [
        f"| landscape | trainers | budget | {ours} | {peer} | ratio | difference ± se | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for land, trainers in sorted({(r["landscape"], r["trainers"]) for r in rows}):
        for b in budgets:
            a = index.get((land, trainers, ours, b))
            p = index.get((land, trainers, peer, b))
            if a is None or p is None:
                continue
            c = paired(a["regrets"], p["regrets"])
            ratio = f"{a['mean'] / p['mean']:.2f}" if p["mean"] > 0 else "-"
            out.append(
                f"| {land} | {trainers} | {b} | {a['mean']:.4f} | {p['mean']:.4f} | {ratio} | "
                f"{c['diff']:+.4f} ± {c['se']:.4f} | {c['verdict']} |"
            )
    return "\n".join(out)


def suggest_cost(counts: Sequence[int] = (100, 1000), repeats: int = 100) -> str:
    """Milliseconds per proposal of the annealer and its model-guided variant after
    `count` results (random rewards on a 5 x 9 space): p50 and p99 of `repeats`
    proposals, each after a new result (so each fits the surrogate again). The last rows:
    1 result in 5 infeasible, so the feasibility model is fitted too."""
    out = [
        "| policy | results so far | infeasible | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    table = (9,) * 5
    cases = [(Annealer, 0.0), (GuidedAnnealer, 0.0), (GuidedAnnealer, 0.2)]
    for cls, share in cases:
        for count in counts:
            rng = np.random.default_rng(count)
            policy = cls(table, [0] * 5, 10.0, 0.85, 0)
            for _ in range(count):
                t = policy.draw()
                policy.observe(t, float(rng.random()), bool(rng.random() < share))
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                t = policy.draw()
                times.append(1000 * (time.perf_counter() - start))
                # A refit on the next.
                policy.observe(t, float(rng.random()), bool(rng.random() < share))
            p50, p99 = np.percentile(times, [50, 99])
            out.append(f"| {cls.__name__} | {count} | {share:.0%} | {p50:.2f} | {p99:.2f} |")
    return "\n".join(out)


def measure(seeds: int, budgets: Sequence[int], trainer_counts: Sequence[int]) -> list[dict]:
    rows = []
    for make_land in LANDSCAPES:
        for trainers in trainer_counts:
            for method_cls in METHODS:
                for budget in budgets:
                    regrets = []
                    for seed in range(seeds):
                        land = make_land(seed)
                        regrets.append(
                            run(method_cls(land.table, seed), land, budget, trainers, seed)
                        )
                    rows.append(
                        {
                            "landscape": make_land(0).name,
                            "trainers": trainers,
                            "method": method_cls.name,
                            "budget": budget,
                            "mean": statistics.fmean(regrets),
                            "std": statistics.pstdev(regrets),
                            "regrets": regrets,  # per seed, for paired comparisons
                        }
                    )
    return rows


def table(rows: list[dict], budgets: Sequence[int], spread: str = "std") -> str:
    out = [
        "| landscape | trainers | method | " + " | ".join(f"regret @{b}" for b in budgets) + " |",
        "|---|---:|---|" + "---:|" * len(budgets),
    ]
    key = lambda r: (r["landscape"], r["trainers"], r["method"])  # noqa: E731
    for (land, trainers, method), group in itertools.groupby(sorted(rows, key=key), key=key):
        d = 4 if spread == "se" else 3  # the synthetic tables keep their 3 decimals
        cells = {r["budget"]: f"{r['mean']:.{d}f} ± {r[spread]:.{d}f}" for r in group}
        out.append(
            f"| {land} | {trainers} | {method} | " + " | ".join(cells[b] for b in budgets) + " |"
        )
    return "\n".join(out)


OURS = SanasAnnealer.name


def paired(ours: Sequence[float], theirs: Sequence[float]) -> dict:
    """Mean and standard error of the per-seed difference (same landscape, same seed),
    and the verdict they give."""
    diff = [a - b for a, b in zip(ours, theirs, strict=True)]
    se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else 0.0
    mean = statistics.fmean(diff)
    return {"diff": mean, "se": se, "verdict": verdict(mean, se)}


def verdict(mean: float, se: float) -> str:
    """'worse' / 'better' only when the difference is beyond two standard errors."""
    if mean - 2 * se > 0:
        return "worse"
    if mean + 2 * se < 0:
        return "better"
    return "tie"


def comparisons(rows: list[dict]) -> list[dict]:
    """The annealer against every peer, cell by cell, paired by seed."""
    index = {(r["landscape"], r["trainers"], r["method"], r["budget"]): r for r in rows}
    out = []
    for (land, trainers, method, budget), peer in sorted(index.items()):
        ours = index.get((land, trainers, OURS, budget))
        if method == OURS or ours is None or "regrets" not in peer:
            continue
        out.append(
            {
                "landscape": land,
                "trainers": trainers,
                "peer": method,
                "budget": budget,
                **paired(ours["regrets"], peer["regrets"]),
            }
        )
    return out


def parallel_gaps(rows: list[dict]) -> list[dict]:
    """The annealer with 8 trainers against itself with 1, at equal evaluations."""
    index = {(r["landscape"], r["trainers"], r["budget"]): r for r in rows if r["method"] == OURS}
    out = []
    for (land, trainers, budget), par in sorted(index.items()):
        seq = index.get((land, 1, budget))
        if trainers == 1 or seq is None:
            continue
        out.append(
            {
                "landscape": land,
                "trainers": trainers,
                "budget": budget,
                "sequential": seq["mean"],
                "parallel": par["mean"],
                # Within 10%, or both at the optimum to three decimals.
                "within_10pct": par["mean"] <= 1.1 * seq["mean"] or par["mean"] < 5e-4,
                **paired(par["regrets"], seq["regrets"]),
            }
        )
    return out


def comparison_table(rows: list[dict]) -> str:
    """One line per landscape and trainer count: where the annealer is worse than a peer
    beyond noise, and where it is behind by less than the noise."""
    out = [
        "| landscape | trainers | better than a peer (cells) | tie (cells) | worse (cells) |",
        "|---|---:|---:|---:|---|",
    ]
    key = lambda c: (c["landscape"], c["trainers"])  # noqa: E731
    for (land, trainers), group in itertools.groupby(sorted(comparisons(rows), key=key), key=key):
        cells = list(group)
        worse = [f"{c['peer']} @{c['budget']}" for c in cells if c["verdict"] == "worse"]
        out.append(
            f"| {land} | {trainers} | {sum(c['verdict'] == 'better' for c in cells)} | "
            f"{sum(c['verdict'] == 'tie' for c in cells)} | {', '.join(worse) or 'none'} |"
        )
    return "\n".join(out)


def delayed_sequential(seeds: int, budgets: Sequence[int], trainers: int) -> dict:
    """The annealer alone at `budget - (trainers - 1)` evaluations: what a sequential
    search knows when 8 parallel trainers have spent `budget`, since 7 results are
    always still running. Mean regret per (landscape, budget)."""
    out = {}
    for make_land in LANDSCAPES:
        lands = [make_land(s) for s in range(seeds)]  # rugged NK's optimum is a full scan
        for budget in budgets:
            regrets = [
                run(SanasAnnealer(land.table, s), land, budget - trainers + 1, 1, s)
                for s, land in enumerate(lands)
            ]
            out[(lands[0].name, budget)] = statistics.fmean(regrets)
    return out


def parallel_table(rows: list[dict], delayed: dict | None = None) -> str:
    delayed = delayed or {}
    out = [
        "| landscape | budget | sequential | 8 trainers | ratio | difference ± se | "
        "within 10% | beyond noise | sequential, 7 fewer |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for g in parallel_gaps(rows):
        ratio = f"{g['parallel'] / g['sequential']:.2f}" if g["sequential"] > 0 else "-"
        fewer = delayed.get((g["landscape"], g["budget"]))
        out.append(
            f"| {g['landscape']} | {g['budget']} | {g['sequential']:.3f} | {g['parallel']:.3f} | "
            f"{ratio} | {g['diff']:+.3f} ± {g['se']:.3f} | "
            f"{'yes' if g['within_10pct'] else 'no'} | "
            f"{'no' if g['verdict'] == 'tie' else g['verdict']} | "
            f"{'-' if fewer is None else f'{fewer:.3f}'} |"
        )
    return "\n".join(out)


PADDLESLIM_ENV = Path(__file__).resolve().parent.parent / ".bench" / "paddleslim-venv"
PADDLESLIM_PACKAGES = [
    "paddleslim==2.6.0",
    "paddlepaddle==3.3.1",
    "numpy>=2.0,<2.4",
    # Undeclared imports of paddleslim 2.6.0 (toolchain notes).
    "six",
    "requests",
    "decorator",
]


def paddleslim_python() -> Path:
    """The interpreter of PaddleSlim's own environment, created on first use."""
    import subprocess

    python = PADDLESLIM_ENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PADDLESLIM_ENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PADDLESLIM_PACKAGES], check=True
        )
    return python


def paddleslim_rows(seeds: int, budgets: Sequence[int]) -> list[dict]:
    """Run PaddleSlim's SAController in its own environment (created on first use from
    the package index); it is never a dependency of sanas."""
    import json
    import subprocess

    python = paddleslim_python()
    out = subprocess.run(
        [
            str(python),
            str(Path(__file__).with_name("paddleslim_peer.py")),
            str(seeds),
            ",".join(map(str, budgets)),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def paddleslim_nbg_rows(
    land: Landscape,
    seeds: int,
    budgets: Sequence[int],
    trainer_counts: Sequence[int],
    first_seed: int = 0,
) -> list[dict]:
    """PaddleSlim's rows on a NAS-Bench-Graph landscape, measured in its own environment
    (nas_bench_graph is not installed there): the landscape goes over as a file, one
    reward (None: infeasible) per token vector in itertools.product order."""
    import json
    import subprocess
    import tempfile

    python = paddleslim_python()
    vectors = itertools.product(*map(range, land.table))
    export = {
        "name": land.name,
        "table": list(land.table),
        "best": land.best,
        "worst": land.worst,
        "rewards": [land.reward(t) for t in vectors],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "landscape.json"
        path.write_text(json.dumps(export))
        run = subprocess.run(
            [
                str(python),
                str(Path(__file__).with_name("paddleslim_peer.py")),
                str(seeds),
                ",".join(map(str, budgets)),
                "--nbg",
                str(path),
                "--first-seed",
                str(first_seed),
                "--trainers",
                ",".join(map(str, trainer_counts)),
            ],
            check=True,
            stdout=subprocess.PIPE,  # its timings go to stderr, as this process's do
            text=True,
        )
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budgets", default="50,100,200,500")
    parser.add_argument("--quick", action="store_true", help="3 seeds, budgets 20 and 50")
    parser.add_argument(
        "--with-paddleslim",
        action="store_true",
        help="also PaddleSlim 2.6.0's SAController (installs it into .bench/paddleslim-venv)",
    )
    parser.add_argument(
        "--nas-bench-graph",
        action="store_true",
        help="NAS-Bench-Graph landscapes instead (needs nas-bench-graph==1.4.0 and optuna)",
    )
    parser.add_argument("--datasets", default=",".join(NBG_TUNING))
    parser.add_argument("--trainers", default="1,8")
    parser.add_argument(
        "--methods",
        default=None,
        help="methods by name, comma-separated (NAS-Bench-Graph: all but "
        f"{PADDLESLIM_NBG!r} by default, which --with-paddleslim adds; synthetic: given, "
        "it runs only these, reported against the annealer by seed)",
    )
    parser.add_argument(
        "--landscapes",
        default=",".join(f.__name__ for f in LANDSCAPES),
        help="synthetic landscapes with --methods, by function name",
    )
    parser.add_argument(
        "--acceptance",
        action="store_true",
        help="allow the held-out NAS-Bench-Graph datasets (acceptance runs only)",
    )
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed.. (NAS-Bench-Graph: 0-29 report, 100-129 tune; synthetic "
        "with --methods: 0-19 report, 100-119 tune)",
    )
    parser.add_argument("--json", help="NAS-Bench-Graph: also write the rows (per seed) here")
    args = parser.parse_args()
    if args.nas_bench_graph:
        nbg_main(args)
        return
    seeds = 3 if args.quick else args.seeds
    budgets = [20, 50] if args.quick else [int(b) for b in args.budgets.split(",")]
    if args.methods:
        synthetic_main(args, seeds, budgets)
        return
    rows = measure(seeds, budgets, [1, 8])
    if args.with_paddleslim:
        extra = paddleslim_rows(seeds, budgets)
        rows += extra
        stops = sum(r["early_stops"] for r in extra)
        print(
            f"PaddleSlim SAController ended its own search early (sys.exit) in {stops} "
            f"of {len(extra) * seeds} runs\n"
        )
    print(f"mean regret ± std over {seeds} seeds (0 = optimum found; 1 = worst)\n")
    print(table(rows, budgets))
    print("\nsanas annealer against each peer, paired by seed (worse/better beyond 2 se)\n")
    print(comparison_table(rows))
    print("\n8 parallel trainers against 1, sanas annealer\n")
    print(parallel_table(rows, delayed_sequential(seeds, budgets, 8)))


def synthetic_main(args: argparse.Namespace, seeds: int, budgets: Sequence[int]) -> None:
    by_name = {m.name: m for m in NBG_METHODS}
    methods = [by_name[m] for m in args.methods.split(",") if m]
    lands = {f.__name__: f for f in LANDSCAPES}
    landscapes = [lands[n] for n in args.landscapes.split(",") if n]
    trainers = [int(t) for t in args.trainers.split(",")]
    rows = measure_curves(landscapes, seeds, budgets, trainers, methods, args.first_seed)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(rows))
    print(f"mean regret ± standard error over {seeds} seeds from {args.first_seed}\n")
    print(table(rows, budgets, "se"))
    for method in methods:
        if method is not SanasAnnealer and SanasAnnealer in methods:
            print(f"\n{method.name} against {SanasAnnealer.name}, paired by seed\n")
            print(against(rows, method.name, SanasAnnealer.name))


def nbg_main(args: argparse.Namespace) -> None:
    datasets = [d for d in args.datasets.split(",") if d]
    held = [d for d in datasets if d in NBG_HELD_OUT]
    if held and not args.acceptance:
        raise SystemExit(f"{', '.join(held)}: held out for acceptance (--acceptance)")
    budgets = [20, 50] if args.quick else [int(b) for b in args.budgets.split(",")]
    seeds = 3 if args.quick else args.seeds
    by_name = {m.name: m for m in NBG_METHODS + NBG_PEERS}
    chosen = args.methods
    if chosen is None:
        peers = NBG_PEERS if args.with_paddleslim else []
        chosen = ",".join(m.name for m in NBG_METHODS + peers)
    unknown = [m for m in chosen.split(",") if m and m not in by_name]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}: choose among {sorted(by_name)}")
    methods = [by_name[m] for m in chosen.split(",") if m]
    trainers = [int(t) for t in args.trainers.split(",")]
    rows = measure_nbg(
        datasets, seeds, budgets, trainers, methods, args.acceptance, args.first_seed
    )
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(rows))
    nbg_report(rows, budgets, seeds)
    print("\nsuggest cost\n")
    print(suggest_cost())


def nbg_report(rows: list[dict], budgets: Sequence[int], seeds: int) -> None:
    print(f"mean regret ± standard error over {seeds} seeds (0 = optimum found; 1 = worst)\n")
    print(table(rows, budgets, "se"))
    names = {r["method"] for r in rows}
    if PADDLESLIM_NBG in names:
        peer = [r for r in rows if r["method"] == PADDLESLIM_NBG]
        stops = ", ".join(
            f"{r['landscape']} x{r['trainers']} @{r['budget']}: {r['early_stops']}"
            for r in peer
            if r["early_stops"]
        )
        print(
            f"\n{PADDLESLIM_NBG} ended its own search (sys.exit) before the budget in: "
            f"{stops or 'no run'} (of {seeds} runs per cell)"
        )
        for ours in (SanasAnnealer.name, ModelGuided.name):
            if ours in names:
                print(f"\n{ours} against {PADDLESLIM_NBG}, paired by seed\n")
                print(against(rows, ours, PADDLESLIM_NBG))
    if ModelGuided.name in names and RegularizedEvolution.name in names:
        print(f"\n{ModelGuided.name} against {RegularizedEvolution.name}, paired by seed\n")
        print(against(rows, ModelGuided.name, RegularizedEvolution.name))
        if SanasAnnealer.name in names:
            print("\nthe issue's goal, paired by seed\n")
            print(goals(rows, ModelGuided.name, RegularizedEvolution.name, SanasAnnealer.name))
    print()


if __name__ == "__main__":
    main()
