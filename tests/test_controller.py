"""The controller without gRPC: studies, trials, replay, imports."""

from __future__ import annotations

import json
import math

import pytest

from sanas.spaces import SpaceConfig
from sanas_server import errors
from sanas_server.controller import Controller
from sanas_server.spec import StudyRequest
from sanas_server.storage import FileStorage, MemoryStorage
from sanas_server.trials import TrialState


def request(table=(9, 9, 9, 9, 9), **kw) -> StudyRequest:
    return StudyRequest(search_spaces=(SpaceConfig("custom", range_table=tuple(table)),), **kw)


def reward_of(tokens) -> float:
    return -float(sum((t - 4) ** 2 for t in tokens))


def drive(c: Controller, study_id: str, steps: int) -> list[tuple[int, ...]]:
    out = []
    for _ in range(steps):
        t = c.suggest_trial(study_id, "w")
        c.complete_trial(study_id, t.trial_id, reward_of(t.tokens), False)
        out.append(t.tokens)
    return out


def test_defaults_follow_the_document():
    c = Controller(MemoryStorage())
    s, created = c.create_study("a", request())
    assert created and s.spec.search_steps == 300 and s.spec.reduce_rate == 0.85
    assert s.spec.init_temperature == 10.0  # no init_tokens
    s2, _ = c.create_study("b", request(init_tokens=(1, 1, 1, 1, 1)))
    assert s2.spec.init_temperature == 1.0 and s2.current_tokens == (1, 1, 1, 1, 1)
    mnv2, _ = c.create_study("m", StudyRequest((SpaceConfig("MobileNetV2Space"),)))
    assert len(mnv2.spec.range_table) == 25 and mnv2.current_tokens[:5] == (4, 4, 5, 1, 0)


def test_create_is_idempotent_and_a_different_config_conflicts():
    c = Controller(MemoryStorage())
    first, created = c.create_study("a", request(seed=3))
    again, created_again = c.create_study("a", request(seed=3))
    assert created and not created_again and again.spec.seed == first.spec.seed
    with pytest.raises(errors.StudyExists, match="different config"):
        c.create_study("a", request(seed=3, search_steps=10))


def test_budget_is_shared_and_exhaustion_is_explicit():
    c = Controller(MemoryStorage())
    c.create_study("a", request(search_steps=5))
    drive(c, "a", 5)
    with pytest.raises(errors.BudgetExhausted, match="all 5 trials"):
        c.suggest_trial("a", "w")
    s = c.get_study("a")
    assert s.completed and s.budget_remaining == 0 and s.counts[TrialState.SUCCEEDED] == 5


def test_completion_rules():
    c = Controller(MemoryStorage())
    c.create_study("a", request())
    t = c.suggest_trial("a", "w")
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(errors.InvalidArgument, match="not a finite number"):
            c.complete_trial("a", t.trial_id, bad, False)
    assert c.get_study("a").counts[TrialState.ACTIVE] == 1  # nothing changed
    first = c.complete_trial("a", t.trial_id, 0.5, False)
    again = c.complete_trial("a", t.trial_id, 0.5, False)
    assert again.trial == first.trial
    with pytest.raises(errors.TrialAlreadyCompleted, match=r"reward 0\.5"):
        c.complete_trial("a", t.trial_id, 0.6, False)
    with pytest.raises(errors.TrialNotFound):
        c.complete_trial("a", 99, 0.1, False)
    with pytest.raises(errors.StudyNotFound):
        c.complete_trial("nope", 0, 0.1, False)


def test_suggest_next_gives_one_round_trip_steps():
    c = Controller(MemoryStorage())
    c.create_study("a", request(search_steps=3))
    t = c.suggest_trial("a", "w")
    seen = [t.trial_id]
    while True:
        done = c.complete_trial("a", t.trial_id, 0.0, False, suggest_next=True, client_id="w")
        if done.next_trial is None:
            break
        t = done.next_trial
        seen.append(t.trial_id)
    assert seen == [0, 1, 2] and done.budget_remaining == 0


def test_restart_resumes_exactly_including_the_random_generator(tmp_path):
    uninterrupted = Controller(MemoryStorage())
    uninterrupted.create_study("a", request(seed=42, search_steps=120))
    expected = drive(uninterrupted, "a", 120)

    c = Controller(FileStorage(tmp_path))
    c.create_study("a", request(seed=42, search_steps=120))
    got = drive(c, "a", 50)
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    got += drive(resumed, "a", 70)
    assert got == expected
    a, b = uninterrupted.get_study("a"), resumed.get_study("a")
    assert (a.best_tokens, a.best_reward, a.current_tokens, a.temperature) == (
        b.best_tokens,
        b.best_reward,
        b.current_tokens,
        b.temperature,
    )


