"""Real learning curves for the early-stopping benchmark: a 216-network part of the
trained digits grid (bench/trained_landscape.py), each trained exactly as `make demo`
trains, with its test accuracy after every one of 8 epochs, cached in
`bench/data/digits_curves.json` (shipped, so `make bench` needs no training).

The grid: the first searched block as in trained_landscape.py (expansion {1, 3, 6},
channels {8, 16, 32}, units {1, 2}, kernel {3, 5}); the second with expansion 3 and one
unit, channels {8, 16, 32}, kernel {3, 5}. The accuracy at epoch k is what a k-epoch
training scores (evaluating leaves the model as it was, batch-norm running statistics
included; tests/test_bench_smoke.py checks it).

usage: python bench/curves_table.py [--workers 2] [--epochs 8]   (about 12 minutes)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trained_landscape as tl

TABLE = Path(__file__).resolve().parent / "data" / "digits_curves.json"
CHOICES = (*tl.BLOCK_CHOICES, (2,), (2, 4, 6), (0,), (0, 1))
EPOCHS = 8


def grid() -> list[tuple[int, ...]]:
    """Every landscape token vector, in the order of the table."""
    return tl.grid(CHOICES)


def range_table() -> list[int]:
    return [len(c) for c in CHOICES]


def full_tokens(tokens: Sequence[int]) -> list[int]:
    return tl.full_tokens(tokens, CHOICES)


def index_of(tokens: Sequence[int]) -> int:
    return tl.index_of(tokens, CHOICES)


def _candidate(tokens: Sequence[int]) -> Any:
    """The demo's network for one grid entry, its initial weights from the seed."""
    import paddle

    from sanas import demo
    from sanas.nets import build
    from sanas.spaces import CombinedSpace, SpaceConfig

    paddle.set_device("cpu")
    space = CombinedSpace.from_configs([SpaceConfig(**tl.SPACE)])
    archs = space.decode(full_tokens(tokens), demo.STEM_CHANNELS)
    paddle.seed(tl.SEED)  # as trained_landscape.py
    return demo.build_model(build(archs), archs[-1].out_channels, tl._demo_args())


def train_curve(tokens: Sequence[int], epochs: int = EPOCHS) -> list[float]:
    """Test accuracy after each epoch of the demo's training of one candidate."""
    from sanas import demo

    curve: list[float] = []
    demo.train_and_score(
        _candidate(tokens),
        tl._digits(),
        epochs,
        tl.SEED,
        report=lambda epoch, accuracy: curve.append(accuracy) is not None,
    )
    return curve


def train(tokens: Sequence[int], epochs: int) -> float:
    """Test accuracy of one candidate after `epochs` epochs, with no report in between."""
    from sanas import demo

    return demo.train_and_score(_candidate(tokens), tl._digits(), epochs, tl.SEED)


def _job(item: tuple[int, tuple[int, ...], int]) -> tuple[int, list[float], float]:
    index, tokens, epochs = item
    started = time.perf_counter()
    curve = train_curve(tokens, epochs)
    return index, curve, time.perf_counter() - started


@functools.cache
def load() -> dict[str, Any]:
    return json.loads(TABLE.read_text())


def curve(tokens: Sequence[int]) -> list[float]:
    return load()["curves"][index_of(tokens)]


def build_table(workers: int, epochs: int) -> None:
    import multiprocessing

    import paddle

    vectors = grid()
    os.environ["OMP_NUM_THREADS"] = "1"  # reproducible sums, one core per worker
    done: dict[int, tuple[list[float], float]] = {}
    started = time.monotonic()
    todo = [(i, v, epochs) for i, v in enumerate(vectors)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for n, (index, values, seconds) in enumerate(pool.imap_unordered(_job, todo), 1):
            done[index] = (values, seconds)
            if n % 20 == 0 or n == len(todo):
                rate = n / (time.monotonic() - started)
                print(f"{n}/{len(todo)} trained, {rate:.2f}/s", flush=True)
    TABLE.write_text(
        json.dumps(
            {
                "about": "test accuracy after every epoch; see bench/curves_table.py",
                "space": tl.SPACE,
                "choices": [list(c) for c in CHOICES],
                "epochs": epochs,
                "seed": tl.SEED,
                "paddle": paddle.__version__,
                "curves": [[round(a, 6) for a in done[i][0]] for i in range(len(vectors))],
                "train_seconds": [round(done[i][1], 3) for i in range(len(vectors))],
            },
            indent=0,
        )
    )
    print(f"wrote {TABLE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    build_table(args.workers, args.epochs)


if __name__ == "__main__":
    main()
