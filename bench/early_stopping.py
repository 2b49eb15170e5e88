"""Early stopping: training epochs spent against final regret (issue 13).

Landscape: real learning curves (bench/curves_table.py: 216 digits networks, test
accuracy after each of 8 epochs of the demo's training). 8 simulated trainers run the
real controller state machine (`sanas_server.study.Study`) in simulated time: each takes
a trial, trains it epoch by epoch (an epoch lasts the candidate's measured seconds per
epoch), reports every epoch's accuracy, stops when told, completes the trial with its last
value, and takes the next, until the study's budget of trials is issued.

Reported per rule and budget, over seeds: epochs trained (and their share of no early
stopping's), final regret (the grid's best final accuracy minus the final accuracy of the
trial the search reports as best), paired with no early stopping on the same seeds: a
rule is worse or better only beyond two standard errors. With --with-paddleslim,
PaddleSlim 2.6.0's MedianStop judges the same trainers' reports in its own environment
(bench/paddleslim_early_stop.py).

usage: python bench/early_stopping.py [--seeds 30] [--budgets 60,120] [--with-paddleslim]
"""

from __future__ import annotations

import argparse
import heapq
import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_client"))
import curves_table
import quality

from sanas.spaces import SpaceConfig
from sanas_server.errors import BudgetExhausted, SearchSpaceExhausted
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.stopping import EarlyStopping, HalvingRule, MedianRule
from sanas_server.study import Study
from sanas_server.trials import TrialState

HERE = Path(__file__).resolve().parent
TRAINERS = 8
# A judge of one report: (trainer, trial id, epoch, value, planned epochs) -> stop?
Judge = Callable[[int, int, int, float, int], bool]


@dataclass(frozen=True)
class Method:
    name: str
    rule: EarlyStopping


def halving(min_step: int, as_rewards: bool = False) -> EarlyStopping:
    rule = HalvingRule(min_step=min_step, reduction_factor=3, min_trials=3)
    return EarlyStopping(rule, stopped_values_as_rewards=as_rewards)


METHODS = (
    Method("no early stopping", EarlyStopping()),
    Method("median rule (from epoch 2)", EarlyStopping(MedianRule(start_step=2, min_trials=3))),
    Method("successive halving (rungs 1, 3)", halving(1)),
    Method("successive halving (rungs 2, 6)", halving(2)),
    Method("successive halving (rung 3)", halving(3)),
    Method("successive halving (rungs 2, 6), stopped values as rewards", halving(2, True)),
    Method("successive halving (rung 3), stopped values as rewards", halving(3, True)),
)
BASELINE = METHODS[0].name


def make_study(rule: EarlyStopping, budget: int, seed: int) -> Study:
    request = StudyRequest(
        search_spaces=(SpaceConfig("curves", range_table=tuple(curves_table.range_table())),),
        search_steps=budget,
        seed=seed,
        lease_seconds=1e6,  # simulated trainers never crash
        early_stopping=rule,
        policy="annealer",  # the figures in docs/early-stopping.md are the annealer's
    )
    return Study("bench", request, StudySpec.resolve(request), 0.0)


def simulate(
    rule: EarlyStopping, budget: int, seed: int, judge: Judge | None = None
) -> dict[str, float]:
    """One search. `judge` replaces the study's own rule (PaddleSlim's MedianStop); the
    study then never stops a trial itself, and a judged stop is completed with its last
    value, as a PaddleSlim script calls reward() after breaking out of its epochs."""
    table = curves_table.load()
    epochs = table["epochs"]
    best_final = max(c[-1] for c in table["curves"])
    study = make_study(rule, budget, seed)
    clock: list[tuple[float, int, int, int]] = []  # (time, trainer, trial id, epoch)
    spent = judged_stops = 0

    def start(trainer: int, now: float) -> None:
        try:
            trial, _ = study.suggest(f"t{trainer}", now)
        except (BudgetExhausted, SearchSpaceExhausted):
            return
        heapq.heappush(clock, (now + seconds_per_epoch(trial.tokens), trainer, trial.trial_id, 1))

    def seconds_per_epoch(tokens: Sequence[int]) -> float:
        return table["train_seconds"][curves_table.index_of(tokens)] / epochs

    for trainer in range(TRAINERS):
        start(trainer, 0.0)
    while clock:
        now, trainer, trial_id, epoch = heapq.heappop(clock)
        spent += 1
        tokens = study.trials[trial_id].tokens
        value = curves_table.curve(tokens)[epoch - 1]
        if judge is not None:
            stop = judge(trainer, trial_id, epoch, value, epochs)
            judged_stops += stop and epoch < epochs
        else:
            _, stop, _ = study.report_progress(trial_id, epoch, value, now, max_step=epochs)
        if epoch == epochs or stop:
            if study.trials[trial_id].state is TrialState.ACTIVE:
                study.complete(trial_id, value, False, now)
            start(trainer, now)
        else:
            heapq.heappush(clock, (now + seconds_per_epoch(tokens), trainer, trial_id, epoch + 1))
    found = study.summary().best_tokens
    final = curves_table.curve(found)[-1] if found is not None else 0.0
    return {
        "epochs": float(spent),
        "regret": best_final - final,
        "stopped": float(study.counts[TrialState.STOPPED] + judged_stops),
    }


