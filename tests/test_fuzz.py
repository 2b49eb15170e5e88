"""Bad-input campaign: random and malformed messages to every RPC over a real socket.
Every call gets a precise status (never UNKNOWN or INTERNAL), the server stays up, and a
rejected call changes no study."""

from __future__ import annotations

import math

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import custom_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanas import Client
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server.server import start_server

PRECISE = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
UINT64 = st.integers(0, 2**64 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]
)
TEXT = st.text(max_size=40) | st.sampled_from(["", "ref", "x" * 129, "../x", "a/b", "ref\x00"])
STUDY_IDS = TEXT | st.just("ref")
TOKENS = (
    st.lists(INT32, max_size=12)
    | st.lists(st.integers(0, 8), min_size=4, max_size=4)
    | st.just([0] * 50_000)
)
ENUM_STATE = st.integers(-3, 40)
# The binding of a trial-scoped request: often the reference study's real uid and one of
# its trials' real fingerprints (filled in by the fixture), so that the checks after the
# binding are reached too; otherwise missing or arbitrary text.
REF_BINDING: dict[str, list[str]] = {"uid": [], "fingerprints": []}
STUDY_UIDS = st.deferred(lambda: st.sampled_from(REF_BINDING["uid"])) | TEXT
FINGERPRINTS = st.deferred(lambda: st.sampled_from(REF_BINDING["fingerprints"])) | TEXT

SPACES = st.builds(
    pb.SearchSpaceConfig,
    key=st.sampled_from(["custom", "MobileNetV2Space", "MobileNetV2BlockSpace", "Nope", ""]),
    input_size=INT32,
    output_size=INT32,
    block_num=st.integers(-3, 12),
    block_mask=st.lists(st.integers(-2, 3), max_size=6),
    range_table=st.lists(st.integers(-3, 12), max_size=8) | st.just([2] * 20_000),
)


@st.composite
def study_configs(draw: st.DrawFn) -> pb.StudyConfig:
    config = pb.StudyConfig(
        search_spaces=draw(st.lists(SPACES, max_size=3)),
        init_tokens=draw(TOKENS),
        search_steps=draw(INT64),
    )
    if draw(st.booleans()):
        config.init_temperature = draw(FLOATS)
    if draw(st.booleans()):
        config.reduce_rate = draw(FLOATS)
    if draw(st.booleans()):
        config.seed = draw(UINT64)
    if draw(st.booleans()):
        config.lease_duration.seconds = draw(st.integers(-(10**6), 10**9))
    return config


REQUESTS = {
    "CreateStudy": st.builds(
        pb.CreateStudyRequest, study_id=TEXT.filter(lambda s: s != "ref"), config=study_configs()
    ),
    "GetStudy": st.builds(pb.GetStudyRequest, study_id=STUDY_IDS),
    "ListStudies": st.builds(
        pb.ListStudiesRequest, page_size=INT32, page_token=TEXT, show_deleted=st.booleans()
    ),
    "DeleteStudy": st.builds(
        pb.DeleteStudyRequest, study_id=TEXT.filter(lambda s: s != "ref"), purge=st.booleans()
    ),
    # "ref" is live: its undelete is refused (ALREADY_EXISTS) and changes nothing.
    "UndeleteStudy": st.builds(pb.UndeleteStudyRequest, study_id=STUDY_IDS),
    "SuggestTrial": st.builds(
        pb.SuggestTrialRequest, study_id=STUDY_IDS, client_id=TEXT, request_id=TEXT
    ),
    "CompleteTrial": st.builds(
        pb.CompleteTrialRequest,
        study_id=STUDY_IDS,
        trial_id=INT64 | st.integers(-1, 6),
        reward=FLOATS,
        infeasible=st.booleans(),
        suggest_next=st.booleans(),
        client_id=TEXT,
        request_id=TEXT,
        study_uid=STUDY_UIDS,
        trial_fingerprint=FINGERPRINTS,
    ),
    "HeartbeatTrial": st.builds(
        pb.HeartbeatTrialRequest,
        study_id=STUDY_IDS,
        trial_id=INT64 | st.integers(-1, 6),
        study_uid=STUDY_UIDS,
        trial_fingerprint=FINGERPRINTS,
    ),
    "ListTrials": st.builds(
        pb.ListTrialsRequest,
        study_id=STUDY_IDS,
        page_size=INT32,
        page_token=TEXT,
        state=ENUM_STATE,
    ),
    "ImportPaddleSlimCheckpoint": st.builds(
        pb.ImportPaddleSlimCheckpointRequest,
        study_id=TEXT.filter(lambda s: s != "ref"),
        config=study_configs(),
        checkpoint_json=TEXT
        | st.sampled_from(
            [
                "{}",
                '{"_range_table": [3], "_tokens": [9], "_searched": {}}',
                '{"_range_table": [3], "_tokens": [1], "_searched": {"[1]": NaN}}',
                '{"_range_table": [3], "_tokens": [1], "_searched": {"(1,)": 0.5}}',
                "[1, 2]",
            ]
        ),
    ),
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    running = start_server("127.0.0.1", 0, tmp_path_factory.mktemp("fuzz"))
    with Client(running.address, client_id="setup") as c:
        c.create_study("ref", custom_config([9, 9, 9, 9], search_steps=50, seed=1))
        for reward in (0.1, 0.5, 0.3):
            c.complete_trial("ref", c.suggest_trial("ref").trial_id, reward)
        c.suggest_trial("ref")
        REF_BINDING["uid"] = [c.get_study("ref").uid]
        REF_BINDING["fingerprints"] = [t.fingerprint for t in c.list_trials("ref")]
    channel = grpc.insecure_channel(
        running.address, options=[("grpc.max_send_message_length", 64 << 20)]
    )
    yield running, channel
    channel.close()
    running.stop(1)


def snapshot(stub: sanas_pb2_grpc.ControllerServiceStub) -> tuple[bytes, bytes]:
    study = stub.GetStudy(pb.GetStudyRequest(study_id="ref"), timeout=10).study
    trials = stub.ListTrials(pb.ListTrialsRequest(study_id="ref", page_size=1000), timeout=10)
    return study.SerializeToString(deterministic=True), trials.SerializeToString(deterministic=True)


def check_alive(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_requests_get_precise_statuses_and_change_nothing_when_rejected(fuzz_server, data):
    _, channel = fuzz_server
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    method = data.draw(st.sampled_from(sorted(REQUESTS)))
    request = data.draw(REQUESTS[method])
    before = snapshot(stub)
    try:
        getattr(stub, method)(request, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in PRECISE, (method, exc.code(), exc.details())
        assert exc.details(), "every error says what is wrong"
        assert snapshot(stub) == before, f"rejected {method} changed the study"
    check_alive(channel)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=st.sampled_from(sorted(REQUESTS)), payload=st.binary(max_size=300))
def test_raw_bytes_are_never_an_internal_error(fuzz_server, method, payload):
    _, channel = fuzz_server
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    before = snapshot(stub)
    call = channel.unary_unary(
        f"/sanas.v1.ControllerService/{method}",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    try:
        call(payload, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in PRECISE, (method, exc.code(), exc.details())
        assert snapshot(stub) == before
    check_alive(channel)
