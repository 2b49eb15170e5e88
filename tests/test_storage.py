"""Storage backends: one contract run against both, then the journal's crash handling."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sanas_server import storage as storage_module
from sanas_server.errors import CheckpointInUse, CorruptCheckpoint, StorageFailure
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


def loaded(storage) -> dict[str, list]:
    return {storage.load(k)[0]["study_id"]: storage.load(k)[1] for k in storage.keys()}


def test_contract_create_append_load_delete(storage):
    a = storage.create("a", {"study_id": "a"}, [{"e": "x", "n": 0}])
    storage.create("b", {"study_id": "b"}, [])
    for n in range(1, 4):
        storage.append(a, [{"e": "x", "n": n}])()
    header, events = storage.load(a)
    assert header == {"study_id": "a"}
    assert [e["n"] for e in events] == [0, 1, 2, 3]
    assert sorted(loaded(storage)) == ["a", "b"]
    storage.delete(a)()
    assert sorted(loaded(storage)) == ["b"]


def test_contract_a_new_instance_of_an_id_is_a_new_key(storage):
    # A call still holding the old key can never write into the new study.
    old = storage.create("a", {"study_id": "a", "n": 1}, [])
    storage.delete(old)()
    new = storage.create("a", {"study_id": "a", "n": 2}, [])
    assert new != old
    with pytest.raises(StorageFailure):
        storage.append(old, [{"e": "stale"}])
    assert storage.load(new) == ({"study_id": "a", "n": 2}, [])


def test_contract_soft_delete_keeps_the_study_and_undelete_brings_it_back(storage):
    a = storage.create("a", {"study_id": "a"}, [{"n": 0}])
    storage.append(a, [{"n": 1}])()
    assert storage.deletion(a) is None
    storage.soft_delete(a, {"delete_time": 10.0, "expire_time": 20.0})
    assert storage.deletion(a) == {"delete_time": 10.0, "expire_time": 20.0}
    assert storage.keys() == [a]  # still listed: the controller keeps it, as deleted
    assert storage.load(a) == ({"study_id": "a"}, [{"n": 0}, {"n": 1}])
    storage.undelete(a)
    assert storage.deletion(a) is None
    storage.append(a, [{"n": 2}])()  # its journal was never closed
    assert [e["n"] for e in storage.load(a)[1]] == [0, 1, 2]


def test_contract_a_soft_deleted_study_is_purged_by_delete(storage):
    a = storage.create("a", {"study_id": "a"}, [{"n": 0}])
    storage.soft_delete(a, {"delete_time": 1.0, "expire_time": 2.0})
    storage.delete(a)()
    assert storage.keys() == []
    assert storage.deletion(a) is None
    with pytest.raises(StorageFailure):
        storage.append(a, [{"n": 1}])


def test_a_soft_deleted_folder_moves_to_deleted_and_back_and_survives_a_reopen(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [{"n": 0}])
    b = s.create("b", {"study_id": "b"}, [])
    s.soft_delete(a, {"delete_time": 1.5, "expire_time": 2.5})
    # Releases before soft deletes read studies/ only: they neither see nor remove it.
    assert sorted(p.name for p in (tmp_path / "studies").iterdir()) == [b]
    assert sorted(p.name for p in (tmp_path / "deleted" / a).iterdir()) == [
        "deletion.json",
        JOURNAL,
        "study.json",
    ]
    s.close()  # a restart (or a kill: every step was fsynced before soft_delete returned)
    s = FileStorage(tmp_path)
    assert s.keys() == sorted([a, b])
    assert s.deletion(a) == {"delete_time": 1.5, "expire_time": 2.5}
    assert s.load(a)[1] == [{"n": 0}]
    s.undelete(a)
    assert not (tmp_path / "deleted" / a).exists()
    assert sorted(p.name for p in (tmp_path / "studies" / a).iterdir()) == [JOURNAL, "study.json"]
    s.append(a, [{"n": 1}])()
    s.close()
    s = FileStorage(tmp_path)
    assert s.deletion(a) is None and [e["n"] for e in s.load(a)[1]] == [0, 1]
    s.close()


def test_a_deletion_record_left_in_a_live_folder_means_nothing(tmp_path):
    # A crash between writing deletion.json and moving the folder: the delete was never
    # acknowledged, so the study is live and the record is removed when it loads.
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [{"n": 0}])
    s.close()
    (tmp_path / "studies" / a / "deletion.json").write_text('{"delete_time": 1}')
    s = FileStorage(tmp_path)
    assert s.deletion(a) is None
    assert s.load(a)[1] == [{"n": 0}]
    assert not (tmp_path / "studies" / a / "deletion.json").exists()
    s.close()


def test_an_unreadable_deletion_record_is_a_corrupt_checkpoint(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [])
    s.soft_delete(a, {"delete_time": 1.0, "expire_time": 2.0})
    (tmp_path / "deleted" / a / "deletion.json").write_text("{torn")
    with pytest.raises(CorruptCheckpoint, match=r"deletion\.json"):
        s.deletion(a)
    s.close()


def test_contract_rotation_then_snapshot(storage):
    a = storage.create("a", {"study_id": "a"}, [{"n": 0}])
    rotation = storage.rotate(a)
    storage.append(a, [{"n": 1}])()  # after the captured state, before the snapshot
    storage.write_snapshot(a, rotation, {"e": "snapshot", "upto": 0})
    storage.append(a, [{"n": 2}])()
    assert storage.load(a)[1] == [{"e": "snapshot", "upto": 0}, {"n": 1}, {"n": 2}]


def test_reopened_file_storage_sees_everything_acknowledged(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [])
    for n in range(100):
        s.append(a, [{"n": n, "reward": n / 3}])()
    s.close()
    _, events = FileStorage(tmp_path).load(a)
    assert [e["reward"] for e in events] == [n / 3 for n in range(100)]  # exact floats


def test_torn_last_record_is_dropped_cut_and_logged(tmp_path, caplog):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [])
    s.append(a, [{"n": 1}, {"n": 2}])()
    s.close()
    path = tmp_path / "studies" / a / JOURNAL
    whole = path.read_bytes()
    with open(path, "ab") as f:
        f.write(encode_record({"n": 3})[:-5])  # a crash in the middle of a write
    s2 = FileStorage(tmp_path)
    _, events = s2.load(a)
    assert [e["n"] for e in events] == [1, 2]
    assert path.read_bytes() == whole  # cut, so the next append starts clean
    assert f"{path}: dropped its last record at byte {len(whole)}" in caplog.text
    s2.append(a, [{"n": 3}])()
    s2.close()
    assert [e["n"] for e in FileStorage(tmp_path).load(a)[1]] == [1, 2, 3]


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


def test_a_second_storage_on_the_folder_is_refused_and_named(tmp_path):
    first = FileStorage(tmp_path)
    holder = rf"in use by another sanas-server \(pid {os.getpid()} on host"
    with pytest.raises(CheckpointInUse, match=holder):
        FileStorage(tmp_path)
    first.close()
    FileStorage(tmp_path).close()  # released by close (and by the kernel on kill -9)


def test_the_journal_is_durable_in_its_folder_before_create_returns(tmp_path, monkeypatch):
    synced: list[tuple[str, ...]] = []
    real = storage_module.fsync_dir
    monkeypatch.setattr(
        storage_module,
        "fsync_dir",
        lambda path: (synced.append(tuple(sorted(p.name for p in path.iterdir()))), real(path)),
    )
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [])
    # The study folder was fsynced holding both files, then renamed into place and the
    # studies folder fsynced: the first acknowledged result lands in a durable file.
    assert (JOURNAL, "study.json") in synced
    assert synced[-1] == (a,)
    s.close()


def test_a_missing_journal_is_a_broken_study_not_an_empty_one(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [{"n": 1}])
    s.close()
    (tmp_path / "studies" / a / JOURNAL).unlink()
    s = FileStorage(tmp_path)
    with pytest.raises(CorruptCheckpoint, match=r"journal\.log is missing"):
        s.load(a)
    s.close()


def test_leftovers_of_interrupted_deletes_and_creates_are_removed(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [])
    s.close()
    studies = tmp_path / "studies"
    os.rename(studies / a, studies / f".deleted-{a}")  # a crash right after the rename
    (studies / ".creating-b@123").mkdir()
    (studies / ".creating-b@123" / JOURNAL).write_bytes(b"")
    s = FileStorage(tmp_path)
    assert sorted(p.name for p in studies.iterdir()) == []
    assert s.keys() == []
    s.close()


def test_a_crash_after_rotation_before_the_snapshot_keeps_the_new_journal(tmp_path):
    s = FileStorage(tmp_path)
    a = s.create("a", {"study_id": "a"}, [{"n": 0}])
    s.rotate(a)
    s.append(a, [{"n": 1}])()  # acknowledged in the new journal; no snapshot names it yet
    s.close()  # the crash
    s = FileStorage(tmp_path)
    assert [e["n"] for e in s.load(a)[1]] == [0, 1]
    s.append(a, [{"n": 2}])()
    s.close()
    assert [e["n"] for e in FileStorage(tmp_path).load(a)[1]] == [0, 1, 2]


def test_close_waits_for_a_flush_in_progress(tmp_path, monkeypatch):
    # DeleteStudy closing a journal while another thread fsyncs it once gave
    # os.fsync(-1) -> ValueError -> UNKNOWN. The descriptor now outlives the flush.
    journal = Journal(tmp_path / JOURNAL, 0)
    entered, release = threading.Event(), threading.Event()
    real = os.fsync

    def slow_fsync(fd: int) -> None:
        entered.set()
        release.wait(5)
        real(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    wait = journal.append([{"n": 0}])
    outcome: list[object] = []
    writer = threading.Thread(target=lambda: outcome.append(wait()))
    writer.start()
    assert entered.wait(5)
    closer = threading.Thread(target=journal.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # waits for the fsync under way
    release.set()
    writer.join(5)
    closer.join(5)
    assert outcome == [None]  # the record in flight was written, not failed
    with pytest.raises(StorageFailure, match="closed"):
        journal.append([{"n": 1}])
