"""Durable study storage: one folder per study *instance* with an atomically written
header and an append-only journal of events. No gRPC, no annealing: bytes, files, fsync.

A study instance is addressed by its key (the folder name, `<study_id>@<instance>`), never
by its id alone: a call still running against a deleted study can only reach that
study's closed journal, never the folder of a new study created under the same id.
Folders of older versions are named `<study_id>` and load the same way.

Journal format: one record per line, `<crc32 of payload, 8 hex digits> <json payload>\\n`.
A torn last record (crash mid-write) is detected by its checksum or missing newline,
logged and cut off on open; a bad record anywhere else makes the study unloadable
(CorruptCheckpoint). Appends are group-committed: concurrent writers share one write +
fsync, and a writer returns only when its own record is on disk.

A study's history is a chain of journals: `journal.log`, then `journal-00000001.log`, ...
A snapshot names the journal that continues after it; loading reads the snapshot and
every journal from that one on, in order, so a crash between starting a new journal and
writing the snapshot that names it loses nothing.

One server per folder: FileStorage holds an exclusive lock (flock) on `<root>/sanas.lock`
for its lifetime; a second process is refused with the holder's pid and host.

Soft deletes: a soft-deleted study's folder moves, whole, from `<root>/studies/` to
`<root>/deleted/`, carrying a `deletion.json` (when it was deleted, when it expires)
written before the move; an undelete moves it back. Where the folder is, is what counts:
a `deletion.json` left in `studies/` by a crash before the move is removed when the
study loads. Releases before soft deletes never look in `deleted/`, so a rollback
neither serves nor removes a soft-deleted study.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import CheckpointInUse, CorruptCheckpoint, NewerFormat, StorageFailure
from .journal import check_format
from .snapshot_file import read_snapshot, snapshot_chunks
from .spans import JOURNAL_FSYNC, NO_SPANS, Spans

HEADER = "study.json"
JOURNAL = "journal.log"  # the first journal of a study
SNAPSHOT = "snapshot.json"
LOCK = "sanas.lock"
DELETED = "deleted"  # <root>/deleted/<key>: the folders of soft-deleted studies
DELETION = "deletion.json"  # in a soft-deleted study's folder: its delete and expire times
PROBE = ".write-probe"  # written and removed by FileStorage.probe
NUMBERED_JOURNAL = re.compile(r"journal-(\d{8})\.log\Z")
# Journals of versions before the chain: named by a snapshot, replaced by the next one.
LEGACY_JOURNAL = re.compile(r"journal-[0-9a-f]{12}\.log\Z")
Event = dict[str, Any]
# Blocks until the appended events are durable; raises StorageFailure if they never are.
Durable = Callable[[], None]
log = logging.getLogger(__name__)


def encode_record(event: Event) -> bytes:
    payload = json.dumps(event, separators=(",", ":"), allow_nan=False).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode_records(data: bytes, path: Path) -> tuple[list[Event], int]:
    """Events of a journal and the length of its valid prefix (a torn tail is excluded)."""
    events: list[Event] = []
    offset = 0
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        is_last = index == len(lines) - 1
        if is_last and not line:
            break
        ok = len(line) > 9 and line[8:9] == b" "
        if ok:
            try:
                ok = int(line[:8], 16) == zlib.crc32(line[9:])
            except ValueError:
                ok = False
        if not ok or is_last:  # is_last here means no trailing newline: torn
            if index >= len(lines) - 2:
                break  # the last record: torn by a crash, dropped
            raise CorruptCheckpoint(
                f"{path}: record {index + 1} (byte {offset}) fails its checksum and is not "
                "the last one; the file was damaged after it was written. Move the study "
                "folder aside to start without it."
            )
        try:
            events.append(json.loads(line[9:]))
        except (ValueError, RecursionError) as exc:  # a checksum collision, or not ours
            raise CorruptCheckpoint(f"{path}: record {index + 1} is not JSON: {exc}") from exc
        offset += len(line) + 1
    return events, offset


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write and fsync a new file (the caller fsyncs its folder); `data` may come in
    chunks, written as they are produced."""
    with open(path, "xb") as f:
        for chunk in [data] if isinstance(data, bytes) else data:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """temp file, fsync, rename, fsync of the folder: the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def read_regular(path: Path) -> bytes:
    """A regular file's bytes; a directory, device or symlink is not a checkpoint file."""
    if path.is_symlink() or not path.is_file():
        raise OSError(f"{path} is not a regular file")
    return path.read_bytes()


