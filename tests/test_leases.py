"""Leases, heartbeats and request ids: no stuck trials, no double answers."""

from __future__ import annotations

import time

import grpc
import pytest
from helpers import custom_config

from sanas import SANAS, Client, errors
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas_server import errors as server_errors
from sanas_server.controller import Controller
from sanas_server.storage import FileStorage, MemoryStorage
from sanas_server.study import StudyRequest, TrialState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def study_request(**kw) -> StudyRequest:
    return StudyRequest((SpaceConfig("custom", range_table=(9, 9, 9, 9)),), seed=1, **kw)


def test_an_expired_trial_goes_to_the_next_trainer_and_the_late_result_counts_once():
    clock = Clock()
    c = Controller(MemoryStorage(), clock=clock)
    c.create_study("s", study_request(lease_seconds=60, search_steps=3))
    lost = c.suggest_trial("s", "a")
    clock.now += 30
    assert c.suggest_trial("s", "b").trial_id != lost.trial_id  # not expired yet
    clock.now += 31
    again = c.suggest_trial("s", "c")
    assert (again.trial_id, again.tokens, again.client_id, again.issues) == (
        lost.trial_id,
        lost.tokens,
        "c",
        2,
    )
    summary = c.get_study("s")
    assert summary.lease_expirations == 1 and summary.budget_remaining == 1  # no budget used
    # The first trainer was only slow: its late result is accepted once...
    assert c.complete_trial("s", lost.trial_id, 0.5, False).trial.reward == 0.5
    # ...the second trainer's identical result is the same report; a different one is not.
    assert c.complete_trial("s", lost.trial_id, 0.5, False).trial.reward == 0.5
    with pytest.raises(server_errors.TrialAlreadyCompleted):
        c.complete_trial("s", lost.trial_id, 0.6, False)
    assert c.get_study("s").counts[TrialState.ACTIVE] == 1


def test_expired_trials_are_reissued_even_when_the_budget_is_spent():
    clock = Clock()
    c = Controller(MemoryStorage(), clock=clock)
    c.create_study("s", study_request(lease_seconds=10, search_steps=2))
    first = c.suggest_trial("s", "a")
    c.complete_trial("s", c.suggest_trial("s", "a").trial_id, 1.0, False)
    with pytest.raises(server_errors.BudgetExhausted):
        c.suggest_trial("s", "b")
    clock.now += 11
    assert c.suggest_trial("s", "b").trial_id == first.trial_id
    c.complete_trial("s", first.trial_id, 2.0, False)
    assert c.get_study("s").completed


def test_heartbeats_keep_a_trial_and_end_with_it():
    clock = Clock()
    c = Controller(MemoryStorage(), clock=clock)
    c.create_study("s", study_request(lease_seconds=10))
    held = c.suggest_trial("s", "a")
    for _ in range(5):
        clock.now += 8
        assert c.heartbeat_trial("s", held.trial_id).lease_expire == clock.now + 10
    assert c.suggest_trial("s", "b").trial_id != held.trial_id
    c.complete_trial("s", held.trial_id, 1.0, False)
    with pytest.raises(server_errors.TrialAlreadyCompleted, match="already completed"):
        c.heartbeat_trial("s", held.trial_id)


def test_a_restart_gives_running_trials_a_whole_lease(tmp_path):
    clock = Clock()
    c = Controller(FileStorage(tmp_path), clock=clock)
    c.create_study("s", study_request(lease_seconds=10))
    held = c.suggest_trial("s", "a")
    c.close()
    clock.now += 3600  # the controller was down for an hour; the trainer kept training
    resumed = Controller(FileStorage(tmp_path), clock=clock)
    assert resumed.suggest_trial("s", "b").trial_id != held.trial_id
    clock.now += 11
    assert resumed.suggest_trial("s", "b").trial_id == held.trial_id


