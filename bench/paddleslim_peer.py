"""PaddleSlim 2.6.0's SAController as a peer in bench/quality.py. Runs inside its own
environment (created by quality.py --with-paddleslim: paddleslim is never a dependency of
sanas) and prints the regret rows as JSON. Its defects are measured as they are: a
neighbourhood it cannot leave ends its search (sys.exit), counted as an early stop.

usage: paddleslim_peer.py SEEDS BUDGETS                   (the synthetic landscapes)
       paddleslim_peer.py SEEDS BUDGETS --nbg TABLE.json --first-seed F --trainers 1,8
           (a NAS-Bench-Graph landscape exported by quality.py: nas_bench_graph is not
           installed here, the reward table is read from the file)"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from paddleslim.common.sa_controller import SAController

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as q


class PaddleSlimSA(q.Method):
    name = "PaddleSlim SAController"

    def __init__(self, table: Sequence[int], seed: int) -> None:
        np.random.seed(seed)  # PaddleSlim draws from numpy's global generator
        rng = np.random.default_rng([seed, 1])  # the same random start as the others
        start = [int(rng.integers(r)) for r in table]
        self.controller = SAController(
            range_table=([0] * len(table), list(table)),  # (lows, highs), as SANAS passes it
            reduce_rate=0.85,
            init_temperature=10.0,
            init_tokens=start,
        )
        self.updates = 0
        self.worst = 0.0
        self.stopped = False  # PaddleSlim ended its own search in this run

    def ask(self) -> q.Tokens:
        try:
            return tuple(int(v) for v in self.controller.next_tokens())
        except SystemExit as exc:  # PaddleSlim's exhausted neighbourhood
            self.stopped = True
            raise q.SpaceExhausted("PaddleSlim stopped its search") from exc

    def tell(self, tokens: q.Tokens, reward: float | None) -> None:
        # PaddleSlim has no "infeasible": a user reports a poor score instead.
        self.updates += 1
        self.controller.update(list(tokens), self.worst if reward is None else reward, self.updates)


class PaddleSlimServerSA(PaddleSlimSA):
    """The controller as PaddleSlim's ControllerServer drives it for several clients
    (SANAS instances): each update carries the reporting client's own iteration count
    and the number of clients seen so far, so its temperature is T0 * rate^(clients *
    the highest client iteration). A client's next request follows its report; once the
    controller has called sys.exit the server is gone, for every client. Not modelled:
    the server forgetting a client silent for twice the slowest step (wall-clock)."""

    def __init__(self, table: Sequence[int], seed: int, trainers: int) -> None:
        super().__init__(table, seed)
        self.trainers = trainers
        self.owner: dict[q.Tokens, int] = {}  # PaddleSlim never proposes a vector twice
        self.iters = [0] * trainers
        self.reported: set[int] = set()
        self.last = -1  # the client whose report came last asks next
        self.asked = 0  # proposals made before the server ended, if it did

    def ask(self) -> q.Tokens:
        if self.stopped:
            raise q.SpaceExhausted("PaddleSlim's server has ended")
        tokens = super().ask()
        self.owner[tokens] = self.asked if self.asked < self.trainers else self.last
        self.asked += 1
        return tokens

    def tell(self, tokens: q.Tokens, reward: float | None) -> None:
        client = self.owner.pop(tokens)
        self.iters[client] += 1
        self.reported.add(client)
        self.last = client
        self.controller.update(
            list(tokens),
            self.worst if reward is None else reward,
            self.iters[client],
            len(self.reported),
        )


def nbg_landscape(path: str) -> q.Landscape:
    """A NAS-Bench-Graph landscape from quality.py's export: one reward (or null:
    infeasible) per token vector, in itertools.product order."""
    data = json.loads(Path(path).read_text())
    table = tuple(data["table"])
    rewards = dict(zip(itertools.product(*map(range, table)), data["rewards"], strict=True))
    return q.Landscape(data["name"], table, rewards.__getitem__, data["best"], data["worst"])


def nbg_rows(
    land: q.Landscape, seeds: range, budgets: list[int], trainer_counts: list[int]
) -> list[dict]:
    """quality.measure_nbg's rows for PaddleSlim: one run per seed up to the largest
    budget; a run counts as an early stop at a budget when the controller ended the
    search before that many proposals."""
    rows = []
    for trainers in trainer_counts:
        per_budget: dict[int, list[float]] = {b: [] for b in budgets}
        stops = dict.fromkeys(budgets, 0)
        start = time.perf_counter()
        for seed in seeds:
            method = PaddleSlimServerSA(land.table, seed, trainers)
            method.worst = land.worst
            curve = q.run_curve(method, land, budgets, trainers, seed)
            for b in budgets:
                per_budget[b].append(curve[b])
                stops[b] += int(method.stopped and method.asked < b)
        seconds = time.perf_counter() - start
        print(f"  {land.name} x{trainers} {q.PADDLESLIM_NBG}: {seconds:.1f} s", file=sys.stderr)
        for b in budgets:
            rows.append(
                q.regret_row(
                    land.name, trainers, q.PADDLESLIM_NBG, b, per_budget[b], early_stops=stops[b]
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seeds", type=int)
    parser.add_argument("budgets")
    parser.add_argument("--nbg", help="a NAS-Bench-Graph landscape exported by quality.py")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trainers", default="1,8")
    args = parser.parse_args()
    # Its controller logs every update at INFO on stderr, where the timings go.
    logging.getLogger("paddleslim.common.sa_controller").setLevel(logging.WARNING)
    seeds, budgets = args.seeds, [int(b) for b in args.budgets.split(",")]
    if args.nbg:
        land = nbg_landscape(args.nbg)
        trainers = [int(t) for t in args.trainers.split(",")]
        seed_range = range(args.first_seed, args.first_seed + seeds)
        print(json.dumps(nbg_rows(land, seed_range, budgets, trainers)))
        return
    rows = []
    for make_land in q.LANDSCAPES:
        for trainers in (1, 8):
            for budget in budgets:
                regrets, stopped = [], 0
                for seed in range(seeds):
                    land = make_land(seed)
                    method = PaddleSlimSA(land.table, seed)
                    method.worst = land.worst
                    regrets.append(q.run(method, land, budget, trainers, seed))
                    stopped += method.stopped
                rows.append(
                    {
                        "landscape": make_land(0).name,
                        "trainers": trainers,
                        "method": PaddleSlimSA.name,
                        "budget": budget,
                        "mean": float(np.mean(regrets)),
                        "std": float(np.std(regrets)),
                        "regrets": [float(r) for r in regrets],
                        "early_stops": stopped,
                    }
                )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