def measure(seeds: int, budgets: Sequence[int]) -> list[dict]:
    rows = []
    for method in METHODS:
        for budget in budgets:
            runs = [simulate(method.rule, budget, seed) for seed in range(seeds)]
            rows.append(row(method.name, budget, runs))
    return rows


def row(name: str, budget: int, runs: list[dict[str, float]]) -> dict:
    return {
        "method": name,
        "budget": budget,
        "epochs": [r["epochs"] for r in runs],
        "regrets": [r["regret"] for r in runs],
        "stopped": statistics.fmean(r["stopped"] for r in runs),
    }


def render(rows: list[dict], notes: Sequence[str] = ()) -> str:
    base = {r["budget"]: r for r in rows if r["method"] == BASELINE}
    out = [
        "| trials | method | epochs trained | share of no stopping | final regret | "
        "vs no stopping (paired) | stopped trials | goal met |",
        "|---:|---|---:|---:|---:|---|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: r["budget"]):
        b = base[r["budget"]]
        share = statistics.fmean(r["epochs"]) / statistics.fmean(b["epochs"])
        mean = statistics.fmean(r["regrets"])
        se = statistics.stdev(r["regrets"]) / len(r["regrets"]) ** 0.5
        if r["method"] == BASELINE:
            compared, goal = "-", "-"
        elif len(r["regrets"]) != len(b["regrets"]):  # runs that hung are left out
            compared = f"not paired: {len(r['regrets'])} of {len(b['regrets'])} runs finished"
            goal = "no"
        else:
            p = quality.paired(r["regrets"], b["regrets"])
            compared = f"{p['diff']:+.4f} ± {p['se']:.4f}: {p['verdict']}"
            goal = "yes" if p["verdict"] != "worse" and share <= 0.5 else "no"
        out.append(
            f"| {r['budget']} | {r['method']} | {statistics.fmean(r['epochs']):.0f} | "
            f"{share:.0%} | {mean:.4f} ± {se:.4f} | {compared} | {r['stopped']:.1f} | {goal} |"
        )
    return "\n".join([*out, *notes])


def paddleslim_rows(seeds: int, budgets: Sequence[int]) -> tuple[list[dict], list[str]]:
    """PaddleSlim 2.6.0's MedianStop, in its own environment (as quality.py's peer)."""
    python = quality.paddleslim_python()
    done = subprocess.run(
        [
            str(python),
            str(HERE / "paddleslim_early_stop.py"),
            str(seeds),
            ",".join(map(str, budgets)),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        return [], [f"\nPaddleSlim's MedianStop did not run: {done.stderr.strip()[-500:]}"]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["rows"], result["notes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budgets", default="60,120")
    parser.add_argument("--with-paddleslim", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = measure(args.seeds, budgets)
    notes: list[str] = []
    if args.with_paddleslim:
        extra, notes = paddleslim_rows(args.seeds, budgets)
        rows += extra
    if args.json:
        print(json.dumps(rows))
        return
    print(
        f"Early stopping on real learning curves ({TRAINERS} parallel trainers, "
        f"{args.seeds} seeds, {curves_table.load()['epochs']} epochs per full training)\n"
    )
    print(render(rows, notes))


if __name__ == "__main__":
    main()
