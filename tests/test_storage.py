"""Storage backends: one contract run against both, then the journal's crash handling."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sanas_server.errors import CorruptCheckpoint, StorageFailure
from sanas_server.storage import (
    JOURNAL,
    FileStorage,
    Journal,
    MemoryStorage,
    decode_records,
    encode_record,
)


@pytest.fixture(params=["memory", "file"])
def storage(request: pytest.FixtureRequest, tmp_path: Path):
    s = MemoryStorage() if request.param == "memory" else FileStorage(tmp_path)
    yield s
    s.close()


def test_contract_create_append_load_delete(storage):
    storage.create("a", {"study_id": "a"}, [{"e": "x", "n": 0}])
    storage.create("b", {"study_id": "b"}, [])
    for n in range(1, 4):
        storage.append("a", [{"e": "x", "n": n}])()
    header, events = storage.load("a")
    assert header == {"study_id": "a"}
    assert [e["n"] for e in events] == [0, 1, 2, 3]
    assert sorted(h["study_id"] for h, _ in storage.load_all()) == ["a", "b"]
    storage.delete("a")
    assert [h["study_id"] for h, _ in storage.load_all()] == ["b"]


def test_reopened_file_storage_sees_everything_acknowledged(tmp_path):
    s = FileStorage(tmp_path)
    s.create("a", {"study_id": "a"}, [])
    for n in range(100):
        s.append("a", [{"n": n, "reward": n / 3}])()
    s.close()
    _, events = FileStorage(tmp_path).load("a")
    assert [e["reward"] for e in events] == [n / 3 for n in range(100)]  # exact floats


def test_torn_last_record_is_dropped_and_cut(tmp_path):
    s = FileStorage(tmp_path)
    s.create("a", {"study_id": "a"}, [])
    s.append("a", [{"n": 1}, {"n": 2}])()
    s.close()
    path = tmp_path / "studies" / "a" / JOURNAL
    whole = path.read_bytes()
    with open(path, "ab") as f:
        f.write(encode_record({"n": 3})[:-5])  # a crash in the middle of a write
    s2 = FileStorage(tmp_path)
    _, events = s2.load("a")
    assert [e["n"] for e in events] == [1, 2]
    assert path.read_bytes() == whole  # cut, so the next append starts clean
    s2.append("a", [{"n": 3}])()
    s2.close()
    assert [e["n"] for e in FileStorage(tmp_path).load("a")[1]] == [1, 2, 3]


def test_damage_before_the_last_record_stops_the_load(tmp_path):
    data = b"".join(encode_record({"n": n}) for n in range(3))
    damaged = data.replace(b'"n":1', b'"n":7')
    with pytest.raises(CorruptCheckpoint, match="record 2"):
        decode_records(damaged, Path("j"))


def test_concurrent_appends_share_one_fsync(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    journal = Journal(tmp_path / JOURNAL, 0)
    waits = [journal.append([{"n": n}]) for n in range(16)]
    threads = [threading.Thread(target=w) for w in waits]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1  # all 16 queued records went out in one group commit
    events, _ = decode_records((tmp_path / JOURNAL).read_bytes(), tmp_path)
    assert [e["n"] for e in events] == list(range(16))


def test_failed_write_truncates_and_fails_every_waiter(tmp_path, monkeypatch):
    journal = Journal(tmp_path / JOURNAL, 0)
    journal.append([{"n": 0}])()
    good = (tmp_path / JOURNAL).read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    wait = journal.append([{"n": 1}])
    with pytest.raises(StorageFailure, match="No space left"):
        wait()
    monkeypatch.undo()
    assert (tmp_path / JOURNAL).read_bytes() == good
    with pytest.raises(StorageFailure):
        journal.append([{"n": 2}])