def test_request_ids_return_the_first_answer_even_after_a_restart(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", study_request(search_steps=10))
    t = c.suggest_trial("s", "a", request_id="r1")
    assert c.suggest_trial("s", "a", request_id="r1") == t
    assert c.get_study("s").budget_remaining == 9
    done = c.complete_trial("s", t.trial_id, 0.3, False, True, "a", request_id="r2")
    again = c.complete_trial("s", t.trial_id, 0.3, False, True, "a", request_id="r2")
    assert again.next_trial == done.next_trial and done.next_trial is not None
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    replayed = resumed.complete_trial("s", t.trial_id, 0.3, False, True, "a", request_id="r2")
    assert replayed.next_trial.trial_id == done.next_trial.trial_id
    assert resumed.suggest_trial("s", "a", request_id="r1").trial_id == t.trial_id
    assert resumed.get_study("s").budget_remaining == 8
    with pytest.raises(server_errors.InvalidArgument, match="already used for another request"):
        resumed.suggest_trial("s", "a", request_id="r2")


def test_pending_limit_per_client():
    c = Controller(MemoryStorage(), max_pending_per_client=2)
    c.create_study("s", study_request())
    a1, _ = c.suggest_trial("s", "a"), c.suggest_trial("s", "a")
    with pytest.raises(server_errors.TooManyPendingTrials, match="already holds 2"):
        c.suggest_trial("s", "a")
    c.suggest_trial("s", "b")  # another client is not affected
    c.complete_trial("s", a1.trial_id, 1.0, False)
    c.suggest_trial("s", "a")


def test_limits_over_grpc(tmp_path):
    from sanas_server.server import start_server

    running = start_server("127.0.0.1", 0, tmp_path, max_pending_per_client=1)
    try:
        with Client(running.address, client_id="greedy", timeout=10) as c:
            c.create_study("s", custom_config([9, 9]))
            c.suggest_trial("s")
            with pytest.raises(errors.TooManyPendingTrialsError) as info:
                c.suggest_trial("s")
            assert info.value.code == "RESOURCE_EXHAUSTED"
            channel = grpc.insecure_channel(
                running.address, options=[("grpc.max_send_message_length", 64 << 20)]
            )
            from sanas.v1 import sanas_pb2_grpc

            stub = sanas_pb2_grpc.ControllerServiceStub(channel)
            # 5 million one-byte tokens: over the 4 MiB default message limit.
            big = pb.CreateStudyRequest(study_id="big", config=custom_config([9]))
            big.config.init_tokens.extend([1] * 5_000_000)
            with pytest.raises(grpc.RpcError) as too_big:
                stub.CreateStudy(big, timeout=30)
            assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            channel.close()
            assert [s.study_id for s in c.list_studies()] == ["s"]
    finally:
        running.stop(1)


def test_sanas_heartbeats_keep_the_trial_while_training(server):
    nas = SANAS(
        ["MobileNetV2Space"],
        server_addr=("127.0.0.1", server.port),
        is_server=False,
        lease_seconds=0.6,
        study_id="hb",
        client_id="trainer",
    )
    nas.next_archs()
    held = nas.current_tokens()
    time.sleep(2.0)  # "training" for more than three leases
    with Client(server.address, client_id="other") as other:
        stolen = other.suggest_trial("hb")
        assert list(stolen.tokens) != held  # the held trial was never handed out again
        assert other.get_study("hb").lease_expirations == 0
    nas.reward(0.9)
    nas.close()


def test_a_repeated_completion_with_a_new_request_id_and_suggest_next(tmp_path):
    # Found by the fuzz campaign: the repeat's request id was never recorded, so the
    # next trial it asked for could not be linked to it (KeyError -> UNKNOWN).
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", study_request(search_steps=10))
    t = c.suggest_trial("s", "a")
    c.complete_trial("s", t.trial_id, 0.5, False)
    repeat = c.complete_trial("s", t.trial_id, 0.5, False, True, "a", request_id="again")
    assert repeat.trial.reward == 0.5 and repeat.next_trial is not None
    retry = c.complete_trial("s", t.trial_id, 0.5, False, True, "a", request_id="again")
    assert retry.next_trial == repeat.next_trial
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    replayed = resumed.complete_trial("s", t.trial_id, 0.5, False, True, "a", request_id="again")
    assert replayed.next_trial.trial_id == repeat.next_trial.trial_id
