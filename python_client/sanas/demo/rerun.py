"""The rerun rule for --out: a folder that holds the study is continued only with
--resume (and the flags it was started with) and replaced only with --fresh; run.json
records the flags, and the refusals print the commands to choose with."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

from .options import RUN_RECORD, STUDY_FLAGS, flag_text, parse_args, study_flags
from .progress import finished


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
                client.delete_study(study_id, purge=True)  # --fresh: for good, id free
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
    if earlier is not None and earlier.state == pb.STUDY_STATE_DELETED and not args.fresh:
        return (
            f"demo: study {args.study!r} in {out} was deleted (`sanas delete`): start over "
            "with --fresh, or undelete it (`sanas-server --checkpoint-dir "
            f"{out / 'checkpoints'}`, then `sanas undelete {args.study}`) and --resume"
        )
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
