"""WatchStudy streams against the server's capacity: idle watchers must never take the
threads that trainers and health checks need, and every way a stream ends frees its slot.
Real gRPC over 127.0.0.1; every loop is bounded in count and time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import SERVER_BIN, ServerProcess, custom_config

from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server import errors
from sanas_server import watch as watch_module
from sanas_server.controller import Controller
from sanas_server.server import DEFAULT_MAX_WORKERS, RunningServer, start_server
from sanas_server.spec import StudyRequest
from sanas_server.storage import MemoryStorage
from sanas_server.watch import WatchKind

UNARY_DEADLINE = 2.0  # what a trainer or a load balancer's health probe would wait
WATCH_DEADLINE = 60.0  # idle watchers stay open for the whole test


def create_study(address: str, study_id: str = "s") -> None:
    with grpc.insecure_channel(address) as channel:
        sanas_pb2_grpc.ControllerServiceStub(channel).CreateStudy(
            pb.CreateStudyRequest(
                study_id=study_id, config=custom_config([9, 9, 9], search_steps=1000, seed=1)
            ),
            timeout=10,
        )


def open_watch(
    stub: sanas_pb2_grpc.ControllerServiceStub, study_id: str = "s", timeout: float = WATCH_DEADLINE
) -> grpc.Call:
    """A watch stream whose handler is running: its first event has arrived."""
    call = stub.WatchStudy(pb.WatchStudyRequest(study_id=study_id), timeout=timeout)
    first = next(call)
    assert first.type == pb.STUDY_EVENT_TYPE_CURRENT_STATE
    return call


def open_watch_once_free(
    stub: sanas_pb2_grpc.ControllerServiceStub, study_id: str = "s", within: float = 5.0
) -> grpc.Call:
    """Retry while the server still counts a stream that is ending (it notices within
    its 0.5 s poll)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return open_watch(stub, study_id)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def assert_unary_calls_answer(address: str, study_id: str = "s") -> None:
    """GetStudy, SuggestTrial and Health.Check each answer within UNARY_DEADLINE."""
    with grpc.insecure_channel(address) as channel:
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        started = time.monotonic()
        study = stub.GetStudy(pb.GetStudyRequest(study_id=study_id), timeout=UNARY_DEADLINE)
        assert study.study.study_id == study_id
        trial = stub.SuggestTrial(
            pb.SuggestTrialRequest(study_id=study_id, client_id="trainer"),
            timeout=UNARY_DEADLINE,
        )
        assert trial.trial.state == pb.TRIAL_STATE_ACTIVE
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=UNARY_DEADLINE
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert time.monotonic() - started < 3 * UNARY_DEADLINE


@pytest.fixture
def watchers() -> Iterator[list[grpc.Call]]:
    calls: list[grpc.Call] = []
    yield calls
    for call in calls:
        call.cancel()


def test_as_many_idle_watchers_as_workers_leave_unary_calls_and_health_answering(
    tmp_path: Path, watchers: list[grpc.Call]
) -> None:
    # All defaults: before --max-watchers, DEFAULT_MAX_WORKERS idle watchers held every
    # worker thread and these unary calls hit their deadline.
    running = start_server("127.0.0.1", 0, tmp_path / "ck")
    channel = grpc.insecure_channel(running.address)
    try:
        create_study(running.address)
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        for _ in range(DEFAULT_MAX_WORKERS):
            watchers.append(open_watch(stub))
        assert_unary_calls_answer(running.address)
    finally:
        for call in watchers:
            call.cancel()
        channel.close()
        running.stop(1)


@pytest.fixture
def small() -> Iterator[RunningServer]:
    running = start_server("127.0.0.1", 0, None, max_workers=4, max_watchers=4)
    create_study(running.address)
    yield running
    running.stop(1)


def test_watchers_over_the_limit_are_refused_and_a_closed_one_frees_its_slot(
    small: RunningServer, watchers: list[grpc.Call]
) -> None:
    with grpc.insecure_channel(small.address) as channel:
        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        for _ in range(4):
            watchers.append(open_watch(stub))
        assert_unary_calls_answer(small.address)
        with pytest.raises(grpc.RpcError) as refused:
            open_watch(stub)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "4 watch streams" in refused.value.details()
        assert "--max-watchers" in refused.value.details()
        assert "pending" not in refused.value.details()
        watchers.pop(0).cancel()
        watchers.append(open_watch_once_free(stub))
        # The refused call took no slot: the limit is still exactly 4.
        with pytest.raises(grpc.RpcError) as again:
            open_watch(stub)
        assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert_unary_calls_answer(small.address)


