"""Durable study storage: one folder per study with an atomically written header and an
append-only journal of events. No gRPC, no annealing: bytes, files and fsync.

Journal format: one record per line, `<crc32 of payload, 8 hex digits> <json payload>\\n`.
A torn last record (crash mid-write) is detected by its checksum or missing newline and
cut off on open; a bad record anywhere else stops the start with CorruptCheckpoint.
Appends are group-committed: concurrent writers share one write + fsync, and a writer
returns only when its own record is on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from .errors import CorruptCheckpoint, StorageFailure

HEADER = "study.json"
JOURNAL = "journal.log"  # the journal of a study that has no snapshot yet
SNAPSHOT = "snapshot.json"
Event = dict[str, Any]
# Blocks until the appended events are durable; raises StorageFailure if they never are.
Durable = Callable[[], None]


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
        events.append(json.loads(line[9:]))
        offset += len(line) + 1
    return events, offset


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """temp file, fsync, rename, fsync of the folder: the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


class Journal:
    """An append-only, group-committed, checksummed event log."""

    def __init__(
        self, path: Path, durable_size: int, on_fsync: Callable[[float], None] | None = None
    ) -> None:
        self._path = path
        self._on_fsync = on_fsync  # observes each fsync's duration (metrics)
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
                self._pending.clear()
                self._cond.release()
                try:
                    error = self._write(batch)
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

    def _write(self, batch: bytes) -> StorageFailure | None:
        try:
            view = memoryview(batch)
            while view:  # os.write may write less than asked
                view = view[os.write(self._fd, view) :]
            started = time.perf_counter()
            os.fsync(self._fd)
            if self._on_fsync is not None:
                self._on_fsync(time.perf_counter() - started)
            return None
        except OSError as exc:  # EBADF too, when written after close()
            # Cut what may have reached the file so the journal holds only acknowledged
            # records; the caller reloads the study from disk.
            try:
                os.ftruncate(self._fd, self._durable_size)
                os.fsync(self._fd)
            except OSError:
                pass  # the reload that follows still reads only checksummed records
            return StorageFailure(f"writing checkpoint {self._path} failed: {exc}")

    def close(self) -> None:
        with self._cond:
            if self._failure is None:
                self._failure = StorageFailure(f"journal {self._path} is closed")
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._cond.notify_all()


class Storage(Protocol):
    """What the controller needs from a storage backend."""

    def load_all(self) -> Iterator[tuple[dict[str, Any], list[Event]]]: ...
    def load(self, study_id: str) -> tuple[dict[str, Any], list[Event]]: ...
    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> None: ...
    def append(self, study_id: str, events: list[Event]) -> Durable: ...
    def snapshot(self, study_id: str, event: Event) -> None: ...
    def delete(self, study_id: str) -> None: ...
    def close(self) -> None: ...


def _already_durable() -> None:
    return None


class MemoryStorage:
    """Keeps everything in memory: for `save_checkpoint=None` and for tests."""

    def __init__(self) -> None:
        self._studies: dict[str, tuple[dict[str, Any], list[Event]]] = {}
        self._lock = threading.Lock()

    def load_all(self) -> Iterator[tuple[dict[str, Any], list[Event]]]:
        with self._lock:
            items = list(self._studies.values())
        for header, events in items:
            yield header, list(events)

    def load(self, study_id: str) -> tuple[dict[str, Any], list[Event]]:
        with self._lock:
            header, events = self._studies[study_id]
            return header, list(events)

    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> None:
        with self._lock:
            self._studies[study_id] = (header, list(events))

    def append(self, study_id: str, events: list[Event]) -> Durable:
        with self._lock:
            self._studies[study_id][1].extend(events)
        return _already_durable

    def snapshot(self, study_id: str, event: Event) -> None:
        with self._lock:
            header, _ = self._studies[study_id]
            self._studies[study_id] = (header, [event])

    def delete(self, study_id: str) -> None:
        with self._lock:
            self._studies.pop(study_id, None)

    def close(self) -> None:
        return None


