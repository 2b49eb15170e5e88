"""A landscape of really trained networks (issue 6): every candidate of a small
MobileNetV2BlockSpace grid, trained on load_digits exactly as `make demo` trains, with its
test accuracy cached in `bench/data/digits_mnv2_blocks.json` (shipped with the benchmark,
so `make bench` needs no training).

The grid: two searched blocks (8x8 digits -> 2x2 maps, after the demo's stem), each with
expansion {1, 3, 6}, channels {8, 16, 32}, units {1, 2}, kernel {3, 5}: 36 per block,
1,296 networks. A landscape token is an index into these choices; the full space's token
is recorded next to it, so every entry can be retrained and checked (tests do, for a few).

usage: python bench/trained_landscape.py [--workers 2] [--epochs 3]   (about an hour)
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "data" / "digits_mnv2_blocks.json"
SPACE = {"key": "sanas.MobileNetV2BlockSpace", "input_size": 8, "output_size": 2, "block_num": 2}
# Allowed full-space token values per position of one block: [expansion, channels,
# units, kernel] index into BLOCK_EXPANSION, BLOCK_CHANNELS, BLOCK_REPEAT, BLOCK_KERNELS.
BLOCK_CHOICES = ((0, 2, 5), (2, 4, 6), (0, 1), (0, 1))
CHOICES = BLOCK_CHOICES * 2
EPOCHS = 3
SEED = 0


Choices = Sequence[Sequence[int]]


def grid(choices: Choices = CHOICES) -> list[tuple[int, ...]]:
    """Every landscape token vector, in mixed-radix order (the order of the table)."""
    return list(itertools.product(*(range(len(c)) for c in choices)))


def full_tokens(tokens: Sequence[int], choices: Choices = CHOICES) -> list[int]:
    """Landscape tokens -> tokens of the real MobileNetV2BlockSpace."""
    return [choices[i][t] for i, t in enumerate(tokens)]


def index_of(tokens: Sequence[int], choices: Choices = CHOICES) -> int:
    index = 0
    for i, t in enumerate(tokens):
        index = index * len(choices[i]) + t
    return index


def train(tokens: Sequence[int], epochs: int = EPOCHS) -> float:
    """Test accuracy of one candidate, trained as `make demo` trains (paddle on CPU)."""
    import paddle

    from sanas import demo
    from sanas.nets import build
    from sanas.spaces import CombinedSpace, SpaceConfig

    paddle.set_device("cpu")
    args = _demo_args()
    data = _digits()
    space = CombinedSpace.from_configs([SpaceConfig(**SPACE)])
    archs = space.decode(full_tokens(tokens), demo.STEM_CHANNELS)
    # Initial weights from the seed, not from whatever this process trained before: the
    # table must not depend on which worker trained which candidate, in which order.
    paddle.seed(SEED)
    model = demo.build_model(build(archs), archs[-1].out_channels, args)
    return demo.train_and_score(model, data, epochs, SEED)


def _demo_args() -> argparse.Namespace:
    """The demo's options that shape data and model, set to this grid."""
    return argparse.Namespace(
        data_dir=None, seed=SEED, train_limit=0, space=SPACE["key"], blocks=SPACE["block_num"]
    )


@functools.cache
def _digits() -> Any:
    from sanas import demo

    return demo.load_data(_demo_args())


def _job(item: tuple[int, tuple[int, ...], int]) -> tuple[int, float, float]:
    index, tokens, epochs = item
    started = time.perf_counter()
    accuracy = train(tokens, epochs)
    return index, accuracy, time.perf_counter() - started


@functools.cache
def load() -> dict[str, Any]:
    return json.loads(TABLE.read_text())


def build_table(workers: int, epochs: int) -> None:
    import multiprocessing

    import paddle

    vectors = grid()
    partial = TABLE.with_suffix(".partial.json")
    done: dict[int, tuple[float, float]] = {}
    if partial.exists():  # resume an interrupted build
        done = {int(k): tuple(v) for k, v in json.loads(partial.read_text()).items()}
    todo = [(i, v, epochs) for i, v in enumerate(vectors) if i not in done]
    # One thread per worker: summation order, and so every accuracy, is reproducible.
    os.environ["OMP_NUM_THREADS"] = "1"
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for n, (index, accuracy, seconds) in enumerate(pool.imap_unordered(_job, todo), 1):
            done[index] = (accuracy, seconds)
            if n % 25 == 0 or n == len(todo):
                partial.write_text(json.dumps(done))
                rate = n / (time.monotonic() - started)
                print(f"{len(done)}/{len(vectors)} trained, {rate:.2f}/s", flush=True)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(
        json.dumps(
            {
                "about": "test accuracy of every grid candidate; see bench/trained_landscape.py",
                "space": SPACE,
                "choices": [list(c) for c in CHOICES],
                "epochs": epochs,
                "seed": SEED,
                "paddle": paddle.__version__,
                "accuracy": [done[i][0] for i in range(len(vectors))],
                "train_seconds": [round(done[i][1], 3) for i in range(len(vectors))],
            },
            indent=0,
        )
    )
    partial.unlink()
    print(f"wrote {TABLE}")


def verify(count: int) -> list[tuple[int, float, float]]:
    """Retrain the `count` cheapest entries and the best one: (index, table, now)."""
    data = load()
    seconds, accuracy = data["train_seconds"], data["accuracy"]
    picks = sorted(range(len(seconds)), key=seconds.__getitem__)[:count]
    picks.append(max(range(len(accuracy)), key=accuracy.__getitem__))
    vectors = grid()
    return [(i, accuracy[i], train(vectors[i], data["epochs"])) for i in picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument(
        "--verify", type=int, metavar="K", help="retrain the K cheapest entries and the best"
    )
    args = parser.parse_args()
    if args.verify is not None:
        os.environ["OMP_NUM_THREADS"] = "1"  # before paddle is imported, as in a build
        for index, cached, now in verify(args.verify):
            print(f"entry {index}: table {cached!r} retrained {now!r}")
        return
    build_table(args.workers, args.epochs)


if __name__ == "__main__":
    main()
