"""`sanas backup` and `sanas restore`: a study streamed to and from a folder of its files
(the BackupStudy and RestoreStudy RPCs; docs/operations.md); `sanas export`: a study and
its trials as one JSON document in the public schema, for other tools."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from ..client import Client
from ..errors import NotFoundError
from ..v1 import sanas_pb2 as pb

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


# The export document: the public schema's JSON mapping (sanas.v1 field names), so it reads
# the same whatever release wrote it; `version` counts changes of the envelope only.
EXPORT_FORMAT = "sanas.v1.StudyExport"
EXPORT_VERSION = 1
# A live study changes while its trials are listed: list again until its trial counts
# were the same before and after, at most this many times.
EXPORT_ATTEMPTS = 5


def export_document(client: Client, study_id: str, address: str) -> dict[str, Any]:
    """The study and every trial with its curve, as of one state of the study's trial
    counts (see EXPORT_ATTEMPTS); raises ValueError when it would not hold still."""
    for _ in range(EXPORT_ATTEMPTS):
        before = client.get_study(study_id)
        trials = list(client.list_trials(study_id))
        after = client.get_study(study_id)
        if after.trial_counts == before.trial_counts:
            break
    else:
        raise ValueError(
            f"study {study_id!r} changed during each of {EXPORT_ATTEMPTS} listings of its "
            "trials; export it when fewer trainers report, or take `sanas backup` (one "
            "consistent copy, restorable)"
        )

    def as_json(message: Any) -> dict[str, Any]:
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "controller": address,
        "study": as_json(after),
        "trials": [as_json(t) for t in trials],
    }


def cmd_export(client: Client, args: argparse.Namespace) -> int:
    document = export_document(client, args.study, args.address)
    text = json.dumps(document, indent=1) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    partial.write_text(text)  # whole or absent: renamed into place once written
    os.replace(partial, target)
    print(
        f"exported study {args.study!r} ({len(document['trials'])} trials) to {target}",
        file=sys.stderr,
    )
    return 0
