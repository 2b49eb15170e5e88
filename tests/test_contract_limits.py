"""The contract's edges: ids matched whole, AIP-155 request ids that reject a reuse with
another result and are remembered within a documented bound, repeats that do not grow the
journal, and snapshots serialized without holding the study's lock."""

from __future__ import annotations

import base64
import dataclasses
import threading

import pytest
from helpers import custom_config
from test_controller import drive, request, reward_of
from test_snapshots import study_folder

from sanas import Client
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas_server import errors
from sanas_server import journal as journal_module
from sanas_server import request_log as request_log_module
from sanas_server.controller import Controller
from sanas_server.paging import decode_page_token
from sanas_server.server import start_server
from sanas_server.service import trial_to_pb
from sanas_server.spec import StudyRequest, StudySpec
from sanas_server.stopping import EarlyStopping, MedianRule
from sanas_server.storage import FileStorage, MemoryStorage
from sanas_server.study import Study
from sanas_server.trials import TrialRecord, TrialState


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
    monkeypatch.setattr(request_log_module, "MAX_REMEMBERED_REQUESTS", 5)
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(search_steps=50))
    trials = [c.suggest_trial("s", "a", request_id=f"r{n}") for n in range(8)]
    entry = c._entry("s")
    assert list(entry.study.requests) == [f"r{n}" for n in range(3, 8)]
    # A retry of a remembered id gets its first answer; an older one counts as new.
    assert c.suggest_trial("s", "a", request_id="r7") == trials[7]
    assert c.suggest_trial("s", "a", request_id="r0").trial_id == 8
    live = list(entry.study.requests.items())
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert list(resumed._entry("s").study.requests.items()) == live
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
    assert len(c._entry("s").study.requests) == 1
    c.close()


def test_a_snapshot_is_serialized_without_the_study_lock(tmp_path, monkeypatch):
    c = Controller(FileStorage(tmp_path), snapshot_every=10)
    c.create_study("s", request(search_steps=40))
    drive(c, "s", 9)
    inside, release = threading.Event(), threading.Event()
    real = journal_module.snapshot_event

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


# -- sums over a study stay within their wire types ------------------------------------
MAX_STEP = 2**53  # the largest step and max_step a report may carry


def stopped_at_the_maxima(stops: int) -> tuple[Study, list[dict]]:
    """A study whose stops each saved 2^53 steps (step 0 of max_step 2^53, both
    accepted): 1,025 of them add up past int64."""
    config = StudyRequest(
        search_spaces=(SpaceConfig("custom", range_table=(9, 9, 9, 9)),),
        search_steps=stops + 1,
        seed=1,
        early_stopping=EarlyStopping(MedianRule(start_step=0, min_trials=1)),
    )
    study = Study("big", config, StudySpec.resolve(config), 1.0)
    events = []
    first, event = study.suggest("t", 1.0)
    events.append(event)
    events.append(study.report_progress(first.trial_id, 0, 1.0, 1.0)[2])
    events.append(study.complete(first.trial_id, 1.0, False, 1.0)[1])
    for k in range(1, stops + 1):
        trial, event = study.suggest("t", 1.0)
        events.append(event)
        # Each lower than every finished curve so far: below their median, so stopped.
        _, stop, event = study.report_progress(trial.trial_id, 0, -float(k), 1.0, MAX_STEP)
        assert stop
        events.append(event)
    return study, events


def test_steps_saved_beyond_int64_saturates_and_every_rpc_answers(tmp_path):
    study, events = stopped_at_the_maxima(1025)
    assert study.steps_saved == 1025 * MAX_STEP > 2**63 - 1
    storage = FileStorage(tmp_path / "ckpt")
    storage.create("big", study.header(), events)
    storage.create("small", study.header() | {"study_id": "small"}, [])
    storage.close()
    # Loaded from the journal (a restart recomputed the sum, so it never helped).
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    try:
        with Client(running.address, timeout=10) as c:
            got = c.get_study("big")
            assert got.steps_saved == 2**63 - 1 and got.trial_counts.stopped == 1025
            assert got.state == pb.STUDY_STATE_COMPLETED
            listed = {s.study_id: s for s in c.list_studies()}
            assert set(listed) == {"big", "small"}  # it was silently left out
            assert listed["big"].steps_saved == 2**63 - 1
            first = next(iter(c.watch_study("big")))
            assert first.study.steps_saved == 2**63 - 1
    finally:
        running.stop(grace=1)


def test_a_study_that_cannot_be_rendered_is_answered_and_listed_as_broken(
    server, client, monkeypatch, caplog
):
    """Defence in depth: whatever number a summary carries, no call answers UNKNOWN for a
    loaded study and no listing leaves it out."""
    client.create_study("odd", custom_config([3, 3]))
    client.create_study("fine", custom_config([3, 3]))
    real = Study.summary

    def summary(self: Study) -> object:
        out = real(self)
        if self.study_id == "odd":  # a count no int64 holds
            return dataclasses.replace(out, accepted_moves=2**64)
        return out

    monkeypatch.setattr(Study, "summary", summary)
    got = client.get_study("odd")
    assert got.state == pb.STUDY_STATE_BROKEN
    assert "cannot be rendered" in got.broken_reason and "out of range" in got.broken_reason
    listed = {s.study_id: s.state for s in client.list_studies()}
    assert listed == {"odd": pb.STUDY_STATE_BROKEN, "fine": pb.STUDY_STATE_ACTIVE}
    assert next(iter(client.watch_study("odd"))).study.state == pb.STUDY_STATE_BROKEN
    assert "'odd' cannot be rendered" in caplog.text


def test_an_issue_count_beyond_int32_is_rendered_saturated():
    record = TrialRecord(3, (1, 2), 1.0, "w", 0.0, issues=2**31 + 5)
    assert trial_to_pb("s", record).issue_count == 2**31 - 1


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