def test_failed_write_leaves_memory_equal_to_disk(tmp_path, monkeypatch):
    import os

    c = Controller(FileStorage(tmp_path))
    c.create_study("a", request(seed=1))
    drive(c, "a", 3)
    before = c.get_study("a")
    t = c.suggest_trial("a", "w")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(errors.StorageFailure, match="No space left"):
        c.complete_trial("a", t.trial_id, 5.0, False)
    monkeypatch.undo()
    after = c.get_study("a")
    assert after.counts[TrialState.ACTIVE] == 1 and after.best_reward == before.best_reward
    # The controller keeps working once the disk is writable again.
    assert c.complete_trial("a", t.trial_id, 5.0, False).trial.reward == 5.0
    c.close()
    assert Controller(FileStorage(tmp_path)).get_study("a").best_reward == 5.0


def test_paging_of_trials_and_studies():
    c = Controller(MemoryStorage())
    for name in ("c", "a", "b"):
        c.create_study(name, request())
    page, token = c.list_studies(2, "")
    rest, end = c.list_studies(2, token)
    assert [s.study_id for s in page + rest] == ["a", "b", "c"] and end == ""
    drive(c, "a", 7)
    c.suggest_trial("a", "w")
    ids, token = [], ""
    while True:
        page, token, total = c.list_trials("a", 3, token, None)
        ids += [t.trial_id for t in page]
        if not token:
            break
    assert ids == list(range(8)) and total == 8
    active, token, total = c.list_trials("a", 3, "", TrialState.ACTIVE)
    assert [t.trial_id for t in active] == [7] and token == "" and total == 1
    with pytest.raises(errors.InvalidArgument, match="page_token"):
        c.list_trials("a", 3, "garbage!", None)


