"""The commands that read or change a controller's studies, one function each, called
with a connected Client and the parsed arguments; and `port`, which needs none."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..client import Client
from ..convert import policy_pb_of_name
from ..dashboard.index import policy_text
from ..study_config import study_config
from ..v1 import sanas_pb2 as pb
from .views import (
    STATES,
    counts_text,
    fmt_reward,
    seconds,
    state_name,
    step_text,
    table,
    trainers_of,
    trial_record,
    when,
)

SCORED = (pb.TRIAL_STATE_SUCCEEDED, pb.TRIAL_STATE_STOPPED)


def cmd_studies(client: Client, args: argparse.Namespace) -> int:
    rows = []
    for s in client.list_studies(show_deleted=args.deleted):
        used = s.config.search_steps - s.budget_remaining
        row = [
            s.study_id,
            state_name(s.state, pb.StudyState),
            f"{used}/{s.config.search_steps}",
            fmt_reward(s, "best_reward"),
            s.trial_counts.active,
        ]
        if args.deleted:  # when each soft-deleted study is purged unless undeleted
            row.append(when(seconds(s.expire_time)))
        rows.append(row)
    header = ["study", "state", "budget used", "best reward", "running"]
    print(table(rows, header + (["purged at"] if args.deleted else [])))
    return 0


def deleted_rows(s: pb.Study) -> list[list[Any]]:
    """A soft-deleted study's `status` lines: when, until when, and how to undo it."""
    if s.state != pb.STUDY_STATE_DELETED:
        return []
    return [
        ["deleted", when(seconds(s.delete_time))],
        ["purged at", f"{when(seconds(s.expire_time))} (sanas undelete {s.study_id} before)"],
    ]


def cmd_status(client: Client, args: argparse.Namespace) -> int:
    s = client.get_study(args.study)
    lease = s.config.lease_duration.ToNanoseconds() / 1e9
    used = s.config.search_steps - s.budget_remaining
    print(
        table(
            [
                ["state", state_name(s.state, pb.StudyState)],
                ["budget used", f"{used}/{s.config.search_steps} ({s.budget_remaining} left)"],
                ["best reward", fmt_reward(s, "best_reward")],
                ["best tokens", list(s.best_tokens) or "-"],
                ["current reward", fmt_reward(s, "current_reward")],
                ["current tokens", list(s.current_tokens)],
                [
                    "temperature",
                    f"{s.temperature:.4g} (start {s.config.init_temperature:g}, "
                    f"x{s.config.reduce_rate:g} per reward)",
                ],
                ["policy", policy_text(s)],
                ["trials", counts_text(s.trial_counts)],
                ["moves", f"{s.accepted_moves} accepted, {s.rejected_moves} rejected"],
                ["lease expirations", s.lease_expirations],
                ["created", when(seconds(s.create_time))],
                *deleted_rows(s),
            ],
            ["study", s.study_id],
        )
    )
    trainers = trainers_of(list(client.list_trials(args.study)), lease)
    if trainers:
        print()
        print(
            table(
                [[name, n, running, when(last)] for name, n, running, last in trainers],
                ["trainer", "trials", "running", "last contact"],
            )
        )
    return 0


