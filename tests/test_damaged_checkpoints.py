"""Damaged or crafted checkpoint folders: the server starts, serves the other studies,
reports the bad one precisely, and never deletes or writes a file that is not its own.
Also: failed writes racing snapshots written outside the study lock lose nothing."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import threading
import time

import pytest
from test_controller import request

from sanas_server import errors
from sanas_server import storage as storage_module
from sanas_server.controller import BrokenStudy, Controller
from sanas_server.storage import JOURNAL, SNAPSHOT, FileStorage


def two_studies(root) -> dict[str, object]:
    c = Controller(FileStorage(root), snapshot_every=10**9)
    for study_id in ("good", "victim"):
        c.create_study(study_id, request(seed=1, search_steps=10))
        t = c.suggest_trial(study_id, "w")
        c.complete_trial(study_id, t.trial_id, 0.5, False)
    c.close()
    return {p.name.split("@")[0]: p for p in (root / "studies").iterdir()}


def write_snapshot_naming(folder, journal) -> None:
    (folder / SNAPSHOT).write_text(json.dumps({"journal": journal, "event": {"e": "snapshot"}}))


CRAFTED = {
    "snapshot names study.json": lambda f, _: write_snapshot_naming(f, "study.json"),
    "snapshot names another study's journal": lambda f, folders: write_snapshot_naming(
        f, f"../{folders['good'].name}/{JOURNAL}"
    ),
    "snapshot journal is a number": lambda f, _: write_snapshot_naming(f, 5),
    "snapshot journal is null": lambda f, _: write_snapshot_naming(f, None),
    "header names another study": lambda f, _: (f / "study.json").write_text(
        (f / "study.json").read_text().replace('"victim"', '"good"')
    ),
    "header study_id is a number": lambda f, _: (f / "study.json").write_text(
        (f / "study.json").read_text().replace('"study_id": "victim"', '"study_id": 5')
    ),
    "journal.log is a directory": lambda f, _: (
        (f / JOURNAL).unlink(),
        (f / JOURNAL).mkdir(),
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_study_folder_is_broken_and_touches_nothing_else(tmp_path, case):
    folders = two_studies(tmp_path)
    victim, good = folders["victim"], folders["good"]
    CRAFTED[case](victim, folders)
    before = {
        p: p.read_bytes() for folder in (victim, good) for p in folder.iterdir() if p.is_file()
    }
    c = Controller(FileStorage(tmp_path))
    assert isinstance(c.get_study("victim"), BrokenStudy)
    with pytest.raises(errors.StudyBroken):
        c.suggest_trial("victim", "w")
    t = c.suggest_trial("good", "w")
    c.complete_trial("good", t.trial_id, 0.7, False)
    listed = {s.study_id: type(s).__name__ for s in c.list_studies(0, "")[0]}
    assert listed == {"good": "StudySummary", "victim": "BrokenStudy"}
    c.close()
    # The broken study's files are all still there, unchanged.
    assert {p: p.read_bytes() for p in before if p.parent == victim} == {
        p: b for p, b in before.items() if p.parent == victim
    }
    assert Controller(FileStorage(tmp_path)).get_study("good").counts  # loads again


def test_files_that_are_not_journals_of_this_format_are_never_deleted(tmp_path):
    folders = two_studies(tmp_path)
    backup = folders["victim"] / "journal-backup.log"
    shutil.copy(folders["victim"] / JOURNAL, backup)
    (folders["victim"] / "journal-old.log").mkdir()
    c = Controller(FileStorage(tmp_path))
    assert c.get_study("victim").counts  # served
    c.close()
    assert backup.exists() and (folders["victim"] / "journal-old.log").is_dir()


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    root = tmp_path / "ckpt"
    root.mkdir()
    (root / "sanas.lock").symlink_to(target)
    with pytest.raises(errors.CheckpointInUse, match="must be a regular file"):
        FileStorage(root)
    assert target.read_text() == "keep me"


def test_two_folders_claiming_one_study_are_broken_whichever_sorts_first(tmp_path):
    folders = two_studies(tmp_path)
    copy = folders["victim"].with_name("victim@000000000000")
    shutil.copytree(folders["victim"], copy)
    c = Controller(FileStorage(tmp_path))
    broken = c.get_study("victim")
    assert isinstance(broken, BrokenStudy) and len(broken.keys) == 2
    assert "2 folders claim study 'victim'" in broken.reason
    c.delete_study("victim")  # removes both
    assert sorted(p.name.split("@")[0] for p in (tmp_path / "studies").iterdir()) == ["good"]
    c.close()
    c = Controller(FileStorage(tmp_path))
    assert [s.study_id for s in c.list_studies(0, "")[0]] == ["good"]
    c.close()


def test_racing_deletes_of_a_broken_study_give_not_found(tmp_path):
    folders = two_studies(tmp_path)
    (folders["victim"] / JOURNAL).unlink()
    c = Controller(FileStorage(tmp_path))
    outcomes: list[str] = []

    def delete() -> None:
        try:
            c.delete_study("victim")
            outcomes.append("deleted")
        except errors.ControllerError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["StudyNotFound"] * 3 + ["deleted"]
    c.close()


def test_failed_writes_racing_snapshots_lose_nothing_and_answer_precisely(tmp_path, monkeypatch):
    rng = random.Random(3)
    real_write, real_open = os.write, os.open
    journal_fds: set[int] = set()
    failing = threading.Event()
    failing.set()

    def tracking_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if str(path).endswith(".log") and flags & os.O_APPEND:
            journal_fds.add(fd)
        return fd

    def flaky_write(fd, data):
        if failing.is_set() and fd in journal_fds and rng.random() < 0.15:
            real_write(fd, bytes(data)[: rng.randint(0, len(data))])  # partial, then full
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return real_write(fd, data)

    monkeypatch.setattr(storage_module.os, "open", tracking_open)
    monkeypatch.setattr(storage_module.os, "write", flaky_write)
    c = Controller(FileStorage(tmp_path), snapshot_every=2)
    c._snapshot_due = lambda entry: 2  # a snapshot after every other event
    c.create_study("s", request(table=(7,) * 6, search_steps=100_000, seed=1))
    acked: dict[int, float] = {}
    unexpected: list[str] = []
    deadline = time.monotonic() + 4.0

    def trainer(n: int) -> None:
        r = random.Random(n)
        for _ in range(100_000):  # bounded in count and time
            if time.monotonic() > deadline:
                return
            try:
                t = c.suggest_trial("s", f"w{n}")
                value = r.random()
                c.complete_trial("s", t.trial_id, value, False)
                acked[t.trial_id] = value
            except errors.StorageFailure:
                continue
            except Exception as exc:
                unexpected.append(repr(exc))
                return

    threads = [threading.Thread(target=trainer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    failing.clear()
    assert unexpected == []
    assert len(acked) > 20
    c.close()
    monkeypatch.undo()
    c = Controller(FileStorage(tmp_path))
    trials = c._entry("s").study.trials
    lost = [i for i, v in acked.items() if i >= len(trials) or trials[i].reward != v]
    assert lost == []
    c.close()
