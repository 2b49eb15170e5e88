"""`make demo`: a real multi-trainer architecture search on a dataset that ships with
scikit-learn (load_digits: 1,797 8x8 images of digits, 10 classes), or on CIFAR-10 from
a local folder in Paddle's format (--data-dir).

The main process starts the controller the PaddleSlim way (`SANAS(..., is_server=True)`),
then runs trainer processes that join it (`is_server=False`), build each candidate as a
paddle.nn network, train it briefly and report test accuracy as the reward. It prints
progress, then the best architecture, and writes a plot of the run.

usage: python -m sanas.demo [--trainers 2] [--steps 30] [--epochs 10] [--out demo_out]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPACE = "MobileNetV2BlockSpace"
STEM_CHANNELS = 16
BATCH = 64


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
    }


# -- training (trainer processes) ----------------------------------------------------------
def load_data(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    import numpy as np

    if args.data_dir:
        return load_cifar10(Path(args.data_dir), args.train_limit, args.seed)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[:, None, :, :]
    y = digits.target.astype("int64")
    order = np.random.default_rng(args.seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def load_cifar10(folder: Path, train_limit: int, seed: int) -> tuple[Any, Any, Any, Any]:
    """CIFAR-10 in Paddle's format (cifar-10-python.tar.gz), read by Paddle's dataset."""
    import numpy as np
    from paddle.vision.datasets import Cifar10

    archive = folder / "cifar-10-python.tar.gz"
    if not archive.is_file():
        raise FileNotFoundError(f"{archive} not found: --data-dir wants Paddle's CIFAR-10 archive")

    def arrays(mode: str) -> tuple[Any, Any]:
        data = Cifar10(data_file=str(archive), mode=mode, download=False, backend="cv2").data
        x = np.stack([sample for sample, _ in data]).reshape(-1, 3, 32, 32) / 255.0
        return x.astype("float32"), np.array([label for _, label in data], dtype="int64")

    x_train, y_train = arrays("train")
    x_test, y_test = arrays("test")
    keep = np.random.default_rng(seed).permutation(len(x_train))[:train_limit]
    return x_train[keep], y_train[keep], x_test, y_test


def build_model(archs: Sequence[Any], out_channels: int, args: argparse.Namespace) -> Any:
    """[stem for block spaces] + the searched network + a classifier head."""
    from paddle import nn

    from sanas.nets.paddle_layers import ConvBNAct

    stem = [ConvBNAct(image_shape(args)[1], STEM_CHANNELS, 3, act="relu6")]
    return nn.Sequential(
        *(stem if is_block_space(args) else []),
        *archs,
        nn.AdaptiveAvgPool2D(1),
        nn.Flatten(),
        nn.Linear(out_channels, 10),
    )


def train_and_score(model: Any, data: tuple[Any, Any, Any, Any], epochs: int, seed: int) -> float:
    import numpy as np
    import paddle

    x_train, y_train, x_test, y_test = data
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    xt, yt = paddle.to_tensor(x_train), paddle.to_tensor(y_train)
    optimizer = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), BATCH):
            batch = paddle.to_tensor(order[start : start + BATCH])
            loss = paddle.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    # Refresh batch-norm statistics before evaluating: after a short training the running
    # averages lag the weights and eval-mode accuracy collapses (toolchain notes).
    with paddle.no_grad():
        for start in range(0, len(x_train), 256):
            model(xt[start : start + 256])
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor(x_test))
    return float((logits.argmax(axis=1).numpy() == y_test).mean())


def trainer(args: argparse.Namespace) -> None:
    import paddle

    from sanas import SANAS, SearchFinished

    paddle.set_device("cpu")
    host, port = args.address.rsplit(":", 1)
    data = load_data(args)
    nas = SANAS(
        space_configs(args),
        server_addr=(host, int(port)),
        is_server=False,
        client_id=f"trainer-{args.trainer_index}",
        **sanas_kwargs(args),
    )
    while True:
        # Initial weights from the seed: an architecture gets the same score whichever
        # trainer evaluates it, after whatever that trainer trained before.
        paddle.seed(args.seed)
        try:
            archs = nas.next_archs()
        except SearchFinished:
            break
        width = nas.decode(nas.current_tokens() or [])[-1].out_channels
        accuracy = train_and_score(build_model(archs, width, args), data, args.epochs, args.seed)
        nas.reward(accuracy)
    nas.close()


# -- controller and report (main process) --------------------------------------------------
def count_params(model: Any) -> int:
    return sum(int(p.numel()) for p in model.parameters())


def main_process(args: argparse.Namespace) -> int:
    from sanas import SANAS, Client
    from sanas.plots import plot_trials
    from sanas.v1 import sanas_pb2 as pb

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    nas = SANAS(
        space_configs(args),
        server_addr=("127.0.0.1", args.port),
        save_checkpoint=str(out / "checkpoints"),
        # Resumes an earlier run in the same folder (SANAS resumes only when asked).
        load_checkpoint=str(out / "checkpoints"),
        metrics_port=args.metrics_port,
        **sanas_kwargs(args),
    )
    print(
        f"controller on {nas.address}, study {args.study!r}: {args.steps} trials of "
        f"{args.space}, {args.trainers} trainers",
        flush=True,
    )
    print(
        f"watch it from another terminal: .venv/bin/sanas --address {nas.address} "
        f"watch {args.study}   (or status, trials, best, plot)",
        flush=True,
    )
    if nas.metrics_url:
        print(f"metrics: {nas.metrics_url}", flush=True)
    client = Client(nas.address)
    earlier = client.get_study(args.study)
    if earlier.trial_counts.active:
        # A run killed mid-search left trials leased to trainers that are gone: say why
        # this run may wait for them (the controller's restart gave each a whole lease).
        n = earlier.trial_counts.active
        lease = earlier.config.lease_duration.ToNanoseconds() / 1e9
        print(
            f"{n} trial{'' if n == 1 else 's'} of an earlier run still leased to trainers that "
            f"may be gone: back in the search within {lease:.0f} s (one lease) unless they report",
            flush=True,
        )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"}
    trainers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sanas.demo",
                "--as-trainer",
                str(i),
                "--address",
                nas.address,
                *args.passthrough,
            ],
            env=env,
        )
        for i in range(args.trainers)
    ]
    last = None
    while any(p.poll() is None for p in trainers):
        study = client.get_study(args.study)
        c = study.trial_counts
        line = (
            f"[{time.monotonic() - started:5.0f}s] done {c.succeeded + c.infeasible}/"
            f"{args.steps}  running {c.active}  best acc "
            + (f"{study.best_reward:.4f}" if study.HasField("best_reward") else "-")
            + f"  T={study.temperature:.3g}"
        )
        if line.split("]", 1)[1] != last:
            print(line, flush=True)
            last = line.split("]", 1)[1]
        time.sleep(1.0)
    failed = [p.returncode for p in trainers if p.returncode != 0]
    study = client.get_study(args.study)
    trials = [t for t in client.list_trials(args.study) if t.state == pb.TRIAL_STATE_SUCCEEDED]
    client.close()
    if failed or not trials:
        print(f"demo failed: trainer exit codes {failed}, {len(trials)} results", file=sys.stderr)
        nas.close()
        return 1
    from sanas.spaces.cost import network_cost

    best = list(study.best_tokens)
    decoded = nas.decode(best)
    model = build_model(nas.tokens2arch(best), decoded[-1].out_channels, args)
    cost = network_cost(decoded, image_shape(args)[0])
    plot_trials(trials, out / "search.png", f"sanas demo on {dataset_name(args)}")
    summary = {
        "best_accuracy": study.best_reward,
        "best_tokens": best,
        "params": count_params(model),
        "searched_flops": cost.flops,
        "searched_params": cost.params,
        "max_flops": args.max_flops,
        "rejected_proposals": study.rejected_proposals,
        "blocks": [
            {
                "channels": b.out_channels,
                "expansion": b.expansion,
                "kernel": b.kernel,
                "stride": b.stride,
                "repeats": b.repeats,
            }
            for a in decoded
            for b in a.blocks
        ],
        "trials": len(trials),
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / "best.json").write_text(json.dumps(summary, indent=1))
    nas.close()
    print("== best architecture")
    for b in summary["blocks"]:
        print(
            f"  inverted residual: {b['channels']:>3} ch, expansion {b['expansion']}, "
            f"{b['kernel']}x{b['kernel']}, stride {b['stride']}, x{b['repeats']}"
        )
    print(
        f"best test accuracy {study.best_reward:.4f}  params {summary['params']:,}  tokens {best}"
    )
    print(
        f"searched blocks: {cost.flops:,} FLOPs (limit {args.max_flops:,}), "
        f"{cost.params:,} params; {study.rejected_proposals} over-budget "
        f"candidate{'' if study.rejected_proposals == 1 else 's'} never issued"
    )
    print(
        f"{len(trials)} trials in {summary['seconds']:.0f} s; plot: {out / 'search.png'}; "
        f"summary: {out / 'best.json'}"
    )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sanas.demo", description=__doc__)
    parser.add_argument("--trainers", type=int, default=2, help="trainer processes")
    parser.add_argument("--steps", type=int, default=30, help="trials in the search")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per trial")
    parser.add_argument("--blocks", type=int, default=3, help="searched blocks")
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-flops",
        type=int,
        # Training time grows with FLOPs (~15 s per million on 2 cores): this keeps the
        # default demo under 10 minutes whatever region the search wanders into.
        default=1_500_000,
        help="FLOPs budget of the searched network at the image size (default 1,500,000)",
    )
    parser.add_argument("--study", default="digits-demo")
    parser.add_argument("--out", default="demo_out", help="checkpoints, plot and summary")
    parser.add_argument("--port", type=int, default=0, help="controller port (0: a free one)")
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument(
        "--as-trainer", dest="trainer_index", type=int, default=None, help=argparse.SUPPRESS
    )
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    keep = (
        "--steps",
        "--epochs",
        "--blocks",
        "--space",
        "--seed",
        "--study",
        "--max-flops",
        "--data-dir",
        "--train-limit",
    )
    args.passthrough = [v for i, v in enumerate(raw) if v in keep or (i > 0 and raw[i - 1] in keep)]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.trainer_index is not None:
        trainer(args)
        return 0
    return main_process(args)


if __name__ == "__main__":
    raise SystemExit(main())