def cmd_trials(client: Client, args: argparse.Namespace) -> int:
    state = STATES[args.state] if args.state else pb.TRIAL_STATE_UNSPECIFIED
    records = [trial_record(t) for t in client.list_trials(args.study, state=state)]
    key = {"trial": "trial_id", "reward": "reward", "time": "create_time"}[args.sort]
    missing = float("-inf")
    records.sort(key=lambda r: missing if r[key] is None else r[key], reverse=args.desc)
    if args.limit:
        records = records[: args.limit]
    if args.format == "json":
        text = json.dumps(records, indent=1) + "\n"
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(trial_record(pb.Trial()).keys()))
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "tokens": " ".join(map(str, r["tokens"]))})
        text = buffer.getvalue()
    else:
        text = (
            table(
                [
                    [
                        r["trial_id"],
                        r["state"],
                        "-" if r["reward"] is None else f"{r['reward']:.6g}",
                        step_text(r),
                        "" if r["last_value"] is None else f"{r['last_value']:.6g}",
                        "yes" if r["accepted"] else "",
                        f"{r['temperature']:.3g}",
                        r["client_id"],
                        " ".join(map(str, r["tokens"])),
                    ]
                    for r in records
                ],
                ["trial", "state", "reward", "step", "value", "accepted", "T", "trainer", "tokens"],
            )
            + "\n"
        )
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {len(records)} trials to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_best(client: Client, args: argparse.Namespace) -> int:
    from ..convert import space_config_from_pb
    from ..spaces import CombinedSpace, SpaceConfigError, describe

    s = client.get_study(args.study)
    if not s.HasField("best_reward"):
        print(f"study {args.study!r} has no result yet")
        return 0
    print(f"best reward {s.best_reward:.6g}")
    print(f"tokens {list(s.best_tokens)}")
    configs = [space_config_from_pb(c) for c in s.config.search_spaces]
    # What the study was searched with (SANAS records both): the FLOPs its trainers saw,
    # counted as the controller and the dashboard count them (analytically, no Paddle:
    # the same number paddle.flops gives for the network sanas.nets builds).
    limits = s.config.constraints
    try:
        described = describe(
            CombinedSpace.from_configs(configs),
            s.best_tokens,
            args.in_channels or limits.in_channels,
            args.input_size or limits.input_size,
        )
    except SpaceConfigError as exc:
        print(f"no architecture: {exc}")
        return 0
    for arch in described.architectures:
        print(f"{arch.space} (in {arch.in_channels} channels):")
        for b in arch.blocks:
            extra = (
                f", expansion {b.expansion}, x{b.repeats}" if b.kind == "inverted_residual" else ""
            )
            print(
                f"  {b.kind:<18} {b.out_channels:>5} ch, {b.kernel}x{b.kernel}, "
                f"stride {b.stride}{extra}"
            )
    size, cost = described.input_size, described.cost
    print(f"params {cost.params:,}  FLOPs {cost.flops:,} at {size}x{size}")
    return 0


def cmd_watch(client: Client, args: argparse.Namespace) -> int:
    names = {v: k.split("STUDY_EVENT_TYPE_", 1)[1].lower() for k, v in pb.StudyEventType.items()}
    for event in client.watch_study(args.study):
        stamp = time.strftime("%H:%M:%S", time.localtime(seconds(event.event_time) or 0))
        kind = names[event.type]
        if event.HasField("study"):
            s = event.study
            used = s.config.search_steps - s.budget_remaining
            print(
                f"{stamp} {kind}: {used}/{s.config.search_steps} issued, best "
                f"{fmt_reward(s, 'best_reward')}, T={s.temperature:.3g}, "
                f"{s.trial_counts.active} running",
                flush=True,
            )
        else:
            t = event.trial
            detail = ""
            if event.type == pb.STUDY_EVENT_TYPE_TRIAL_COMPLETED:
                detail = (" infeasible" if t.infeasible else f" reward {t.reward:.6g}") + (
                    " (accepted)" if t.accepted else ""
                )
            elif event.type == pb.STUDY_EVENT_TYPE_NEW_BEST:
                detail = f" reward {t.reward:.6g}"
            print(f"{stamp} {kind} #{t.trial_id} by {t.client_id}{detail}", flush=True)
    return 0


