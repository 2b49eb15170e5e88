"""`make demo`: a real multi-trainer architecture search on a dataset that ships with
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

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

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
)
RUN_RECORD = "run.json"
# Paddle's warnings that say nothing about the demo: one at import, one per training batch.
PADDLE_NOISE = (
    "No ccache found",
    "When training, we now always track global mean and variance",
)


class TimeBudgetSpent(Exception):
    """The run's time budget ran out: a trainer stops (its trial stays unscored)."""


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
    }


def early_stopping(args: argparse.Namespace) -> Any:
    """The study's stopping rule from --early-stop, or None."""
    from sanas.client import median_stopping, successive_halving

    if args.early_stop == "median":
        return median_stopping(start_step=args.early_stop_start)
    if args.early_stop == "halving":
        return successive_halving(min_step=args.early_stop_start)
    return None


def finished(counts: Any) -> int:
    """Trials with a result: completed, infeasible, or stopped early."""
    return counts.succeeded + counts.infeasible + counts.stopped


def stopping_text(study: Any, args: argparse.Namespace) -> str:
    """What early stopping saved, in epochs and as a share of the planned training."""
    if args.early_stop == "none":
        return "early stopping: off (--early-stop none)"
    planned = finished(study.trial_counts) * args.epochs
    share = 100 * study.steps_saved / planned if planned else 0.0
    rule = {"median": "median rule", "halving": "successive halving"}[args.early_stop]
    return (
        f"early stopping ({rule} from epoch {args.early_stop_start}): "
        f"{study.trial_counts.stopped} of {finished(study.trial_counts)} trials stopped, "
        f"{study.steps_saved} of {planned} epochs saved ({share:.0f}%)"
    )


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

    class Features(nn.Layer):
        """A network of a PaddleSlim key returns (x,) for a block space: its tensor."""

        def __init__(self, arch: Any) -> None:
            super().__init__()
            self.arch = arch

        def forward(self, x: Any) -> Any:
            out = self.arch(x)
            return out[0] if isinstance(out, tuple) else out

    stem = [ConvBNAct(image_shape(args)[1], STEM_CHANNELS, 3, act="relu6")]
    return nn.Sequential(
        *(stem if is_block_space(args) else []),
        *(Features(a) for a in archs),
        nn.AdaptiveAvgPool2D(1),
        nn.Flatten(),
        nn.Linear(out_channels, 10),
    )


def evaluate(model: Any, data: tuple[Any, Any, Any, Any]) -> float:
    """Test accuracy now; the model is back in train mode, in exactly the state it was in,
    afterwards, so an accuracy reported after epoch k is what a k-epoch training scores."""
    import paddle

    x_train, _, x_test, y_test = data
    xt = paddle.to_tensor(x_train)
    # The refresh below moves the batch-norm running statistics (untrainable parameters,
    # momentum 0.9); without putting them back, one epoch's refresh would leak into every
    # later epoch's evaluation.
    saved = {name: value.clone() for name, value in model.state_dict().items()}
    # Refresh batch-norm statistics before evaluating: after a short training the running
    # averages lag the weights and eval-mode accuracy collapses (toolchain notes).
    with paddle.no_grad():
        for start in range(0, len(x_train), 256):
            model(xt[start : start + 256])
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor(x_test))
    model.set_state_dict(saved)
    model.train()
    return float((logits.argmax(axis=1).numpy() == y_test).mean())


def train_and_score(
    model: Any,
    data: tuple[Any, Any, Any, Any],
    epochs: int,
    seed: int,
    deadline: float | None = None,
    report: Callable[[int, float], bool] | None = None,
) -> float:
    """Test accuracy after `epochs` epochs; raises TimeBudgetSpent at an epoch boundary
    past `deadline` (a time.time() value), so a big candidate cannot run far over it.
    With `report`, the accuracy after every epoch k goes to report(k, accuracy), and
    training stops (returning that accuracy) when it answers True."""
    import numpy as np
    import paddle

    x_train, y_train, _, _ = data
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    xt, yt = paddle.to_tensor(x_train), paddle.to_tensor(y_train)
    optimizer = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    model.train()
    for epoch in range(1, epochs + 1):
        if deadline is not None and time.time() >= deadline:
            raise TimeBudgetSpent
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), BATCH):
            batch = paddle.to_tensor(order[start : start + BATCH])
            loss = paddle.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
        if report is not None:
            accuracy = evaluate(model, data)
            if report(epoch, accuracy) or epoch == epochs:
                return accuracy
    return evaluate(model, data)