def journal_number(name: str) -> int | None:
    """0 for the first journal, n for `journal-<n>.log`, None for anything else."""
    if name == JOURNAL:
        return 0
    match = NUMBERED_JOURNAL.match(name)
    return int(match.group(1)) if match else None


def journal_name(number: int) -> str:
    return JOURNAL if number == 0 else f"journal-{number:08d}.log"


class Journal:
    """An append-only, group-committed, checksummed event log."""

    def __init__(
        self,
        path: Path,
        durable_size: int,
        on_fsync: Callable[[float], None] | None = None,
        spans: Spans = NO_SPANS,
    ) -> None:
        self._path = path
        self._on_fsync = on_fsync  # observes each fsync's duration (metrics)
        self._spans = spans  # a span per group commit, in the call that writes it (tracing)
        # A raw descriptor, no userspace buffer: after a failed write nothing is left
        # behind that a later flush or close could write.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._appended = 0  # sequence number of the last appended record
        self._durable = 0  # sequence number of the last record known to be on disk
        self._durable_size = durable_size
        self._flushing = False
        self._failure: StorageFailure | None = None
        self.bytes_written = 0

    def append(self, events: list[Event]) -> Durable:
        """Queue records in order; returns a call that blocks until they are on disk."""
        records = [encode_record(e) for e in events]
        with self._cond:
            if self._failure is not None:
                raise self._failure
            self._pending.extend(records)
            self._appended += len(records)
            seq = self._appended
        return lambda: self.wait(seq)

    @property
    def path(self) -> Path:
        return self._path

    def moved(self, path: Path) -> None:
        """The file was renamed with its folder (a soft delete or an undelete): the open
        descriptor follows it; this is only the name used from now on."""
        with self._cond:
            self._path = path

    def flush(self) -> None:
        """Return once every record appended so far is on disk."""
        with self._cond:
            seq = self._appended
        self.wait(seq)

    def wait(self, seq: int) -> None:
        """Return once record `seq` is on disk; one waiting writer flushes for all."""
        with self._cond:
            while self._durable < seq:
                if self._failure is not None:
                    raise self._failure
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
                batch, target = b"".join(self._pending), self._appended
                records = target - self._durable
                self._pending.clear()
                fd = self._fd
                self._cond.release()
                try:
                    attributes = {
                        "sanas.journal.bytes": len(batch),
                        "sanas.journal.records": records,
                    }
                    with self._spans.span(JOURNAL_FSYNC, attributes) as span:
                        error = self._write(fd, batch)
                        if error is not None:
                            span.set_attribute("error.type", type(error).__name__)
                finally:
                    self._cond.acquire()
                    self._flushing = False
                if error is None:
                    self._durable = target
                    self._durable_size += len(batch)
                    self.bytes_written += len(batch)
                else:
                    self._failure = error
                self._cond.notify_all()

    def _write(self, fd: int, batch: bytes) -> StorageFailure | None:
        try:
            view = memoryview(batch)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view) :]
            started = time.perf_counter()
            os.fsync(fd)
            if self._on_fsync is not None:
                self._on_fsync(time.perf_counter() - started)
            return None
        except (OSError, ValueError) as exc:  # ValueError: a closed (negative) descriptor
            # Cut what may have reached the file so the journal holds only acknowledged
            # records; the caller reloads the study from disk.
            try:
                os.ftruncate(fd, self._durable_size)
                os.fsync(fd)
            except OSError as cut:
                # The reload that follows still reads only checksummed records.
                log.warning("cutting %s after a failed write failed too: %s", self._path, cut)
            return StorageFailure(f"writing checkpoint {self._path} failed: {exc}")

    def close(self) -> None:
        """Fail every later append and wait; a flush already writing finishes first, so
        the descriptor is never closed under it."""
        with self._cond:
            if self._failure is None:
                self._failure = StorageFailure(f"journal {self._path} is closed")
            while self._flushing:
                self._cond.wait()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._cond.notify_all()


@dataclass(frozen=True)
class Rotation:
    """A snapshot in progress: the journal that continues after the captured state."""

    number: int
    name: str