def cmd_plot(client: Client, args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot needs matplotlib: pip install sanas[demo]", file=sys.stderr)
        return 1
    from ..plots import plot_trials

    listed = list(client.list_trials(args.study))
    if not any(t.state in SCORED for t in listed):
        print(f"study {args.study!r} has no results to plot", file=sys.stderr)
        return 1
    output = args.output or f"{args.study}.png"
    results = sum(t.state == pb.TRIAL_STATE_SUCCEEDED for t in listed)
    stopped = sum(t.state == pb.TRIAL_STATE_STOPPED for t in listed)
    title = f"sanas study {args.study}: {results} results" + (
        f", {stopped} stopped early" if stopped else ""
    )
    plot_trials(listed, output, title)
    print(f"wrote {output}")
    return 0


def cmd_import(client: Client, args: argparse.Namespace) -> int:
    text = Path(args.checkpoint).read_text()
    configs = args.config or []
    config = (
        study_config(configs, search_steps=args.search_steps)
        if configs
        else pb.StudyConfig(search_steps=args.search_steps or 0)
    )
    if args.policy is not None:
        config.policy = policy_pb_of_name(args.policy)  # type: ignore[assignment]
    response = client.import_paddleslim_checkpoint(args.study, text, config)
    s = response.study
    print(
        f"imported {response.imported_trials} results into study {s.study_id!r}: best "
        f"{fmt_reward(s, 'best_reward')}, {s.budget_remaining} trials left"
    )
    return 0


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    if not args.yes:
        what = (
            "purging it removes its checkpoint for good (no undelete)"
            if args.purge
            else "deleting it stops its search; it can be undeleted until the controller's "
            "retention runs out"
        )
        print(f"sanas delete {args.study}: {what}; add --yes to confirm", file=sys.stderr)
        return 2
    deleted = client.delete_study(args.study, purge=args.purge)
    if deleted is None:
        print(f"purged study {args.study!r}: it and its checkpoint are gone for good")
        return 0
    expires = when(seconds(deleted.expire_time))
    counts = deleted.trial_counts
    trials = sum(getattr(counts, f.name) for f in counts.DESCRIPTOR.fields)
    print(
        f"deleted study {args.study!r} ({trials} trials, best reward "
        f"{fmt_reward(deleted, 'best_reward')}): it takes no trial calls now, and is purged "
        f"at {expires}.\n"
        f"  undo it until then:  sanas undelete {args.study}\n"
        f"  purge it now:        sanas delete {args.study} --purge --yes"
    )
    return 0


def cmd_undelete(client: Client, args: argparse.Namespace) -> int:
    s = client.undelete_study(args.study)
    used = s.config.search_steps - s.budget_remaining
    print(
        f"undeleted study {args.study!r}: {state_name(s.state, pb.StudyState)}, "
        f"{used}/{s.config.search_steps} trials used, best reward {fmt_reward(s, 'best_reward')}, "
        f"uid {s.uid} (the same: its trainers' trials are still theirs)"
    )
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    """Rewrite a PaddleSlim script's imports (stdout, -o or --in-place) and report on stderr
    the Paddle 3 changes left to make. Needs no controller."""
    from ..port import PortError, port_source, report_lines

    path = Path(args.script)
    try:
        source = path.read_bytes().decode("utf-8")  # bytes: its own line endings kept
    except OSError as exc:
        print(f"sanas port: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"sanas port: {path} is not a Python script (not UTF-8 text)", file=sys.stderr)
        return 1
    try:
        result = port_source(source, legacy=args.legacy)
    except PortError as exc:
        print(
            f"sanas port: {path} is not a Python script it can read: syntax error at {exc}; "
            "nothing was written",
            file=sys.stderr,
        )
        return 1
    target = Path(args.output) if args.output else path
    try:
        if args.output or args.in_place:
            target.write_bytes(result.text.encode("utf-8"))
    except OSError as exc:
        print(f"sanas port: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    # Line numbers are the rewritten script's (the same as SCRIPT's unless --legacy
    # inserted its two lines), so they are named after the file that holds it.
    for line in report_lines(result, str(target)):
        print(line, file=sys.stderr)
    if args.output or args.in_place:
        print(f"sanas port: wrote {target}", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    return 0