def test_every_way_a_stream_ends_frees_its_slot(tmp_path: Path) -> None:
    running = start_server("127.0.0.1", 0, None, max_workers=2, max_watchers=1)
    channel = grpc.insecure_channel(running.address)
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    try:
        create_study(running.address, "s")
        # Deadline.
        call = open_watch(stub, timeout=1.0)
        with pytest.raises(grpc.RpcError) as ended:
            next(call)
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # Study deleted while watched.
        create_study(running.address, "doomed")
        call = open_watch_once_free(stub, "doomed")
        stub.DeleteStudy(pb.DeleteStudyRequest(study_id="doomed"), timeout=10)
        with pytest.raises(grpc.RpcError) as ended:
            next(call)
        assert ended.value.code() == grpc.StatusCode.NOT_FOUND
        # Study completed: the stream ends normally.
        with grpc.insecure_channel(running.address) as other:
            sanas_pb2_grpc.ControllerServiceStub(other).CreateStudy(
                pb.CreateStudyRequest(study_id="done", config=custom_config([3], search_steps=1)),
                timeout=10,
            )
        call = open_watch_once_free(stub, "done")
        trial = stub.SuggestTrial(pb.SuggestTrialRequest(study_id="done"), timeout=10).trial
        stub.CompleteTrial(
            pb.CompleteTrialRequest(
                study_id="done",
                trial_id=trial.trial_id,
                reward=1.0,
                study_uid=trial.study_uid,
                trial_fingerprint=trial.fingerprint,
            ),
            timeout=10,
        )
        kinds = [event.type for event in call]  # ends by itself (bounded: 3 events)
        assert kinds[-1] == pb.STUDY_EVENT_TYPE_STUDY_COMPLETED
        # A study that does not exist takes no slot.
        with pytest.raises(grpc.RpcError) as missing:
            open_watch(stub, "ghost")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        # Client cancel, then the one slot is free for the last watcher.
        open_watch_once_free(stub).cancel()
        last = open_watch_once_free(stub)
        with pytest.raises(grpc.RpcError) as refused:
            open_watch(stub)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        last.cancel()
    finally:
        channel.close()
        running.stop(1)


# -- the count in the controller, without gRPC -----------------------------------------
def request(table: tuple[int, ...] = (9, 9, 9)) -> StudyRequest:
    return StudyRequest(search_spaces=(SpaceConfig("custom", range_table=table),))


def test_controller_counts_live_subscriptions_until_unwatched() -> None:
    c = Controller(MemoryStorage(), max_watchers=2)
    c.create_study("s", request())
    a, b = c.watch("s"), c.watch("s")
    with pytest.raises(errors.TooManyWatchers, match="2 watch streams"):
        c.watch("s")
    with pytest.raises(errors.StudyNotFound):
        c.watch("ghost")  # checked before the limit, and takes no slot
    c.unwatch("s", a)
    c.unwatch("s", a)  # a handler's cleanup running twice frees one slot, not two
    c.watch("s")
    with pytest.raises(errors.TooManyWatchers):
        c.watch("s")
    # Ended by the server (shutdown): the slot is held until the handler unwatches,
    # because until then its thread is still busy.
    c.end_watches()
    assert b.get(timeout=1).kind is WatchKind.CURRENT_STATE
    assert b.get(timeout=1).kind is WatchKind.SHUTDOWN
    with pytest.raises(errors.TooManyWatchers):
        c.watch("s")
    c.unwatch("s", b)
    c.watch("s")


def test_max_watchers_zero_turns_watching_off_and_none_is_no_limit() -> None:
    off = Controller(MemoryStorage(), max_watchers=0)
    off.create_study("s", request())
    with pytest.raises(errors.TooManyWatchers, match="--max-watchers 0"):
        off.watch("s")
    unlimited = Controller(MemoryStorage())
    unlimited.create_study("s", request())
    assert len([unlimited.watch("s") for _ in range(100)]) == 100


def test_an_overflowed_or_deleted_watcher_frees_its_slot_when_unwatched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch_module, "WATCH_QUEUE", 2)
    c = Controller(MemoryStorage(), max_watchers=1)
    c.create_study("s", request())
    slow = c.watch("s")
    for _ in range(3):  # more events than its queue holds
        c.suggest_trial("s", "w")
    events = [slow.get(timeout=1), slow.get(timeout=1)]
    assert events[-1] is not None and events[-1].kind is WatchKind.OVERFLOW
    c.unwatch("s", slow)
    doomed = c.watch("s")
    c.delete_study("s")
    c.unwatch("s", doomed)  # the study is gone; the slot must still be freed
    c.create_study("t", request())
    c.watch("t")


@pytest.mark.parametrize(
    ("purge", "refusal"), [(True, errors.StudyNotFound), (False, errors.StudyDeleted)]
)
def test_a_watch_racing_a_delete_is_refused_instead_of_waiting_forever(
    monkeypatch: pytest.MonkeyPatch, purge: bool, refusal: type[Exception]
) -> None:
    c = Controller(MemoryStorage(), max_watchers=1)
    c.create_study("s", request())
    lookup = c._entry
    raced: list[bool] = []

    def entry_then_deleted(study_id: str) -> object:
        entry = lookup(study_id)
        if not raced:  # delete lands between watch()'s lookup and its subscribe
            raced.append(True)
            c.delete_study(study_id, purge=purge)
        return entry

    monkeypatch.setattr(c, "_entry", entry_then_deleted)
    with pytest.raises(refusal):
        c.watch("s")
    c.create_study("t", request())
    c.watch("t")  # the failed watch gave its slot back


def test_max_workers_and_max_watchers_must_be_sane() -> None:
    with pytest.raises(ValueError, match="max_watchers"):
        start_server("127.0.0.1", 0, None, max_watchers=-1)


def test_server_cli_max_watchers(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "ck", extra=("--max-watchers", "1"))
    try:
        create_study(server.address)
        with grpc.insecure_channel(server.address) as channel:
            stub = sanas_pb2_grpc.ControllerServiceStub(channel)
            first = open_watch(stub)
            with pytest.raises(grpc.RpcError) as refused:
                open_watch(stub)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "--max-watchers" in refused.value.details()
            first.cancel()
    finally:
        server.close()
    bad = subprocess.run(
        [str(SERVER_BIN), "--max-watchers", "-1"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "--max-watchers" in bad.stderr
    shown = subprocess.run([str(SERVER_BIN), "--help"], capture_output=True, text=True, timeout=30)
    assert "--max-watchers" in shown.stdout