class Storage(Protocol):
    """What the controller needs from a storage backend. Studies are addressed by the
    key `create` returns (one per study instance)."""

    def keys(self) -> list[str]: ...
    def load(self, key: str) -> tuple[dict[str, Any], list[Event]]: ...
    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> str: ...
    def append(self, key: str, events: list[Event]) -> Durable: ...
    def rotate(self, key: str) -> Rotation: ...
    def write_snapshot(self, key: str, rotation: Rotation, event: Event) -> None: ...
    def delete(self, key: str) -> Callable[[], None]: ...
    # Soft deletes: `soft_delete` keeps the study whole with its `deletion` record (a
    # JSON object) and is durable when it returns; `undelete` makes it live again;
    # `deletion` is a soft-deleted study's record, None for a live one. `delete`
    # purges a study either way. A soft-deleted study takes no appends from the
    # controller, but its journal stays open, so an undelete needs no reload.
    def soft_delete(self, key: str, deletion: dict[str, Any]) -> None: ...
    def undelete(self, key: str) -> None: ...
    def deletion(self, key: str) -> dict[str, Any] | None: ...
    def probe(self) -> None: ...
    def close(self) -> None: ...


def study_id_of_key(key: str) -> str:
    return key.split("@", 1)[0]


def new_key(study_id: str) -> str:
    return f"{study_id}@{uuid.uuid4().hex[:12]}"


def _already_durable() -> None:
    return None


