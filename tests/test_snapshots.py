"""Snapshots bound replay: a restart loads the last snapshot and replays only the journal
written after it, and resumes exactly (random generator, move radius, pending kicks,
recombination hints and the reward spread included)."""

from __future__ import annotations

import os

import pytest
from test_controller import drive, request, reward_of

from sanas_server.controller import Controller
from sanas_server.storage import JOURNAL, SNAPSHOT, FileStorage, MemoryStorage
from sanas_server.study import TrialState


def study_folder(root):
    (folder,) = (root / "studies").glob("s@*")  # one folder per study instance
    return folder


def test_restart_after_snapshots_is_exact(tmp_path):
    reference = Controller(MemoryStorage())
    reference.create_study("s", request(table=(5, 5, 5), seed=8, search_steps=110))
    expected = drive(reference, "s", 110)

    c = Controller(FileStorage(tmp_path), snapshot_every=7)
    c.create_study("s", request(table=(5, 5, 5), seed=8, search_steps=110))
    got = drive(c, "s", 61)
    assert c._entry("s").study.annealer.best_reward == 0.0  # converged: kicks from now on
    c.close()
    folder = study_folder(tmp_path)
    journals = sorted(p.name for p in folder.glob("journal*.log"))
    assert (folder / SNAPSHOT).exists() and len(journals) == 1 and journals != [JOURNAL]
    resumed = Controller(FileStorage(tmp_path), snapshot_every=7)
    # 122 events were written; a restart replays only those after the last snapshot,
    # at most max(snapshot_every, trials) of them.
    assert resumed._entry("s").since_snapshot <= 61
    got += drive(resumed, "s", 49)
    assert got == expected
    a, b = reference.get_study("s"), resumed.get_study("s")
    assert (a.best_tokens, a.best_reward, a.current_tokens, a.temperature, a.counts) == (
        b.best_tokens,
        b.best_reward,
        b.current_tokens,
        b.temperature,
        b.counts,
    )


def test_request_ids_and_running_trials_survive_a_snapshot(tmp_path):
    c = Controller(FileStorage(tmp_path), snapshot_every=3)
    c.create_study("s", request(search_steps=20))
    held = c.suggest_trial("s", "a", request_id="held")
    drive(c, "s", 5)
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=3)
    again = resumed.suggest_trial("s", "a", request_id="held")
    assert again.trial_id == held.trial_id and again.tokens == held.tokens
    assert resumed.get_study("s").counts[TrialState.ACTIVE] == 1


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_contract_a_snapshot_replaces_the_history(kind, tmp_path):
    storage = MemoryStorage() if kind == "memory" else FileStorage(tmp_path)
    a = storage.create("a", {"study_id": "a"}, [])
    storage.append(a, [{"e": "x", "n": 1}, {"e": "x", "n": 2}])()
    storage.write_snapshot(a, storage.rotate(a), {"e": "snapshot", "n": 2})
    storage.append(a, [{"e": "x", "n": 3}])()
    _, events = storage.load(a)
    assert events == [{"e": "snapshot", "n": 2}, {"e": "x", "n": 3}]
    storage.close()


def test_a_snapshot_interrupted_by_a_crash_leaves_the_old_state(tmp_path):
    c = Controller(FileStorage(tmp_path), snapshot_every=10**9)
    c.create_study("s", request(seed=1))
    drive(c, "s", 4)
    c.close()
    # An earlier version's snapshot was interrupted by a crash after its new journal was
    # created, before the snapshot's rename: that journal holds nothing and goes.
    stray = study_folder(tmp_path) / "journal-0123456789ab.log"
    stray.write_bytes(b"")
    resumed = Controller(FileStorage(tmp_path))
    assert resumed.get_study("s").counts[TrialState.SUCCEEDED] == 4
    assert not stray.exists()


def test_a_failed_snapshot_loses_nothing(tmp_path, monkeypatch, caplog):
    c = Controller(FileStorage(tmp_path), snapshot_every=5)
    c.create_study("s", request(seed=1, search_steps=30))
    real_replace = os.replace

    def refuse(src, dst):
        if str(dst).endswith(SNAPSHOT):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    first = drive(c, "s", 6)
    assert "writing snapshot" in caplog.text
    monkeypatch.undo()
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=5)
    assert [t.tokens for t in resumed.list_trials("s", 100, "", None)[0]] == first


def drive_parallel(
    c: Controller, study_id: str, steps: int, held: list, seen: dict | None = None
) -> list[tuple[int, ...]]:
    """Eight trainers: results come back in an order that depends on the tokens, so
    results are late and the annealer records kicks, origins and hints."""
    out = []
    for _ in range(steps):
        while len(held) < 8:
            held.append(c.suggest_trial(study_id, "w"))
        held.sort(key=lambda t: (sum(t.tokens) * 7919 + t.trial_id) % 13)
        t = held.pop(0)
        c.complete_trial(study_id, t.trial_id, reward_of(t.tokens), False)
        out.append(t.tokens)
        if seen is not None:
            annealer = c._entry(study_id).study.annealer
            seen["kicks"] = seen.get("kicks", 0) + bool(annealer.kicks)
            seen["hints"] = seen.get("hints", 0) + bool(annealer.hints)
    return out


@pytest.mark.parametrize("snapshot_every", [5, 10**9])
def test_restart_with_eight_pending_trials_is_exact(tmp_path, snapshot_every):
    reference = Controller(MemoryStorage())
    reference.create_study("s", request(table=(6,) * 6, seed=6, search_steps=200))
    held: list = []
    exercised: dict = {}
    expected = drive_parallel(reference, "s", 150, held, exercised)
    # The run exercises what is being restored.
    assert exercised["kicks"] > 0 and exercised["hints"] > 0

    c = Controller(FileStorage(tmp_path), snapshot_every=snapshot_every)
    c.create_study("s", request(table=(6,) * 6, seed=6, search_steps=200))
    held = []
    got = drive_parallel(c, "s", 70, held)
    a = c._entry("s").study.annealer
    seen = (set(a.kicks), dict(a.origins), dict(a.hints), a.reward_stats, a.radius)
    assert len(a.origins) == len(held) == 7 and a.reward_stats[0] == 70
    c.close()
    resumed = Controller(FileStorage(tmp_path), snapshot_every=snapshot_every)
    b = resumed._entry("s").study.annealer
    assert (set(b.kicks), dict(b.origins), dict(b.hints), b.reward_stats, b.radius) == seen
    got += drive_parallel(resumed, "s", 80, held)
    assert got == expected
