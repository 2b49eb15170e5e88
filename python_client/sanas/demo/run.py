"""The main process: the rerun rule, the controller (`SANAS(..., is_server=True)`), the
trainer processes, progress with an ETA while they run, and the report at the end."""

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

from ..dashboard.index import policy_text
from .options import (
    dataset_name,
    flag_text,
    image_shape,
    parse_args,
    quiet_paddle,
    sanas_kwargs,
    space_configs,
    study_flags,
)
from .progress import duration, eta, finished, stopping_text
from .rerun import demo_command, prepare_out
from .training import build_model, count_params, trainer


def trainer_argv(args: argparse.Namespace, deadline: float | None) -> list[str]:
    """The trainers' flags, from the parsed values: always --flag=value, which also
    carries a value that starts with '-'."""
    argv = [flag_text(f, v) for f, v in study_flags(args).items() if v is not None]
    return argv + ([f"--deadline={deadline!r}"] if deadline is not None else [])


def start_controller(out: Path, args: argparse.Namespace) -> Any:
    """The embedded controller (a SANAS that serves), or None when --out holds the study
    with other flags (said on stderr)."""
    from sanas import SANAS
    from sanas.errors import StudyExistsError

    try:
        return SANAS(
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
        return None


def announce(nas: Any, args: argparse.Namespace) -> None:
    """Where the controller is and how to watch it."""
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


def announce_earlier(earlier: Any, args: argparse.Namespace, complete: bool) -> None:
    """What earlier runs left: trials done, and trials still leased to gone trainers."""
    done_before = finished(earlier.trial_counts)
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


def announce_expected_time(args: argparse.Namespace, deadline: float | None) -> None:
    if deadline is not None:
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


def start_trainers(
    address: str, args: argparse.Namespace, deadline: float | None, count: int
) -> list[subprocess.Popen[bytes]]:
    """`count` trainer processes (`python -m sanas.demo --as-trainer=I ...`)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sanas.demo",
                f"--as-trainer={i}",
                f"--address={address}",
                *trainer_argv(args, deadline),
            ],
            env=env,
        )
        for i in range(count)
    ]


def follow(
    client: Any,
    trainers: Sequence[subprocess.Popen[bytes]],
    args: argparse.Namespace,
    deadline: float | None,
    done_before: int,
    started: float,
) -> None:
    """A progress line while the trainers run: when something changed, and at least
    every 30 s for a fresh ETA."""
    last, printed = None, 0.0
    while any(p.poll() is None for p in trainers):
        study = client.get_study(args.study)
        c = study.trial_counts
        done = finished(c)
        best = f"{study.best_reward:.4f}" if study.HasField("best_reward") else "-"
        now = time.monotonic()
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


def summarize(
    nas: Any,
    study: Any,
    trials: int,
    args: argparse.Namespace,
    *,
    evaluated: int,
    done_before: int,
    started: float,
    stopped: bool,
) -> tuple[dict[str, Any], Any]:
    """best.json's content, and the searched blocks' cost."""
    from sanas.spaces.cost import network_cost

    c = study.trial_counts
    best = list(study.best_tokens)
    decoded = nas.decode(best)
    model = build_model(nas.tokens2arch(best), decoded[-1].out_channels, args)
    cost = network_cost(decoded, image_shape(args)[0])
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
        "trials": trials,
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
    return summary, cost


def print_report(
    summary: dict[str, Any],
    cost: Any,
    study: Any,
    out: Path,
    args: argparse.Namespace,
    *,
    evaluated: int,
    done_before: int,
    stopped: bool,
) -> None:
    """The best architecture, its accuracy and cost, and what this run did."""
    c = study.trial_counts
    best = summary["best_tokens"]
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
    print(f"proposal policy: {policy_text(study)}")
    done_text = (
        f"{evaluated} trials evaluated in this run, {done_before} by earlier runs,"
        if done_before
        else f"{evaluated} trials"
    )
    print(
        f"{done_text} in {summary['seconds']:.0f} s; plot: {out / 'search.png'}; "
        f"summary: {out / 'best.json'}"
    )


def main_process(args: argparse.Namespace) -> int:
    from sanas import Client
    from sanas.plots import plot_trials
    from sanas.v1 import sanas_pb2 as pb

    started_at = time.time()  # the deadline is wall time: the trainers compare it too
    started = time.monotonic()
    out = Path(args.out)
    refusal = prepare_out(out, args)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    nas = start_controller(out, args)
    if nas is None:
        return 2
    announce(nas, args)
    client = Client(nas.address)
    earlier = client.get_study(args.study)
    done_before = finished(earlier.trial_counts)
    complete = earlier.state == pb.STUDY_STATE_COMPLETED
    announce_earlier(earlier, args, complete)
    deadline = started_at + args.time_budget if args.time_budget > 0 else None
    if not complete:
        announce_expected_time(args, deadline)
    trainers = start_trainers(nas.address, args, deadline, 0 if complete else args.trainers)
    follow(client, trainers, args, deadline, done_before, started)
    failed = [p.returncode for p in trainers if p.returncode != 0]
    study = client.get_study(args.study)
    listed = list(client.list_trials(args.study))
    trials = [t for t in listed if t.state == pb.TRIAL_STATE_SUCCEEDED]
    client.close()
    evaluated = finished(study.trial_counts) - done_before
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
    plot_trials(listed, out / "search.png", f"sanas demo on {dataset_name(args)}")
    summary, cost = summarize(
        nas,
        study,
        len(trials),
        args,
        evaluated=evaluated,
        done_before=done_before,
        started=started,
        stopped=stopped,
    )
    (out / "best.json").write_text(json.dumps(summary, indent=1))
    nas.close(wait_for_trainers=False)  # the demo waited for its own trainers
    print_report(
        summary,
        cost,
        study,
        out,
        args,
        evaluated=evaluated,
        done_before=done_before,
        stopped=stopped,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    quiet_paddle()  # before Paddle is imported, here and in the trainers
    args = parse_args(argv)
    if args.trainer_index is not None:
        trainer(args)
        return 0
    return main_process(args)