def test_a_purge_removes_the_study_and_its_files(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("a", request())
    assert c.delete_study("a", purge=True) is None
    with pytest.raises(errors.StudyNotFound):
        c.get_study("a")
    assert list((tmp_path / "studies").iterdir()) == []
    c.close()
    assert Controller(FileStorage(tmp_path)).list_studies(0, "", show_deleted=True)[0] == []


def test_a_soft_delete_refuses_trial_calls_and_an_undelete_restores_the_study_as_it_was():
    now = [1000.0]
    c = Controller(MemoryStorage(), clock=lambda: now[0], deleted_retention=3600)
    c.create_study("a", request(search_steps=10, seed=3))
    drive(c, "a", 4)
    held = c.suggest_trial("a", "w")
    before = c.get_study("a")
    trials_before = c.list_trials("a", 100, "", None)[0]
    now[0] += 5
    deleted = c.delete_study("a")
    assert (deleted.delete_time, deleted.expire_time) == (1005.0, 1005.0 + 3600)
    assert c.get_study("a") == deleted  # Get still answers (AIP-164)
    calls = {
        "suggest": lambda: c.suggest_trial("a", "w"),
        "complete": lambda: c.complete_trial("a", held.trial_id, 1.0, False),
        "heartbeat": lambda: c.heartbeat_trial("a", held.trial_id),
        "progress": lambda: c.report_progress("a", held.trial_id, 1, 0.5),
        "skip": lambda: c.skip_trial("a", held.trial_id),
        "watch": lambda: c.watch("a"),
    }
    for name, call in calls.items():
        with pytest.raises(errors.StudyDeleted, match="undelete") as info:
            call()
        assert "deleted at 1970-01-01T00:16:45+00:00" in str(info.value), name
    with pytest.raises(errors.StudyExists, match=r"undelete it .* or purge it"):
        c.create_study("a", request(search_steps=10, seed=3))
    assert c.list_studies(0, "")[0] == []
    assert [s.study_id for s in c.list_studies(0, "", show_deleted=True)[0]] == ["a"]
    assert c.list_trials("a", 100, "", None)[0] == trials_before  # readable meanwhile
    assert c.delete_study("a") == deleted  # again: nothing changes
    now[0] += 60
    restored = c.undelete_study("a")
    assert restored == before  # trials, best, budget, temperature, uid: all as they were
    with pytest.raises(errors.StudyExists, match="not deleted"):
        c.undelete_study("a")
    # The held trial is still its trainer's, with a whole lease from the undelete.
    (running,) = c.list_trials("a", 100, "", TrialState.ACTIVE)[0]
    assert running.lease_expire == now[0] + before.spec.lease_seconds
    done = c.complete_trial("a", held.trial_id, 1.0, False)
    assert done.trial.state is TrialState.SUCCEEDED
    with pytest.raises(errors.StudyNotFound):
        c.undelete_study("never")


def test_a_retention_of_zero_makes_every_delete_a_purge():
    c = Controller(MemoryStorage(), deleted_retention=0)
    c.create_study("a", request())
    assert c.delete_study("a") is None
    with pytest.raises(errors.StudyNotFound):
        c.get_study("a")
    c.create_study("a", request())  # the id is free at once
    with pytest.raises(ValueError, match="deleted_retention"):
        Controller(MemoryStorage(), deleted_retention=-1)


def test_expired_soft_deletes_are_purged_earliest_first_in_bounded_batches():
    now = [0.0]
    c = Controller(MemoryStorage(), clock=lambda: now[0], deleted_retention=100)
    for n, study_id in enumerate(["c", "a", "b", "kept", "undone"]):
        now[0] = float(n)
        c.create_study(study_id, request())
        c.delete_study(study_id)
    c.undelete_study("undone")
    now[0] = 102.5  # past the expiry of the first three deletes (at 100, 101, 102)
    assert c.next_expiry() == 100.0
    first = c.purge_expired(limit=2)
    assert [(e.study_id, e.deletion.delete_time, e.error) for e in first] == [
        ("c", 0.0, ""),
        ("a", 1.0, ""),
    ]
    assert [e.study_id for e in c.purge_expired(limit=2)] == ["b"]
    assert c.purge_expired(limit=2) == []
    ids = [s.study_id for s in c.list_studies(0, "", show_deleted=True)[0]]
    assert ids == ["kept", "undone"]
    with pytest.raises(errors.StudyNotFound):
        c.get_study("c")
    c.create_study("c", request())  # its id is free again


def test_import_of_a_paddleslim_checkpoint(tmp_path):
    from sanas_server.paddleslim_import import parse_checkpoint

    checkpoint = {
        "_range_table": [9, 9, 9, 9, 9],
        "_tokens": [4, 4, 4, 4, 3],
        "_reward": -1.0 + 0.5,
        "_max_reward": 0.9,
        "_best_tokens": [4, 4, 4, 4, 4],
        "_iter": 3,
        "_searched": {"[4, 4, 4, 4, 4]": 0.9, "[4, 4, 4, 4, 3]": -0.5, "[0, 0, 0, 0, 0]": -1},
    }
    history = parse_checkpoint(json.dumps(checkpoint))
    c = Controller(FileStorage(tmp_path))
    s = c.import_study(
        "old",
        request(search_steps=10, init_tokens=(4, 4, 4, 4, 3)),
        history.results,
        history.base,
        history.best,
        history.rewarded,
    )
    assert s.counts[TrialState.SUCCEEDED] == 2  # the -1 entry was issued, never rewarded
    assert s.best_tokens == (4, 4, 4, 4, 4) and s.best_reward == 0.9
    assert s.current_tokens == (4, 4, 4, 4, 3) and s.budget_remaining == 8
    t = c.suggest_trial("old", "w")
    assert t.tokens not in {(4, 4, 4, 4, 4), (4, 4, 4, 4, 3)}
    c.close()
    assert Controller(FileStorage(tmp_path)).get_study("old").best_reward == 0.9
    with pytest.raises(errors.InvalidArgument, match="not JSON"):
        parse_checkpoint("{'python': 'repr'}")


def test_restart_is_exact_while_a_kick_is_pending(tmp_path):
    # A small space whose optimum is found early: the base's neighbourhood runs out and
    # the annealer kicks. The pending kick and the radius must survive a restart too.
    reference = Controller(MemoryStorage())
    reference.create_study(
        "w", request(table=(5, 5, 5), seed=8, search_steps=110, policy="annealer")
    )
    expected = drive(reference, "w", 110)

    c = Controller(FileStorage(tmp_path))
    c.create_study("w", request(table=(5, 5, 5), seed=8, search_steps=110, policy="annealer"))
    got: list[tuple[int, ...]] = []
    annealer = c._entry("w").study.policy
    for _ in range(100):
        held = c.suggest_trial("w", "w")
        if held.tokens in annealer.kicks:
            break
        c.complete_trial("w", held.trial_id, reward_of(held.tokens), False)
        got.append(held.tokens)
    assert held.tokens in annealer.kicks and annealer.radius > 1  # really kicking
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert resumed._entry("w").study.policy.kicks == {held.tokens}
    resumed.complete_trial("w", held.trial_id, reward_of(held.tokens), False)
    got.append(held.tokens)
    got += drive(resumed, "w", 110 - len(got))
    assert got == expected