class FileStorage:
    """`<root>/studies/<study_id>/{study.json, journal.log}`."""

    def __init__(self, root: Path | str, on_fsync: Callable[[float], None] | None = None) -> None:
        self.root = Path(root)
        self._on_fsync = on_fsync
        self._studies_dir = self.root / "studies"
        self._studies_dir.mkdir(parents=True, exist_ok=True)
        self._journals: dict[str, Journal] = {}
        self._lock = threading.Lock()
        self._retired_bytes = 0  # written by journals and snapshots no longer open

    @property
    def bytes_written(self) -> int:
        """Checkpoint bytes written since this storage was opened (journals, snapshots)."""
        with self._lock:
            return self._retired_bytes + sum(j.bytes_written for j in self._journals.values())

    def _dir(self, study_id: str) -> Path:
        return self._studies_dir / study_id

    def load_all(self) -> Iterator[tuple[dict[str, Any], list[Event]]]:
        for entry in sorted(self._studies_dir.iterdir()):
            if entry.is_dir() and not entry.name.startswith(".") and (entry / HEADER).exists():
                yield self.load(entry.name)

    def load(self, study_id: str) -> tuple[dict[str, Any], list[Event]]:
        folder = self._dir(study_id)
        try:
            header = json.loads((folder / HEADER).read_bytes())
        except (OSError, ValueError) as exc:
            raise CorruptCheckpoint(f"{folder / HEADER}: cannot be read: {exc}") from exc
        snapshot_path = folder / SNAPSHOT
        events: list[Event] = []
        journal_name = JOURNAL
        if snapshot_path.exists():
            try:
                snapshot = json.loads(snapshot_path.read_bytes())
            except (OSError, ValueError) as exc:
                raise CorruptCheckpoint(f"{snapshot_path}: cannot be read: {exc}") from exc
            journal_name = snapshot["journal"]
            events.append(snapshot["event"])
        # A snapshot interrupted by a crash may leave a journal nothing points to.
        for stray in folder.glob("journal*.log"):
            if stray.name != journal_name:
                stray.unlink()
        path = folder / journal_name
        data = path.read_bytes() if path.exists() else b""
        journal_events, valid = decode_records(data, path)
        events += journal_events
        if valid != len(data):
            with open(path, "r+b") as f:  # drop the torn tail before appending after it
                f.truncate(valid)
                os.fsync(f.fileno())
        with self._lock:
            old = self._journals.pop(study_id, None)
            if old is not None:
                old.close()
            self._journals[study_id] = Journal(path, valid, self._on_fsync)
        return header, events

    def create(self, study_id: str, header: dict[str, Any], events: list[Event]) -> None:
        folder = self._dir(study_id)
        try:
            folder.mkdir()
            if events:
                write_atomically(folder / JOURNAL, b"".join(encode_record(e) for e in events))
            write_atomically(folder / HEADER, json.dumps(header, indent=1).encode())
            fsync_dir(self._studies_dir)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise StorageFailure(f"creating checkpoint folder {folder} failed: {exc}") from exc
        size = (folder / JOURNAL).stat().st_size if events else 0
        with self._lock:
            self._journals[study_id] = Journal(folder / JOURNAL, size, self._on_fsync)

    def append(self, study_id: str, events: list[Event]) -> Durable:
        with self._lock:
            journal = self._journals.get(study_id)
        if journal is None:
            raise StorageFailure(f"study {study_id!r} has no open journal (deleted?)")
        return journal.append(events)

    def snapshot(self, study_id: str, event: Event) -> None:
        """Write the study's whole state and continue in a fresh journal.

        The caller holds the study's lock, so nothing is appended meanwhile. Order: flush
        the journal; create the new, empty journal; write the snapshot naming it (temp
        file, fsync, rename); switch; delete the old journal. A crash at any point leaves
        either the old snapshot + old journal or the new snapshot + new journal.
        """
        folder = self._dir(study_id)
        with self._lock:
            old = self._journals[study_id]
        old.flush()
        new_path = folder / f"journal-{uuid.uuid4().hex[:12]}.log"
        old_path = old.path
        tmp = folder / f".{SNAPSHOT}.{uuid.uuid4().hex}.tmp"
        try:
            os.close(os.open(new_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            data = json.dumps({"journal": new_path.name, "event": event}).encode()
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, folder / SNAPSHOT)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            new_path.unlink(missing_ok=True)
            raise StorageFailure(f"writing snapshot of {study_id!r} failed: {exc}") from exc
        # The rename is done: from here on the new journal is the one to write.
        with self._lock:
            self._journals[study_id] = Journal(new_path, 0, self._on_fsync)
            self._retired_bytes += old.bytes_written + len(data)
        old.close()
        try:
            fsync_dir(folder)
            old_path.unlink()
            fsync_dir(folder)
        except OSError as exc:
            raise StorageFailure(f"finishing snapshot of {study_id!r} failed: {exc}") from exc

    def delete(self, study_id: str) -> None:
        folder = self._dir(study_id)
        with self._lock:
            journal = self._journals.pop(study_id, None)
        if journal is not None:
            journal.close()
        # Rename first so a crash mid-delete never leaves a half study that loads.
        grave = self._studies_dir / f".deleted-{study_id}-{uuid.uuid4().hex}"
        try:
            os.replace(folder, grave)
            fsync_dir(self._studies_dir)
        except OSError as exc:
            raise StorageFailure(f"deleting {folder} failed: {exc}") from exc
        shutil.rmtree(grave, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for journal in self._journals.values():
                journal.close()
            self._journals.clear()