class MemoryStorage:
    """Keeps everything in memory: for `save_checkpoint=None` and for tests."""

    def __init__(self) -> None:
        self._studies: dict[str, tuple[dict[str, Any], list[Event]]] = {}
        self._deletions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._studies)

    def load(self, key: str) -> tuple[dict[str, Any], list[Event]]:
        with self._lock:
            if key not in self._studies:
                raise CorruptCheckpoint(f"no study {key!r} in memory")
            header, events = self._studies[key]
            return header, list(events)

    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> str:
        key = new_key(study_id)
        with self._lock:
            self._studies[key] = (header, list(events))
        return key

    def append(self, key: str, events: list[Event]) -> Durable:
        with self._lock:
            if key not in self._studies:
                raise StorageFailure(f"study {key!r} is deleted")
            self._studies[key][1].extend(events)
        return _already_durable

    def rotate(self, key: str) -> Rotation:
        with self._lock:
            return Rotation(len(self._studies[key][1]), "")

    def write_snapshot(self, key: str, rotation: Rotation, event: Event) -> None:
        with self._lock:
            if key not in self._studies:
                raise StorageFailure(f"study {key!r} is deleted")
            header, events = self._studies[key]
            self._studies[key] = (header, [event, *events[rotation.number :]])

    def delete(self, key: str) -> Callable[[], None]:
        with self._lock:
            self._studies.pop(key, None)
            self._deletions.pop(key, None)
        return _already_durable

    def soft_delete(self, key: str, deletion: dict[str, Any]) -> None:
        with self._lock:
            if key not in self._studies:
                raise StorageFailure(f"study {key!r} is deleted")
            self._deletions[key] = dict(deletion)

    def undelete(self, key: str) -> None:
        with self._lock:
            if key not in self._studies:
                raise StorageFailure(f"study {key!r} is deleted")
            self._deletions.pop(key, None)

    def deletion(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._deletions.get(key)
            return None if found is None else dict(found)

    def probe(self) -> None:
        return None

    def close(self) -> None:
        return None


class FileStorage:
    """`<root>/studies/<key>/{study.json, journal*.log, snapshot.json}`; soft-deleted
    studies in `<root>/deleted/<key>/`, the same files and a `deletion.json`."""

    def __init__(
        self,
        root: Path | str,
        on_fsync: Callable[[float], None] | None = None,
        spans: Spans = NO_SPANS,
    ) -> None:
        self.root = Path(root)
        self._on_fsync = on_fsync
        self._spans = spans
        self._studies_dir = self.root / "studies"
        self._studies_dir.mkdir(parents=True, exist_ok=True)
        self._deleted_dir = self.root / DELETED
        self._lock_fd = self._take_folder_lock()
        self._journals: dict[str, Journal] = {}
        self._lock = threading.Lock()
        # Keys whose folder is in deleted/ (guarded by _lock; changed under the folder's
        # lock too, so a reader holding that lock sees the folder where it is).
        self._deleted: set[str] = set(self._folders(self._deleted_dir))
        # One per study folder: a snapshot written outside the study's lock and a reload
        # (under it) never change the folder's files at the same time.
        self._folder_locks: dict[str, threading.Lock] = {}
        self._retired_bytes = 0  # written by journals and snapshots no longer open
        self._remove_leftovers()

    def _folder_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._folder_locks.setdefault(key, threading.Lock())

    def _take_folder_lock(self) -> int:
        path = self.root / LOCK
        try:
            # No symlink: the holder's pid is written into this file.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise CheckpointInUse(
                f"cannot take the lock {path}: {exc}; it must be a regular file (remove it)"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CheckpointInUse(
                f"checkpoint folder {self.root} is in use by another sanas-server ({holder}); "
                "stop that server first, or give this one another --checkpoint-dir"
            ) from None
        except OSError:
            os.close(fd)
            raise
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.ftruncate(fd, 0)
        holder = f"pid {os.getpid()} on host {socket.gethostname()} since {stamp}\n"
        os.pwrite(fd, holder.encode(), 0)
        return fd

    def _remove_leftovers(self) -> None:
        """Folders a crash left mid-delete or mid-create: never a study, removed at start."""
        for entry in self._studies_dir.iterdir():
            if entry.name.startswith((".deleted-", ".creating-")):
                shutil.rmtree(entry, ignore_errors=True)
                log.info("removed %s, left by an interrupted delete or create", entry)

    @property
    def bytes_written(self) -> int:
        """Checkpoint bytes written since this storage was opened (journals, snapshots)."""
        with self._lock:
            return self._retired_bytes + sum(j.bytes_written for j in self._journals.values())

    def _dir(self, key: str) -> Path:
        with self._lock:
            deleted = key in self._deleted
        return (self._deleted_dir if deleted else self._studies_dir) / key

    @staticmethod
    def _folders(parent: Path) -> list[str]:
        if not parent.is_dir():
            return []
        return [e.name for e in parent.iterdir() if e.is_dir() and not e.name.startswith(".")]

    def keys(self) -> list[str]:
        """Every study instance's key, live and soft-deleted (`deletion` tells which)."""
        return sorted(self._folders(self._studies_dir) + self._folders(self._deleted_dir))

    def load(self, key: str) -> tuple[dict[str, Any], list[Event]]:
        """A study's header and events. Anything unreadable (damage, a file of the wrong
        kind, a crafted name) is CorruptCheckpoint, and nothing is deleted before the
        whole chain has been checked."""
        with self._folder_lock(key):
            try:
                return self._load(key)
            except OSError as exc:
                raise CorruptCheckpoint(f"{self._dir(key)}: cannot be read: {exc}") from exc

    def _load(self, key: str) -> tuple[dict[str, Any], list[Event]]:
        folder = self._dir(key)
        try:
            header = json.loads(read_regular(folder / HEADER))
        except (OSError, ValueError, RecursionError) as exc:
            raise CorruptCheckpoint(f"{folder / HEADER}: cannot be read: {exc}") from exc
        if not isinstance(header, dict):
            raise CorruptCheckpoint(f"{folder / HEADER}: not a study header")
        try:
            # A newer release's study is refused before any of its files is touched (no
            # torn tail cut, no journal removed): its journals may follow other rules.
            check_format(header)
        except NewerFormat as exc:
            raise NewerFormat(f"{folder / HEADER}: {exc}") from None
        except ValueError as exc:
            raise CorruptCheckpoint(f"{folder / HEADER}: {exc}") from exc
        events: list[Event] = []
        first = JOURNAL
        snapshot_path = folder / SNAPSHOT
        if snapshot_path.exists():
            try:
                snapshot = read_snapshot(snapshot_path)
                first = snapshot["journal"]
                events.append(snapshot["event"])
            except (OSError, ValueError, RecursionError, KeyError, TypeError) as exc:
                raise CorruptCheckpoint(f"{snapshot_path}: cannot be read: {exc!r}") from exc
            if not isinstance(first, str) or not (
                journal_number(first) is not None or LEGACY_JOURNAL.match(first)
            ):
                raise CorruptCheckpoint(f"{snapshot_path} names {first!r}, which is not a journal")
        chain, stale = self._chain(folder, first)
        datas = []
        for index, path in enumerate(chain):
            data = read_regular(path)
            journal_events, valid = decode_records(data, path)
            if valid != len(data) and index != len(chain) - 1:
                raise CorruptCheckpoint(
                    f"{path}: torn record at byte {valid} before the journal that follows it"
                )
            events += journal_events
            datas.append((path, data, valid))
        # Everything is readable: only now change files.
        path, data, valid = datas[-1]
        if valid != len(data):
            log.warning(
                "%s: dropped its last record at byte %d (%d bytes) that fails its checksum: "
                "a crash during its write (never acknowledged), or damage to the file's end",
                path,
                valid,
                len(data) - valid,
            )
            with open(path, "r+b") as f:  # cut it before appending after it
                f.truncate(valid)
                os.fsync(f.fileno())
        for old in stale:
            old.unlink(missing_ok=True)
        for tmp in folder.glob(".*.tmp"):  # a crash in the middle of write_atomically
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
        if folder.parent == self._studies_dir and (folder / DELETION).is_file():
            # A soft delete that crashed before its move (never acknowledged), or an
            # undelete after it: the folder is live, the record means nothing.
            (folder / DELETION).unlink(missing_ok=True)
        with self._lock:
            old_journal = self._journals.pop(key, None)
            if old_journal is not None:
                old_journal.close()
            self._journals[key] = Journal(chain[-1], valid, self._on_fsync, self._spans)
        return header, events

    @staticmethod
    def _chain(folder: Path, first: str) -> tuple[list[Path], list[Path]]:
        """The journals to replay after the snapshot (or from the start), in order, and
        the journals a snapshot replaced (left by a crash after it was written). Files
        that are not journals of this format are never touched."""
        base = journal_number(first) or 0  # an older version's journal name counts as 0
        if not (folder / first).exists():
            raise CorruptCheckpoint(
                f"{folder / first} is missing: the study's results cannot be read. Move the "
                "study folder aside (or delete the study) to start without it."
            )
        later: list[tuple[int, Path]] = []
        stale: list[Path] = []
        for path in folder.glob("journal*.log"):
            number = journal_number(path.name)
            if path.name == first:
                continue
            if number is not None and number > base:
                later.append((number, path))
            elif number is not None or LEGACY_JOURNAL.match(path.name):
                stale.append(path)
        return [folder / first, *(p for _, p in sorted(later))], stale

    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> str:
        """Build the folder aside and rename it into place: a crash leaves a whole study
        or none. The journal exists (and its folder entry is durable) before any result
        can be acknowledged in it."""
        key = new_key(study_id)
        staging = self._studies_dir / f".creating-{key}"
        folder = self._dir(key)
        try:
            staging.mkdir()
            write_file(staging / JOURNAL, b"".join(encode_record(e) for e in events))
            write_file(staging / HEADER, json.dumps(header, indent=1).encode())
            fsync_dir(staging)
            os.rename(staging, folder)
            fsync_dir(self._studies_dir)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageFailure(f"creating checkpoint folder {folder} failed: {exc}") from exc
        size = (folder / JOURNAL).stat().st_size
        with self._lock:
            self._journals[key] = Journal(folder / JOURNAL, size, self._on_fsync, self._spans)
        return key

    def _journal(self, key: str) -> Journal:
        with self._lock:
            journal = self._journals.get(key)
        if journal is None:
            raise StorageFailure(f"study {key!r} has no open journal (deleted?)")
        return journal

    def append(self, key: str, events: list[Event]) -> Durable:
        return self._journal(key).append(events)

    def rotate(self, key: str) -> Rotation:
        """Continue the study in a new, empty journal. The caller holds the study's lock
        and has captured the state to snapshot: everything before it is flushed to the
        old journal, everything after goes to the new one."""
        old = self._journal(key)
        old.flush()
        folder = self._dir(key)
        number = (journal_number(old.path.name) or 0) + 1
        path = folder / journal_name(number)
        try:
            write_file(path, b"")
            fsync_dir(folder)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageFailure(f"starting journal {path} failed: {exc}") from exc
        with self._lock:
            self._journals[key] = Journal(path, 0, self._on_fsync, self._spans)
            self._retired_bytes += old.bytes_written
        old.close()
        return Rotation(number, path.name)

    def write_snapshot(self, key: str, rotation: Rotation, event: Event) -> None:
        """Write the state captured at `rotate` (no lock needed: only this call writes the
        snapshot), then drop the journals it replaces. The rows are serialized into a
        temporary file with no lock held; the folder's lock covers only the rename and
        the clean-up, so a reload of the study never waits for a serialization."""
        folder = self._dir(key)
        target = folder / SNAPSHOT
        tmp = folder / f".{SNAPSHOT}.{uuid.uuid4().hex}.tmp"
        written = 0

        def counted() -> Iterator[bytes]:
            nonlocal written
            for chunk in snapshot_chunks(rotation.name, event):
                written += len(chunk)
                yield chunk

        try:
            write_file(tmp, counted())
            with self._folder_lock(key):
                os.replace(tmp, target)
                for path in folder.glob("journal*.log"):
                    number = journal_number(path.name)
                    replaced = number is not None and number < rotation.number
                    if replaced or LEGACY_JOURNAL.match(path.name):
                        path.unlink(missing_ok=True)
                fsync_dir(folder)
        except OSError as exc:
            raise StorageFailure(f"writing snapshot {target} of {key!r} failed: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        with self._lock:
            self._retired_bytes += written

    def delete(self, key: str) -> Callable[[], None]:
        """Rename the folder out of the way (the delete is durable when this returns) and
        return the slow part, removing the files, for the caller to run unlocked. A
        soft-deleted study's folder goes the same way (a purge)."""
        with self._folder_lock(key):
            folder = self._dir(key)
            grave = self._studies_dir / f".deleted-{key}"
            try:
                os.rename(folder, grave)
                fsync_dir(self._studies_dir)
                if folder.parent != self._studies_dir:
                    fsync_dir(folder.parent)
            except OSError as exc:
                raise StorageFailure(f"deleting {folder} failed: {exc}") from exc
            with self._lock:
                self._deleted.discard(key)
                journal = self._journals.pop(key, None)
        if journal is not None:
            journal.close()
        return lambda: shutil.rmtree(grave, ignore_errors=True)

    def soft_delete(self, key: str, deletion: dict[str, Any]) -> None:
        """Write the study's `deletion.json` and move its folder into deleted/, with
        every file and folder entry on disk when this returns."""
        with self._folder_lock(key):
            folder = self._dir(key)
            target = self._deleted_dir / key
            if folder != self._studies_dir / key:
                raise StorageFailure(f"{folder} is not a live study's folder")
            try:
                write_atomically(folder / DELETION, json.dumps(deletion, indent=1).encode())
                if not self._deleted_dir.is_dir():
                    self._deleted_dir.mkdir()
                    fsync_dir(self.root)
                os.rename(folder, target)
                fsync_dir(self._deleted_dir)
                fsync_dir(self._studies_dir)
            except OSError as exc:
                if folder.is_dir():  # not moved: the record would mean nothing
                    (folder / DELETION).unlink(missing_ok=True)
                raise StorageFailure(f"soft-deleting {folder} failed: {exc}") from exc
            self._moved(key, target, deleted=True)

    def undelete(self, key: str) -> None:
        """Move a soft-deleted study's folder back into studies/ (durable when this
        returns), then drop its `deletion.json`."""
        with self._folder_lock(key):
            source = self._dir(key)
            folder = self._studies_dir / key
            if source != self._deleted_dir / key:
                raise StorageFailure(f"{source} is not a soft-deleted study's folder")
            try:
                os.rename(source, folder)
                fsync_dir(self._studies_dir)
                fsync_dir(self._deleted_dir)
            except OSError as exc:
                raise StorageFailure(f"undeleting {source} failed: {exc}") from exc
            self._moved(key, folder, deleted=False)
            try:
                (folder / DELETION).unlink(missing_ok=True)
                fsync_dir(folder)
            except OSError as exc:  # harmless: a live folder's record is removed at load
                log.warning("%s: cannot remove %s: %s", folder, DELETION, exc)

    def _moved(self, key: str, folder: Path, deleted: bool) -> None:
        with self._lock:
            if deleted:
                self._deleted.add(key)
            else:
                self._deleted.discard(key)
            journal = self._journals.get(key)
        if journal is not None:
            journal.moved(folder / journal.path.name)

    def deletion(self, key: str) -> dict[str, Any] | None:
        """A soft-deleted study's `deletion.json`; None for a live study. One that cannot
        be read is CorruptCheckpoint (the study is then listed as broken)."""
        with self._folder_lock(key):
            folder = self._dir(key)
            if folder.parent != self._deleted_dir:
                return None
            path = folder / DELETION
            try:
                data = json.loads(read_regular(path))
            except (OSError, ValueError, RecursionError) as exc:
                raise CorruptCheckpoint(f"{path}: cannot be read: {exc}") from exc
        if not isinstance(data, dict):
            raise CorruptCheckpoint(f"{path}: not a deletion record")
        return data

    def probe(self) -> None:
        """Write, fsync and remove a small file beside the studies: whether the folder
        takes writes now (the server's check while checkpoint writes fail)."""
        path = self.root / PROBE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, b"sanas write probe\n")
                os.fsync(fd)  # a full disk may accept the write and fail here
            finally:
                os.close(fd)
            path.unlink()
        except OSError as exc:
            raise StorageFailure(f"writing the probe {path} failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for journal in self._journals.values():
                journal.close()
            self._journals.clear()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the folder lock
            self._lock_fd = -1
