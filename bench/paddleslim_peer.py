"""PaddleSlim 2.6.0's SAController as a peer in bench/quality.py. Runs inside its own
environment (created by quality.py --with-paddleslim: paddleslim is never a dependency of
sanas) and prints the regret rows as JSON. Its defects are measured as they are: a
neighbourhood it cannot leave ends its search (sys.exit), counted as an early stop."""

from __future__ import annotations

import json
import sys
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


def main() -> None:
    seeds, budgets = int(sys.argv[1]), [int(b) for b in sys.argv[2].split(",")]
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
