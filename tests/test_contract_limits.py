"""The contract's edges: ids matched whole, AIP-155 request ids that reject a reuse with
another result and are remembered within a documented bound, repeats that do not grow the
journal, and snapshots serialized without holding the study's lock."""

from __future__ import annotations

import base64
import threading

import pytest
from test_controller import drive, request, reward_of
from test_snapshots import study_folder

from sanas.spaces import SpaceConfig
from sanas_server import errors
from sanas_server import study as study_module
from sanas_server.controller import Controller, decode_page_token
from sanas_server.stopping import EarlyStopping, MedianRule
from sanas_server.storage import FileStorage, MemoryStorage
from sanas_server.study import StudyRequest, TrialState


@pytest.mark.parametrize("bad", ["abc\n", "abc\r\n", "\nabc", "a" * 129, "-a", "a/b"])
def test_study_ids_are_matched_whole(tmp_path, bad):
    c = Controller(FileStorage(tmp_path))
    with pytest.raises(errors.InvalidArgument, match="study_id"):
        c.create_study(bad, request())
    assert list((tmp_path / "studies").iterdir()) == []
    c.close()


def test_a_request_id_reused_with_another_result_is_rejected(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(search_steps=10))
    t = c.suggest_trial("s", "a")
    first = c.complete_trial("s", t.trial_id, 0.5, False, request_id="r")
    assert c.complete_trial("s", t.trial_id, 0.5, False, request_id="r") == first
    with pytest.raises(errors.InvalidArgument, match=r"already used to report reward 0\.5"):
        c.complete_trial("s", t.trial_id, 0.7, False, request_id="r")
    with pytest.raises(errors.InvalidArgument, match="already used"):
        c.complete_trial("s", t.trial_id, 0.0, True, request_id="r")
    c.close()
    resumed = Controller(FileStorage(tmp_path))  # the rule holds after a restart too
    with pytest.raises(errors.InvalidArgument, match="already used to report"):
        resumed.complete_trial("s", t.trial_id, 0.7, False, request_id="r")
    assert resumed.get_study("s").best_reward == 0.5
    resumed.close()


def test_request_ids_are_remembered_within_the_bound_live_and_after_replay(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module, "MAX_REMEMBERED_REQUESTS", 5)
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(search_steps=50))
    trials = [c.suggest_trial("s", "a", request_id=f"r{n}") for n in range(8)]
    entry = c._entry("s")
    assert list(entry.study._requests) == [f"r{n}" for n in range(3, 8)]
    # A retry of a remembered id gets its first answer; an older one counts as new.
    assert c.suggest_trial("s", "a", request_id="r7") == trials[7]
    assert c.suggest_trial("s", "a", request_id="r0").trial_id == 8
    live = list(entry.study._requests.items())
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert list(resumed._entry("s").study._requests.items()) == live
    resumed.close()


def test_repeated_reports_do_not_grow_the_journal(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(search_steps=10))
    t = c.suggest_trial("s", "a")
    c.complete_trial("s", t.trial_id, 0.5, False, request_id="first")
    journal = study_folder(tmp_path) / "journal.log"
    size = journal.stat().st_size
    for n in range(50):
        c.complete_trial("s", t.trial_id, 0.5, False, request_id=f"repeat-{n}")
    assert journal.stat().st_size == size
    assert len(c._entry("s").study._requests) == 1
    c.close()


def test_a_snapshot_is_serialized_without_the_study_lock(tmp_path, monkeypatch):
    c = Controller(FileStorage(tmp_path), snapshot_every=10)
    c.create_study("s", request(search_steps=40))
    drive(c, "s", 9)
    inside, release = threading.Event(), threading.Event()
    real = study_module.snapshot_event

    def slow_snapshot_event(state):
        inside.set()
        release.wait(10)
        return real(state)

    monkeypatch.setattr("sanas_server.controller.snapshot_event", slow_snapshot_event)
    writer = threading.Thread(target=lambda: drive(c, "s", 1))  # the 10th event: due
    writer.start()
    assert inside.wait(5)
    done: list[object] = []

    def other_trainer() -> None:
        t = c.suggest_trial("s", "b")
        done.append(c.complete_trial("s", t.trial_id, reward_of(t.tokens), False))

    probe = threading.Thread(target=other_trainer)
    probe.start()
    probe.join(3)
    blocked = probe.is_alive()
    release.set()
    writer.join(10)
    probe.join(10)
    assert not blocked, "a result waited for the snapshot's serialization"
    expected = [t.tokens for t in c.list_trials("s", 100, "", None)[0]]
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert [t.tokens for t in resumed.list_trials("s", 100, "", None)[0]] == expected
    assert resumed._entry("s").since_snapshot < 11  # replays from the snapshot
    resumed.close()


NESTED = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()


@pytest.mark.parametrize(
    "token",
    [
        NESTED,  # deeply nested JSON once raised RecursionError (UNKNOWN)
        base64.urlsafe_b64encode(b"[" * 200 + b"]" * 200).decode(),
        base64.urlsafe_b64encode(b'"a"').decode(),  # a study id where an offset belongs
        "!!!not base64!!!",
    ],
)
def test_page_tokens_that_are_not_ours_are_invalid_argument(token):
    with pytest.raises(errors.InvalidArgument, match="page_token"):
        decode_page_token(token, int)
    c = Controller(MemoryStorage())
    c.create_study("s", request())
    with pytest.raises(errors.InvalidArgument, match="page_token"):
        c.list_trials("s", 0, token, None)


def test_a_retried_completion_with_suggest_next_of_a_stopped_trial_gets_the_first_answer():
    c = Controller(MemoryStorage())
    config = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(5, 5, 5)),),
        search_steps=20,
        seed=4,
        early_stopping=EarlyStopping(MedianRule(start_step=0, min_trials=1)),
    )
    c.create_study("s", config)
    good = c.suggest_trial("s", "w")
    c.report_progress("s", good.trial_id, 1, 0.9)
    c.complete_trial("s", good.trial_id, 0.9, False)
    weak = c.suggest_trial("s", "w")
    _, stop = c.report_progress("s", weak.trial_id, 1, 0.1)
    assert stop
    # PaddleSlim scripts still report a score after the stop, asking for the next trial.
    first = c.complete_trial("s", weak.trial_id, 0.95, False, True, "w", "rid-1")
    again = c.complete_trial("s", weak.trial_id, 0.95, False, True, "w", "rid-1")
    assert first.next_trial is not None and again.next_trial is not None
    assert again.next_trial.trial_id == first.next_trial.trial_id
    assert again.trial == first.trial and again.trial.state is TrialState.STOPPED
    assert len(c.list_trials("s", 100, "", None)[0]) == 3  # the retry issued nothing