@contextlib.contextmanager
def alarm_at(deadline: float | None) -> Iterator[None]:
    """Raise TimeBudgetSpent in this (main) thread at `deadline`: waiting for a trial can
    take a whole lease when the others' trials are all issued (see Client.next_trial)."""
    if deadline is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeBudgetSpent

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline - time.time()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
    try:
        while args.deadline is None or time.time() < args.deadline:
            # Initial weights from the seed: an architecture gets the same score whichever
            # trainer evaluates it, after whatever that trainer trained before.
            paddle.seed(args.seed)
            with alarm_at(args.deadline):
                archs = nas.next_archs()
            width = nas.decode(nas.current_tokens() or [])[-1].out_channels
            model = build_model(archs, width, args)
            accuracy = train_and_score(
                model,
                data,
                args.epochs,
                args.seed,
                args.deadline,
                # Reported after every epoch; the study's rule may stop the trial early.
                report=lambda epoch, acc: nas.report(epoch, acc, max_step=args.epochs),
            )
            nas.reward(accuracy)  # for a stopped trial: accepted, changes nothing
    except (SearchFinished, TimeBudgetSpent):
        # A trial stopped by the budget is not scored: its lease lapses and the study
        # issues it again on --resume.
        pass
    nas.close()  # a trainer (is_server=False): nothing to wait for


# -- controller and report (main process) --------------------------------------------------
def count_params(model: Any) -> int:
    return sum(int(p.numel()) for p in model.parameters())


def duration(seconds: float) -> str:
    """45s, 4m05s."""
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def study_flags(args: argparse.Namespace) -> dict[str, Any]:
    return {flag: getattr(args, flag) for flag in STUDY_FLAGS}


def flag_text(flag: str, value: Any) -> str:
    return f"--{flag.replace('_', '-')}={value}"


def trainer_argv(args: argparse.Namespace, deadline: float | None) -> list[str]:
    """The trainers' flags, from the parsed values: always --flag=value, which also
    carries a value that starts with '-'."""
    argv = [flag_text(f, v) for f, v in study_flags(args).items() if v is not None]
    return argv + ([f"--deadline={deadline!r}"] if deadline is not None else [])


def demo_flags(flags: dict[str, Any], args: argparse.Namespace, mode: str) -> list[str]:
    """The demo's arguments for this --out with `flags` (those off their defaults)."""
    defaults = vars(parse_args([]))
    parts = [mode]
    if args.out != defaults["out"]:
        parts.append(f"--out={args.out}")
    return parts + [flag_text(f, v) for f, v in flags.items() if v is not None and v != defaults[f]]


def demo_command(flags: dict[str, Any], args: argparse.Namespace, mode: str) -> str:
    return shlex.join(["python", "-m", "sanas.demo", *demo_flags(flags, args, mode)])


def make_command(flags: dict[str, Any], args: argparse.Namespace, mode: str) -> str:
    return "make demo " + shlex.join([f"DEMO_ARGS={shlex.join(demo_flags(flags, args, mode))}"])


