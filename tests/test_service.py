"""The gRPC surface over real loopback sockets: statuses, error details, reflection, health."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers import custom_config

from sanas import errors
from sanas.study_config import study_config
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc


def raw_stub(server):
    channel = grpc.insecure_channel(server.address)
    return channel, sanas_pb2_grpc.ControllerServiceStub(channel)


def status_of(call, request):
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value.code(), info.value.details()


def binding(trial: pb.Trial) -> dict[str, str]:
    """The binding fields of a request about `trial`, as a client copies them."""
    return {"study_uid": trial.study_uid, "trial_fingerprint": trial.fingerprint}


def snapshot(client, study_id):
    s = client.get_study(study_id)
    s.ClearField("temperature")  # unchanged anyway; compared whole below
    return s.SerializeToString(deterministic=True), [
        t.SerializeToString() for t in client.list_trials(study_id)
    ]


BAD_CONFIGS = [
    (custom_config([9, 9], init_tokens=[1]), "init_tokens has 1 tokens but the search space has 2"),
    (custom_config([9, 9], init_tokens=[1, 9]), r"init_tokens\[1\] = 9 is outside \[0, 9\)"),
    (custom_config([9, 9], init_tokens=[1, -1]), r"init_tokens\[1\] = -1 is outside"),
    (custom_config([9, 0]), r"range_table\[1\] = 0: every range must be an integer >= 1"),
    (custom_config([9, -3]), r"range_table\[1\] = -3"),
    (study_config(["NoSuchSpace"]), "unknown search space key 'NoSuchSpace'"),
    (pb.StudyConfig(), "at least one search-space config"),
    (custom_config([9], reduce_rate=0.0), r"reduce_rate = 0.0: must be in \(0, 1\]"),
    (custom_config([9], init_temperature=float("nan")), "init_temperature = nan"),
    (custom_config([9], search_steps=-5), "search_steps = -5"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_invalid_study_configs(server, client, config, message):
    channel, stub = raw_stub(server)
    code, details = status_of(stub.CreateStudy, pb.CreateStudyRequest(study_id="s", config=config))
    channel.close()
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert re.search(message, details), details
    with pytest.raises(errors.StudyNotFoundError):
        client.get_study("s")  # nothing was created


def test_bad_study_id_is_invalid(server):
    channel, stub = raw_stub(server)
    for bad in ("../etc", "a/b", "-x", "x" * 129):
        code, details = status_of(
            stub.CreateStudy, pb.CreateStudyRequest(study_id=bad, config=custom_config([3]))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "study_id" in details
    channel.close()


def test_error_details_carry_the_reason_and_the_client_raises_the_subclass(client):
    with pytest.raises(errors.StudyNotFoundError, match="no study 'ghost'") as info:
        client.suggest_trial("ghost")
    assert info.value.code == "NOT_FOUND" and info.value.reason == "ERROR_REASON_STUDY_NOT_FOUND"


def test_bad_trial_inputs_get_precise_statuses_and_change_nothing(server, client):
    client.create_study("s", custom_config([9, 9, 9], search_steps=3, seed=1))
    trial = client.suggest_trial("s")
    client.complete_trial("s", trial.trial_id, 0.25)
    pending = client.suggest_trial("s")
    before = snapshot(client, "s")
    channel, stub = raw_stub(server)
    cases = [
        (
            pb.CompleteTrialRequest(
                study_id="s", trial_id=pending.trial_id, reward=float("nan"), **binding(pending)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a finite number",
        ),
        (
            pb.CompleteTrialRequest(
                study_id="s", trial_id=pending.trial_id, reward=float("inf"), **binding(pending)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a finite number",
        ),
        (
            pb.CompleteTrialRequest(study_id="s", trial_id=77, reward=1.0),
            grpc.StatusCode.NOT_FOUND,
            "has no trial 77",
        ),
        (
            pb.CompleteTrialRequest(study_id="s", trial_id=-1, reward=1.0),
            grpc.StatusCode.NOT_FOUND,
            "has no trial -1",
        ),
        (
            pb.CompleteTrialRequest(study_id="zz", trial_id=0, reward=1.0),
            grpc.StatusCode.NOT_FOUND,
            "no study 'zz'",
        ),
        (
            pb.CompleteTrialRequest(
                study_id="s", trial_id=trial.trial_id, reward=0.5, **binding(trial)
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "already completed with reward 0.25",
        ),
    ]
    for request, code, message in cases:
        got_code, details = status_of(stub.CompleteTrial, request)
        assert (got_code, message in details) == (code, True), details
    code, details = status_of(
        stub.ListTrials, pb.ListTrialsRequest(study_id="s", page_token="not-a-token")
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, details = status_of(stub.ListTrials, pb.ListTrialsRequest(study_id="s", state=42))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "TrialState" in details
    code, details = status_of(
        stub.SuggestTrial, pb.SuggestTrialRequest(study_id="s", client_id="c" * 200)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "client_id" in details
    channel.close()
    assert snapshot(client, "s") == before
    # The same reward again is an idempotent OK.
    again = client.complete_trial("s", trial.trial_id, 0.25)
    assert again.trial.reward == 0.25


def test_spent_budget_is_failed_precondition_with_a_message(server, client):
    client.create_study("s", custom_config([9, 9], search_steps=2))
    for _ in range(2):
        client.complete_trial("s", client.suggest_trial("s").trial_id, 1.0)
    channel, stub = raw_stub(server)
    code, details = status_of(stub.SuggestTrial, pb.SuggestTrialRequest(study_id="s"))
    channel.close()
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    # For the trainer that gets it: the search is over (not a failure to work around), how
    # its loop ends, and what gives more trials.
    assert details == (
        "study 's' has issued all 2 trials of its search_steps budget (0 still running), so "
        "the search is finished: end the trainer's loop here (in Python, catch "
        "sanas.SearchFinished, which BudgetExhaustedError subclasses). search_steps is one "
        "budget shared by every trainer (PaddleSlim gave each client its own). For more "
        "trials, create a new study with a larger search_steps"
    )
    with pytest.raises(errors.BudgetExhaustedError, match=r"running\), so the search is finished"):
        client.suggest_trial("s")
    assert issubclass(errors.BudgetExhaustedError, errors.SearchFinished)  # as it says
    assert client.get_study("s").state == pb.STUDY_STATE_COMPLETED


def test_create_idempotency_over_the_wire(client):
    a = client.create_study("s", custom_config([4, 4], seed=5))
    b = client.create_study("s", custom_config([4, 4], seed=5))
    assert a == b
    with pytest.raises(errors.StudyExistsError, match="different config"):
        client.create_study("s", custom_config([4, 5], seed=5))


def test_get_study_reports_the_search_state(client):
    client.create_study("s", custom_config([9, 9, 9], seed=2, search_steps=10))
    s = client.get_study("s")
    assert not s.HasField("best_reward") and list(s.best_tokens) == []
    assert s.config.seed == 2 and s.config.init_temperature == 10.0
    t = client.suggest_trial("s")
    client.complete_trial("s", t.trial_id, 0.7)
    client.complete_trial("s", client.suggest_trial("s").trial_id, 0.0, infeasible=True)
    client.suggest_trial("s")
    s = client.get_study("s")
    assert s.best_reward == 0.7 and list(s.best_tokens) == list(t.tokens)
    assert list(s.current_tokens) == list(t.tokens) and s.current_reward == 0.7
    assert (s.trial_counts.active, s.trial_counts.succeeded, s.trial_counts.infeasible) == (1, 1, 1)
    assert s.budget_remaining == 7 and 0 < s.temperature < 10.0
    trials = list(client.list_trials("s", page_size=2))
    assert [t.state for t in trials] == [
        pb.TRIAL_STATE_SUCCEEDED,
        pb.TRIAL_STATE_INFEASIBLE,
        pb.TRIAL_STATE_ACTIVE,
    ]
    assert trials[0].accepted and trials[0].client_id == "test-client"
    assert trials[0].HasField("complete_time") and not trials[2].HasField("complete_time")


def test_reflection_lists_the_services_and_describes_the_schema(server):
    channel = grpc.insecure_channel(server.address)
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="sanas.v1.ControllerService"),
    ]
    listed, described = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert {"sanas.v1.ControllerService", "grpc.health.v1.Health"} <= names
    proto = descriptor_pb2.FileDescriptorProto.FromString(
        described.file_descriptor_response.file_descriptor_proto[0]
    )
    methods = {m.name for m in proto.service[0].method}
    assert {"CreateStudy", "SuggestTrial", "CompleteTrial", "ListTrials"} <= methods
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "sanas.v1.ControllerService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    channel.close()


def test_buf_curl_lists_services_through_reflection(server):
    buf = Path(sys.executable).parent / "buf"
    out = subprocess.run(
        [
            str(buf),
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--list-services",
            f"http://{server.address}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert "sanas.v1.ControllerService" in out and "grpc.health.v1.Health" in out
