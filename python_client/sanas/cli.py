"""`sanas`: look at and manage the searches of a running controller.

sanas [--address HOST:PORT] [--tls-ca F] [--tls-cert F --tls-key F] [--token-file F] CMD
studies [--deleted] | status STUDY | trials STUDY | best STUDY | watch STUDY
plot STUDY [-o F.png] | import-paddleslim CHECKPOINT --study ID
delete STUDY [--purge] --yes | undelete STUDY
backup STUDY|--all --to DIR | restore DIR [--as ID]
dashboard [--port 8080] [--host 127.0.0.1] [--dashboard-token-file F] [--allow-delete]
          [--max-watches N] [--idle-seconds S]
port SCRIPT [-o OUT | --in-place] [--legacy]   (no controller needed)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .client import DEFAULT_PORT, Client, study_config, with_default_port
from .dashboard.index import STATE_NAMES, reward_of
from .errors import ControllerUnavailableError, NotFoundError, SanasError
from .v1 import sanas_pb2 as pb

# The CLI's and the dashboard's names of the trial states (`--state` choices).
STATES = {name: state for state, name in STATE_NAMES.items()}
DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
# Longest a dashboard request waits on the controller (retries included).
DASHBOARD_CALL_SECONDS = 5.0


SCORED = (pb.TRIAL_STATE_SUCCEEDED, pb.TRIAL_STATE_STOPPED)


def state_name(value: int, enum: Any = pb.TrialState) -> str:
    name = enum.Name(value)
    return name.split("_STATE_", 1)[-1].lower()


def seconds(ts: Any) -> float | None:
    return ts.seconds + ts.nanos / 1e9 if ts.seconds or ts.nanos else None


def when(value: float | None) -> str:
    return "-" if value is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_reward(study: pb.Study, field: str) -> str:
    return f"{getattr(study, field):.6g}" if study.HasField(field) else "-"


# How `status` names a TrialCounts field, where the field's own name is not the word.
COUNT_WORDS = {"active": "running"}


def counts_text(counts: pb.TrialCounts) -> str:
    """'10 (1 running, 5 succeeded, 1 infeasible, 3 stopped, 0 skipped)': the trials, by state.
    Every field of TrialCounts, read from its descriptor, so that a state added to the
    proto is counted here too (stopped trials were once left out, and the parts did not
    add up to the budget used)."""
    parts = [
        (COUNT_WORDS.get(f.name, f.name), getattr(counts, f.name)) for f in counts.DESCRIPTOR.fields
    ]
    total = sum(n for _, n in parts)
    return f"{total} ({', '.join(f'{n} {word}' for word, n in parts)})"


# -- commands --------------------------------------------------------------------------
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


def trainers_of(trials: list[pb.Trial], lease: float) -> list[list[Any]]:
    seen: dict[str, list[Any]] = {}
    for t in trials:
        contact = max(
            x
            for x in (
                seconds(t.create_time),
                seconds(t.complete_time),
                # An active trial's lease is renewed by heartbeats: its last renewal.
                (seconds(t.lease_expire_time) or 0) - lease
                if not t.HasField("complete_time")
                else 0,
            )
            if x is not None
        )
        row = seen.setdefault(t.client_id, [t.client_id, 0, 0, 0.0])
        row[1] += 1
        row[2] += t.state == pb.TRIAL_STATE_ACTIVE
        row[3] = max(row[3], contact)
    return sorted(seen.values(), key=lambda r: -r[3])


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


def trial_record(t: pb.Trial) -> dict[str, Any]:
    return {
        "trial_id": t.trial_id,
        "state": state_name(t.state),
        # A stopped trial's last value is a reward only when the study judged it as one.
        "reward": reward_of(t),
        "last_step": t.measurements[-1].step if t.measurements else None,
        "last_value": t.measurements[-1].value if t.measurements else None,
        "max_step": t.max_step or None,
        "stop_reason": t.stop_reason,
        "accepted": t.accepted,
        "temperature": t.temperature,
        "client_id": t.client_id,
        "issue_count": t.issue_count,
        "create_time": seconds(t.create_time),
        "complete_time": seconds(t.complete_time),
        "tokens": list(t.tokens),
    }


def step_text(record: dict[str, Any]) -> str:
    """The last reported step, of the planned ones: 3/10."""
    if record["last_step"] is None:
        return ""
    return f"{record['last_step']}/{record['max_step'] or '?'}"


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
    from .convert import space_config_from_pb
    from .spaces import CombinedSpace, SpaceConfigError, describe

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
    from .plots import plot_trials

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


# A backup folder holds one study as a checkpoint folder does (see docs/operations.md):
# its header, its snapshot, an empty journal that continues it, and what the copy is.
BACKUP_FILES = ("study.json", "snapshot.json", "journal.log")
BACKUP_MANIFEST = "backup.json"
READ_CHUNK_BYTES = 1 << 20


def backup_one(client: Client, study_id: str, to: Path, address: str) -> int:
    """Write DIR/STUDY from a BackupStudy stream: into a hidden folder first, renamed
    into place once every file is on disk, so DIR/STUDY is always a whole copy."""
    target = to / study_id
    if target.exists():
        raise ValueError(f"{target} exists; back up into another folder or move it aside")
    partial = to / f".{study_id}.partial-{uuid.uuid4().hex[:8]}"
    partial.mkdir(parents=True)
    try:
        messages = iter(client.backup_study(study_id))
        first = next(messages)
        (partial / "study.json").write_bytes(first.header)
        size = 0
        with open(partial / "snapshot.json", "wb") as f:
            for message in messages:
                f.write(message.snapshot_chunk)
                size += len(message.snapshot_chunk)
            f.flush()
            os.fsync(f.fileno())
        (partial / "journal.log").write_bytes(b"")
        header = json.loads(first.header)
        manifest = {
            "study_id": study_id,
            "uid": header.get("uid"),
            "format": header.get("format", 1),
            "trials": first.trial_count,
            "snapshot_bytes": size,
            "controller": address,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (partial / BACKUP_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        os.rename(partial, target)
    except BaseException:
        for path in partial.iterdir():
            path.unlink()
        partial.rmdir()
        raise
    print(f"backed up study {study_id!r} ({first.trial_count} trials, {size} bytes) to {target}")
    return 0


def cmd_backup(client: Client, args: argparse.Namespace) -> int:
    if bool(args.study) == bool(args.all):
        print("sanas backup: give a STUDY or --all", file=sys.stderr)
        return 2
    to = Path(args.to)
    to.mkdir(parents=True, exist_ok=True)
    if args.study:
        return backup_one(client, args.study, to, args.address)
    skipped = []
    for study in list(client.list_studies()):
        if study.state == pb.STUDY_STATE_BROKEN:
            skipped.append(study.study_id)
            print(
                f"skipped study {study.study_id!r}: not served ({study.broken_reason})",
                file=sys.stderr,
            )
            continue
        try:
            backup_one(client, study.study_id, to, args.address)
        except NotFoundError:
            print(f"skipped study {study.study_id!r}: deleted meanwhile", file=sys.stderr)
    return 1 if skipped else 0


def backup_folders(folder: Path) -> list[Path]:
    """The study backups in FOLDER: itself when it is one, else its subfolders that are."""
    if (folder / "study.json").is_file():
        return [folder]
    found = sorted(p for p in folder.iterdir() if (p / "study.json").is_file())
    if not found:
        raise ValueError(f"{folder} holds no study backup (a study.json, or folders of them)")
    return found


def snapshot_pieces(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while piece := f.read(READ_CHUNK_BYTES):
            yield piece


def cmd_restore(client: Client, args: argparse.Namespace) -> int:
    folders = backup_folders(Path(args.folder))
    if args.as_id and len(folders) > 1:
        print(
            f"sanas restore: --as names one study, and {args.folder} holds {len(folders)}",
            file=sys.stderr,
        )
        return 2
    for folder in folders:
        header = (folder / "study.json").read_bytes()
        response = client.restore_study(
            header, snapshot_pieces(folder / "snapshot.json"), args.as_id or ""
        )
        s = response.study
        print(
            f"restored study {s.study_id!r} from {folder}: {response.restored_trials} trials, "
            f"a new incarnation (uid {s.uid}); trainers of the old one must start again"
        )
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    """Rewrite a PaddleSlim script's imports (stdout, -o or --in-place) and report on stderr
    the Paddle 3 changes left to make. Needs no controller."""
    from .port import PortError, port_source, report_lines

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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanas", description="Look at and manage sanas searches.")
    p.add_argument(
        "--address",
        default=os.environ.get("SANAS_ADDRESS", DEFAULT_ADDRESS),
        help=f"controller HOST[:PORT] (env SANAS_ADDRESS; default {DEFAULT_ADDRESS}; "
        f"port {DEFAULT_PORT} when none is given)",
    )
    p.add_argument("--tls-ca", help="CA certificate (PEM) to verify the controller: use TLS")
    p.add_argument("--tls-cert", help="client certificate (PEM), for mutual TLS")
    p.add_argument("--tls-key", help="client private key (PEM)")
    p.add_argument("--token-file", help="file holding the bearer token")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=3.0,
        help="seconds to wait for the controller to answer at all (default 3)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    study_help = "study id (`sanas studies` lists them)"
    studies = sub.add_parser("studies", help="list studies")
    studies.add_argument(
        "--deleted",
        action="store_true",
        help="list soft-deleted studies too, with when each is purged",
    )
    studies.set_defaults(run=cmd_studies)
    status = sub.add_parser("status", help="a study at a glance, with its trainers")
    status.add_argument("study", help=study_help)
    status.set_defaults(run=cmd_status)
    trials = sub.add_parser("trials", help="list, filter, sort and export trials")
    trials.add_argument("study", help=study_help)
    trials.add_argument("--state", choices=sorted(STATES), help="only trials in this state")
    trials.add_argument(
        "--sort",
        choices=["trial", "reward", "time"],
        default="trial",
        help="order by trial id, reward or creation time (default trial)",
    )
    trials.add_argument("--desc", action="store_true", help="largest first")
    trials.add_argument(
        "--limit", type=int, default=0, help="at most this many trials, after sorting (0: all)"
    )
    trials.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format"
    )
    trials.add_argument("-o", "--output", help="write to this file instead of stdout")
    trials.set_defaults(run=cmd_trials)
    best = sub.add_parser("best", help="best tokens, decoded architecture, FLOPs and params")
    best.add_argument("study", help=study_help)
    best.add_argument(
        "--input-size",
        type=int,
        default=0,
        help="image side for FLOPs (default: the study's constraints.input_size, else the "
        "space's input size, else 32)",
    )
    best.add_argument(
        "--in-channels",
        type=int,
        default=0,
        help="input channels of the searched network (default: the study's "
        "constraints.in_channels, else 3)",
    )
    best.set_defaults(run=cmd_best)
    watch = sub.add_parser("watch", help="follow a study live until it completes")
    watch.add_argument("study", help=study_help)
    watch.set_defaults(run=cmd_watch)
    plot = sub.add_parser("plot", help="PNG of reward, best so far, temperature, acceptance")
    plot.add_argument("study", help=study_help)
    plot.add_argument("-o", "--output", help="PNG file to write (default: STUDY.png)")
    plot.set_defaults(run=cmd_plot)
    imp = sub.add_parser("import-paddleslim", help="new study from a PaddleSlim checkpoint")
    imp.add_argument("checkpoint", help="path of nas_checkpoint/sanas.checkpoints")
    imp.add_argument("--study", required=True, help="id of the new study")
    imp.add_argument(
        "--search-steps",
        type=int,
        default=0,
        help="trial budget of the new study, imported results included (0: the default)",
    )
    imp.add_argument("--config", action="append", help="search-space key (repeatable)")
    imp.set_defaults(run=cmd_import)
    delete = sub.add_parser(
        "delete",
        help="delete a study: soft (undeletable until the controller's retention runs out) "
        "unless --purge",
    )
    delete.add_argument("study", help=study_help)
    delete.add_argument(
        "--purge",
        action="store_true",
        help="remove the study and its checkpoint for good (live or soft-deleted; no undo)",
    )
    delete.add_argument("--yes", action="store_true", help="really delete")
    delete.set_defaults(run=cmd_delete)
    undelete = sub.add_parser(
        "undelete", help="restore a soft-deleted study as it was (`sanas studies --deleted`)"
    )
    undelete.add_argument("study", help=study_help)
    undelete.set_defaults(run=cmd_undelete)
    backup = sub.add_parser(
        "backup", help="copy a study (or all) from the controller into a local folder"
    )
    backup.add_argument("study", nargs="?", help=study_help)
    backup.add_argument("--all", action="store_true", help="every study the controller serves")
    backup.add_argument("--to", required=True, help="folder to write DIR/STUDY into")
    backup.set_defaults(run=cmd_backup)
    restore = sub.add_parser(
        "restore", help="create a study (a new incarnation) from a backup folder"
    )
    restore.add_argument("folder", help="a study's backup folder, or a folder of them")
    restore.add_argument("--as", dest="as_id", help="restore under this study id instead")
    restore.set_defaults(run=cmd_restore)
    dash = sub.add_parser(
        "dashboard", help="live web dashboard of the controller's studies (docs/dashboard.md)"
    )
    # The controller options are also accepted after `dashboard` (as in `sanas dashboard
    # --address HOST:PORT`); given there, they override the global ones.
    for flag in ("--address", "--tls-ca", "--tls-cert", "--tls-key", "--token-file"):
        dash.add_argument(flag, default=argparse.SUPPRESS, help=f"as the global {flag}")
    dash.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0: any)")
    dash.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    dash.add_argument(
        "--dashboard-token-file",
        help="file holding a token every browser request must carry (required when --host "
        "is not loopback); open http://HOST:PORT/?token=TOKEN once to set its cookie",
    )
    dash.add_argument(
        "--allow-delete",
        action="store_true",
        help="allow deleting studies from the dashboard (each asks to type the study id)",
    )
    dash.add_argument(
        "--max-watches",
        type=int,
        default=None,
        help="WatchStudy streams the dashboard holds at once, one per study being shown "
        "(default 32, half of sanas-server's default --max-watchers 64; keep it below "
        "the controller's --max-watchers so other clients can watch too)",
    )
    dash.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="a study with no page open for this long stops being watched and indexed (default 60)",
    )
    dash.set_defaults(run=None)
    port = sub.add_parser(
        "port",
        help="port a PaddleSlim script: rewrite its paddleslim imports and report the Paddle 3 "
        "changes left, with line numbers (docs/porting.md); needs no controller",
    )
    port.add_argument("script", help="the PaddleSlim script (Python) to port")
    where = port.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="write the ported script here (default: stdout)")
    where.add_argument("--in-place", action="store_true", help="rewrite SCRIPT itself")
    port.add_argument(
        "--legacy",
        action="store_true",
        help="also insert the lines that select Paddle's legacy static mode "
        "(FLAGS_enable_pir_api=0) and report only what that mode still needs",
    )
    port.set_defaults(run=None)
    return p


def connect(
    args: argparse.Namespace, address: str, seconds: float, client_id: str | None = None
) -> Client:
    """A Client with the command line's TLS and token options; calls (retries included)
    give up after `seconds`."""
    return Client(
        address,
        timeout=seconds,
        retry_timeout=seconds,
        tls_ca_file=args.tls_ca,
        tls_cert_file=args.tls_cert,
        tls_key_file=args.tls_key,
        auth_token_file=args.token_file,
        client_id=client_id,
    )


def cmd_dashboard(args: argparse.Namespace, address: str) -> int:
    """Not a `run` like the others: the dashboard opens its own client, lazily, and starts
    even when the controller is not up yet (its pages say so)."""
    from .dashboard import serve

    def client() -> Client:
        # Short deadlines: a page waiting on a controller that is down holds one of the
        # server's worker threads, and it should say so within seconds, not after 30.
        seconds = min(args.timeout, DASHBOARD_CALL_SECONDS)
        return connect(args, address, seconds, client_id="sanas-dashboard")

    try:
        client().close()  # TLS and token files are read now: a mistake stops it here
    except (ValueError, OSError) as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
    return serve(
        client,
        address,
        host=args.host,
        port=args.port,
        token_file=args.dashboard_token_file,
        allow_delete=args.allow_delete,
        max_watches=args.max_watches,
        idle_seconds=args.idle_seconds,
    )


def not_reachable(address: str, seconds: float, tls: bool) -> str:
    return (
        f"sanas: no controller answered at {address} within {seconds:g} s.\n"
        "  Start one: `sanas-server` (or `make serve` in a checkout; both listen on "
        f"{DEFAULT_ADDRESS}),\n"
        "  or point at yours: --address HOST:PORT or SANAS_ADDRESS=HOST:PORT."
        # A failed TLS handshake looks the same from here: name the other suspect.
        + ("\n  With TLS, also check that --tls-ca signed the server's certificate." if tls else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return run(argv)
        finally:
            # What is still in stdout's buffer goes out now, inside this guard, rather than
            # in the interpreter's flush at exit, where a closed pipe prints a warning.
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped reading (`sanas status | head -n 1`): how a pipeline ends, not
        # an error to report. Python flushes stdout once more at exit; pointing it at
        # /dev/null keeps that flush from failing too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141  # 128 + SIGPIPE (13): what a shell reports for a program a pipe ended


def run(argv: Sequence[str] | None) -> int:
    """The command line's command; `main` adds the handling of a closed stdout."""
    args = parser().parse_args(argv)
    if args.command == "port":  # a file to rewrite: no controller, no address
        return cmd_port(args)
    try:
        address = with_default_port(args.address)
    except ValueError as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
    if args.command == "dashboard":
        return cmd_dashboard(args, address)
    try:
        with connect(args, address, args.timeout) as client:
            # Calls retry UNAVAILABLE for --timeout seconds (a restarting controller);
            # with none there at all, say so now instead.
            try:
                client.wait_ready(args.connect_timeout)
            except ControllerUnavailableError:
                tls = bool(args.tls_ca or args.tls_cert)
                print(not_reachable(address, args.connect_timeout, tls), file=sys.stderr)
                return 1
            return args.run(client, args)
    except SanasError as exc:
        print(f"sanas: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # stdout closed, not a file of ours: `main` ends quietly
    except (ValueError, OSError) as exc:  # TLS or token files missing or mismatched
        print(f"sanas: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