def read_record(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return None


def write_record(out: Path, args: argparse.Namespace) -> None:
    record = {"flags": study_flags(args), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    (out / RUN_RECORD).write_text(json.dumps(record, indent=1))


def flag_differences(recorded: dict[str, Any], args: argparse.Namespace) -> list[str]:
    now = study_flags(args)
    return [
        f"--{f.replace('_', '-')} {recorded.get(f)} (then) vs {now[f]} (now)"
        for f in STUDY_FLAGS
        if recorded.get(f) != now[f]
    ]


def earlier_study(checkpoints: Path, study_id: str, *, delete: bool) -> Any:
    """The pb.Study an earlier run left in `checkpoints` (then deleted if `delete`), or
    None. Read through a short-lived controller: the one reader of the folder's format."""
    if not checkpoints.is_dir():
        return None
    from sanas import Client
    from sanas.embedded import start_embedded
    from sanas.errors import StudyBrokenError, StudyNotFoundError
    from sanas.v1 import sanas_pb2 as pb

    server = start_embedded("127.0.0.1", 0, checkpoints)
    try:
        with Client(server.address, retry_timeout=10) as client:
            try:
                study = client.get_study(study_id)
            except StudyNotFoundError:
                return None
            except StudyBrokenError:
                if not delete:
                    raise
                study = pb.Study(study_id=study_id, state=pb.STUDY_STATE_BROKEN)
            if delete:
                client.delete_study(study_id)
            return study
    finally:
        server.stop(grace=1)


def prepare_out(out: Path, args: argparse.Namespace) -> str | None:
    """Apply the rerun rule to --out; the reason to stop, if any.

    A folder holding the study is continued only with --resume (and the flags it was
    started with) and replaced only with --fresh: never silently either way."""
    from sanas.errors import CheckpointInUseError, StudyBrokenError
    from sanas.v1 import sanas_pb2 as pb

    try:
        earlier = earlier_study(out / "checkpoints", args.study, delete=args.fresh)
    except CheckpointInUseError as exc:
        return f"demo: another process is using {out}: {exc}"
    except StudyBrokenError as exc:
        return (
            f"demo: study {args.study!r} in {out} cannot be loaded ({exc}); start over with "
            f"{demo_command(study_flags(args), args, '--fresh')}, or use another --out"
        )
    if earlier is not None and earlier.state == pb.STUDY_STATE_BROKEN and not args.fresh:
        return f"demo: study {args.study!r} in {out} is damaged: start over with --fresh"
    if earlier is None or args.fresh:
        if earlier is not None:
            print(f"--fresh: deleted study {args.study!r} of an earlier run in {out}", flush=True)
        elif args.resume:
            print(f"--resume: {out} holds no study {args.study!r}: starting a new search")
        for name in ("best.json", "search.png", RUN_RECORD):
            (out / name).unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        write_record(out, args)
        return None
    recorded = read_record(out)
    flags = recorded["flags"] if recorded else study_flags(args)
    fresh = demo_command(study_flags(args), args, "--fresh")
    if not args.resume:
        c = earlier.trial_counts
        best = f", best acc {earlier.best_reward:.4f}" if earlier.HasField("best_reward") else ""
        since = f", started {recorded['started']}" if recorded else ""
        return "\n".join(
            [
                f"demo: {out} already holds study {args.study!r} of an earlier run "
                f"({finished(c)}/{earlier.config.search_steps} trials done"
                f"{best}{since}); this run leaves it as it is.",
                f"  continue it:  {demo_command(flags, args, '--resume')}",
                f"  start over:   {fresh}   (deletes it)",
                "  or keep it and write elsewhere: --out DIR",
                f"  (with make: {make_command(flags, args, '--resume')}, or "
                f"{make_command(study_flags(args), args, '--fresh')})",
            ]
        )
    differences = flag_differences(flags, args) if recorded else []
    if differences:
        return "\n".join(
            [
                f"demo: --resume continues the search in {out} with the flags it was started "
                "with, and these differ:",
                *(f"  {d}" for d in differences),
                f"  resume it:   {demo_command(flags, args, '--resume')}",
                f"  or start over with these flags: {fresh}   (deletes it)",
            ]
        )
    return None  # resume (a folder of an older demo without run.json: the controller checks)


def eta(evaluated: int, remaining: int, elapsed: float, budget_left: float | None) -> str:
    """When the search should end at this run's pace, and whether the budget ends it."""
    ends = "" if budget_left is None else f" (time budget ends in {duration(budget_left)})"
    if remaining <= 0:
        return "ETA: finishing"
    if evaluated == 0:
        return "ETA -" + ends
    need = remaining * elapsed / evaluated
    if budget_left is not None and need > budget_left:
        whole = duration(need)
        return f"ETA {duration(budget_left)}: the time budget ends it (all: {whole})"
    return f"ETA {duration(need)}"


def main_process(args: argparse.Namespace) -> int:
    from sanas import SANAS, Client
    from sanas.errors import StudyExistsError
    from sanas.plots import plot_trials
    from sanas.v1 import sanas_pb2 as pb

    started_at = time.time()  # the deadline is wall time: the trainers compare it too
    started = time.monotonic()
    out = Path(args.out)
    refusal = prepare_out(out, args)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    try:
        nas = SANAS(
            space_configs(args),
            server_addr=("127.0.0.1", args.port),
            save_checkpoint=str(out / "checkpoints"),
            # SANAS resumes only when asked: --resume asks (prepare_out refused otherwise).
            load_checkpoint=str(out / "checkpoints") if args.resume else None,
            metrics_port=args.metrics_port,
            **sanas_kwargs(args),
        )
    except StudyExistsError as exc:
        # A folder from before run.json was recorded: the controller's check is the one.
        print(
            f"demo: {out} holds study {args.study!r} of an earlier run with other flags "
            f"({exc}).\n  start over: {demo_command(study_flags(args), args, '--fresh')}"
            "   (deletes it), or use another --out",
            file=sys.stderr,
        )
        return 2
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
    print(
        f"or in a browser: .venv/bin/sanas dashboard --address {nas.address} --port 8080, "
        "then open http://127.0.0.1:8080/",
        flush=True,
    )
    if nas.metrics_url:
        print(f"metrics: {nas.metrics_url}", flush=True)
    client = Client(nas.address)
    earlier = client.get_study(args.study)
    done_before = finished(earlier.trial_counts)
    complete = earlier.state == pb.STUDY_STATE_COMPLETED
    if done_before:
        print(
            f"resuming: {done_before}/{args.steps} trials done by earlier runs"
            + (" (complete: reporting it)" if complete else ""),
            flush=True,
        )
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
    deadline = started_at + args.time_budget if args.time_budget > 0 else None
    if complete:
        pass
    elif deadline is not None:
        print(
            f"expected time: at most about {duration(args.time_budget + 30)}: no trial starts "
            f"after the {duration(args.time_budget)} time budget (--time-budget), one still "
            "training then stops at its next epoch, and start-up and report take ~20 s",
            flush=True,
        )
    else:
        print(
            "expected time: open (--time-budget 0): it depends on the candidates the search "
            "visits; the ETA below follows this run's pace",
            flush=True,
        )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"}
    trainers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sanas.demo",
                f"--as-trainer={i}",
                f"--address={nas.address}",
                *trainer_argv(args, deadline),
            ],
            env=env,
        )
        for i in range(0 if complete else args.trainers)
    ]
    last, printed = None, 0.0
    while any(p.poll() is None for p in trainers):
        study = client.get_study(args.study)
        c = study.trial_counts
        done = finished(c)
        best = f"{study.best_reward:.4f}" if study.HasField("best_reward") else "-"
        now = time.monotonic()
        # A line when something changed, and at least every 30 s for a fresh ETA.
        if (done, c.active, best) != last or now - printed >= 30:
            left = None if deadline is None else deadline - time.time()
            pace = eta(done - done_before, study.config.search_steps - done, now - started, left)
            print(
                f"[{now - started:5.0f}s] done {done}/{args.steps}  running {c.active}  "
                f"best acc {best}  T={study.temperature:.3g}  {pace}",
                flush=True,
            )
            last, printed = (done, c.active, best), now
        time.sleep(1.0)
    failed = [p.returncode for p in trainers if p.returncode != 0]
    study = client.get_study(args.study)
    c = study.trial_counts
    listed = list(client.list_trials(args.study))
    trials = [t for t in listed if t.state == pb.TRIAL_STATE_SUCCEEDED]
    client.close()
    evaluated = finished(c) - done_before
    stopped = (
        deadline is not None and time.time() >= deadline and study.state != pb.STUDY_STATE_COMPLETED
    )
    if failed or not trials:
        if stopped and not failed:
            print(
                f"demo: the time budget of {args.time_budget:g} s was spent before any trial "
                "finished: give it more (--time-budget SECONDS)",
                file=sys.stderr,
            )
        else:
            print(
                f"demo failed: trainer exit codes {failed}, {len(trials)} results",
                file=sys.stderr,
            )
        nas.close(wait_for_trainers=False)  # the demo waited for its own trainers
        return 1
    from sanas.spaces.cost import network_cost

    best = list(study.best_tokens)
    decoded = nas.decode(best)
    model = build_model(nas.tokens2arch(best), decoded[-1].out_channels, args)
    cost = network_cost(decoded, image_shape(args)[0])
    plot_trials(listed, out / "search.png", f"sanas demo on {dataset_name(args)}")
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
        # This run only: what it evaluated, what earlier runs had, and its own wall time.
        "trials_this_run": evaluated,
        "trials_resumed": done_before,
        "trials_unfinished": c.active,
        "seconds": round(time.monotonic() - started, 1),
        "time_budget": args.time_budget,
        "stopped_by_time_budget": stopped,
        "trials_stopped_early": c.stopped,
        "epochs_saved": study.steps_saved,
    }
    (out / "best.json").write_text(json.dumps(summary, indent=1))
    nas.close(wait_for_trainers=False)  # the demo waited for its own trainers
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
    if stopped:
        print(
            f"time budget of {args.time_budget:g} s spent: {finished(c)}/"
            f"{args.steps} trials done ({evaluated} in this run)"
            + (f", {c.active} unfinished (unscored, issued again)" if c.active else "")
            + f"; continue the search: {demo_command(study_flags(args), args, '--resume')}"
        )
    print(stopping_text(study, args))
    done_text = (
        f"{evaluated} trials evaluated in this run, {done_before} by earlier runs,"
        if done_before
        else f"{evaluated} trials"
    )
    print(
        f"{done_text} in {summary['seconds']:.0f} s; plot: {out / 'search.png'}; "
        f"summary: {out / 'best.json'}"
    )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sanas.demo",
        description=__doc__,
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


def main(argv: Sequence[str] | None = None) -> int:
    quiet_paddle()  # before Paddle is imported, here and in the trainers
    args = parse_args(argv)
    if args.trainer_index is not None:
        trainer(args)
        return 0
    return main_process(args)


if __name__ == "__main__":
    raise SystemExit(main())
