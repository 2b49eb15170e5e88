"""The demo's flags and what every process derives from them: the search space, the
SANAS options of the study, and the flags a study's run must repeat."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from typing import Any

DESCRIPTION = """`make demo`: a real multi-trainer architecture search on a dataset that ships with
scikit-learn (load_digits: 1,797 8x8 images of digits, 10 classes), or on CIFAR-10 from
a local folder in Paddle's format (--data-dir).

The main process starts the controller the PaddleSlim way (`SANAS(..., is_server=True)`),
then runs trainer processes that join it (`is_server=False`), build each candidate as a
paddle.nn network, train it briefly and report test accuracy as the reward. It prints
progress with an ETA, then the best architecture, and writes a plot of the run.

A rerun into an --out folder that already holds the study refuses to touch it unless told
--resume (continue it, with the flags it was started with) or --fresh (delete it and start
over). No trial starts once --time-budget is spent (default 8 minutes).

usage: python -m sanas.demo [--trainers 2] [--steps 30] [--epochs 10] [--out demo_out]
                            [--time-budget 480] [--resume | --fresh]
"""

SPACE = "sanas.MobileNetV2BlockSpace"
STEM_CHANNELS = 16
BATCH = 64
# The flags that shape the study or its rewards: forwarded to the trainers, recorded in
# <out>/run.json, and a --resume must repeat them.
STUDY_FLAGS = (
    "steps",
    "epochs",
    "blocks",
    "space",
    "data_dir",
    "train_limit",
    "seed",
    "max_flops",
    "study",
    "early_stop",
    "early_stop_start",
    "policy",
)
RUN_RECORD = "run.json"
# Paddle's warnings that say nothing about the demo: one at import, one per training batch.
PADDLE_NOISE = (
    "No ccache found",
    "When training, we now always track global mean and variance",
)


def quiet_paddle() -> None:
    for text in PADDLE_NOISE:
        warnings.filterwarnings("ignore", message=text, category=UserWarning)


def image_shape(args: argparse.Namespace) -> tuple[int, int]:
    """(side, channels) of the images: 8x8x1 digits, or 32x32x3 CIFAR-10."""
    return (32, 3) if args.data_dir else (8, 1)


def dataset_name(args: argparse.Namespace) -> str:
    return "CIFAR-10" if args.data_dir else "load_digits"


def is_block_space(args: argparse.Namespace) -> bool:
    return args.space.endswith("BlockSpace")


def space_configs(args: argparse.Namespace) -> list[Any]:
    side, _ = image_shape(args)
    if is_block_space(args):
        # Two stride-2 blocks among `blocks`: 8x8 digits -> 2x2 maps (32x32 -> 8x8).
        return [
            (args.space, {"input_size": side, "output_size": side // 4, "block_num": args.blocks})
        ]
    return [args.space]  # a whole network (MobileNetV2Space, MobileNetV1Space, ResNetSpace)


def searched_in_channels(args: argparse.Namespace) -> int:
    """Block spaces follow the demo's stem; whole-network spaces take the image."""
    return STEM_CHANNELS if is_block_space(args) else image_shape(args)[1]


def sanas_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What every process passes to SANAS: the same study config everywhere."""
    return {
        "search_steps": args.steps,
        "study_id": args.study,
        "seed": args.seed,
        "input_channels": searched_in_channels(args),
        # The controller proposes only candidates whose searched blocks fit this budget.
        "max_flops": args.max_flops,
        "flops_input_size": image_shape(args)[0],
        "early_stopping": early_stopping(args),
        "policy": args.policy,
    }


def early_stopping(args: argparse.Namespace) -> Any:
    """The study's stopping rule from --early-stop, or None."""
    from sanas.study_config import median_stopping, successive_halving

    if args.early_stop == "median":
        return median_stopping(start_step=args.early_stop_start)
    if args.early_stop == "halving":
        return successive_halving(min_step=args.early_stop_start)
    return None


def study_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {flag: getattr(args, flag) for flag in STUDY_FLAGS}


def flag_text(flag: str, value: Any) -> str:
    return f"--{flag.replace('_', '-')}={value}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sanas.demo",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trainers", type=int, default=2, help="trainer processes")
    parser.add_argument("--steps", type=int, default=30, help="trials in the search")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per trial")
    parser.add_argument("--blocks", type=int, default=3, help="searched blocks")
    parser.add_argument(
        "--early-stop",
        choices=("halving", "median", "none"),
        default="halving",
        help="stop trials that look worse after some epochs: successive halving (default: "
        "at epochs 3 and 9 only the top third go on), the median rule, or none",
    )
    parser.add_argument(
        "--early-stop-start",
        type=int,
        default=3,
        help="successive halving's first rung (the median rule: the first epoch at which "
        "it may stop a trial); default 3",
    )
    parser.add_argument(
        "--policy",
        choices=("annealer", "model-guided"),
        default=None,
        help="what proposes the trials (default: the controller's default for new studies)",
    )
    parser.add_argument(
        "--space",
        default=SPACE,
        help="search space: a *BlockSpace (after a stem) or a whole network such as "
        "MobileNetV2Space, MobileNetV1Space, ResNetSpace",
    )
    parser.add_argument(
        "--data-dir",
        help="folder with Paddle's CIFAR-10 archive cifar-10-python.tar.gz "
        "(32x32x3) instead of load_digits",
    )
    parser.add_argument(
        "--train-limit", type=int, default=5000, help="CIFAR-10 training images used per trial"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the search and of training")
    parser.add_argument(
        "--max-flops",
        type=int,
        # Training time grows with FLOPs (10 epochs of a 1M-FLOPs candidate: ~60-145 s
        # with two trainers on 2 cores); the time budget bounds the run whatever the search
        # visits, this keeps each trial well inside it.
        default=1_500_000,
        help="FLOPs budget of the searched network at the image size (default 1,500,000)",
    )
    parser.add_argument("--study", default="digits-demo", help="study id")
    parser.add_argument("--out", default="demo_out", help="checkpoints, plot and summary")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=480,
        help="seconds from the start after which no trial starts; one still training stops "
        "at its next epoch, unscored (default 480; 0: none). --resume continues the search",
    )
    rerun = parser.add_mutually_exclusive_group()
    rerun.add_argument(
        "--resume",
        action="store_true",
        help="continue the search already in --out (give the flags it was started with)",
    )
    rerun.add_argument(
        "--fresh",
        action="store_true",
        help="delete the search already in --out (checkpoints, plot, summary) and start over",
    )
    parser.add_argument("--port", type=int, default=0, help="controller port (0: a free one)")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument(
        "--as-trainer", dest="trainer_index", type=int, default=None, help=argparse.SUPPRESS
    )
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)
