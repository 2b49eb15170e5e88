"""OpenTelemetry tracing (the `tracing` extra, `sanas-server --tracing`): a span per call
with what it is about, child spans for the lock wait, the group commit and its fsync and
snapshots, a trainer's trace continued into the controller, spans exported over OTLP to a
collector, refused settings, and nothing of OpenTelemetry imported when tracing is off.

Real servers on loopback sockets; spans are read from the SDK's InMemorySpanExporter."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures
from typing import ClassVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import CHECKOUT_ENV, ROOT, ServerProcess, custom_config, wait_until
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from sanas import Client
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server import spans as names
from sanas_server.__main__ import parse_args
from sanas_server.controller import Controller
from sanas_server.server import start_server
from sanas_server.service import request_from_pb
from sanas_server.storage import FileStorage
from sanas_server.tracing import OtelSpans, configure

SERVICE = "sanas.v1.ControllerService"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exported):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    yield provider
    provider.shutdown()


@pytest.fixture
def traced(tmp_path, provider):
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt", tracer_provider=provider)
    yield running
    running.stop(grace=1)


def calls(exported: InMemorySpanExporter, method: str) -> list[ReadableSpan]:
    return [s for s in exported.get_finished_spans() if s.name == f"/{SERVICE}/{method}"]


def children(exported: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in exported.get_finished_spans()
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def test_a_suggest_complete_cycle_makes_a_span_per_call_with_its_children(traced, exported):
    with Client(traced.address, client_id="trainer-7", timeout=10) as client:
        client.create_study("s", custom_config([4, 4], search_steps=5))
        trial = client.suggest_trial("s")
        answer = client.complete_trial("s", trial, 0.5, suggest_next=True)
    with grpc.insecure_channel(traced.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    (create,) = calls(exported, "CreateStudy")
    (suggest,) = calls(exported, "SuggestTrial")
    (complete,) = calls(exported, "CompleteTrial")
    for span in (create, suggest, complete):
        assert span.kind is SpanKind.SERVER
        assert span.parent is None  # no trace came with the call: a trace of its own
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == SERVICE
        assert span.attributes["rpc.grpc.status_code"] == 0
        assert span.attributes["sanas.study_id"] == "s"
        assert span.status.status_code is StatusCode.UNSET
    assert create.attributes["rpc.method"] == "CreateStudy"
    assert suggest.attributes["rpc.method"] == "SuggestTrial"
    assert suggest.attributes["sanas.trial_id"] == trial.trial_id
    assert suggest.attributes["sanas.client_id"] == "trainer-7"
    assert len(suggest.attributes["sanas.request_id"]) == 32
    assert complete.attributes["sanas.trial_id"] == trial.trial_id
    assert complete.attributes["sanas.next_trial_id"] == answer.next_trial.trial_id

    # CreateStudy writes the study's folder; each trial call waits for the study's lock,
    # then for its group commit, whose write + fsync this call did (no other call ran).
    assert only(children(exported, create), names.STORAGE_CREATE).attributes == {
        "sanas.study_id": "s"
    }
    for call, records in ((suggest, 1), (complete, 2)):  # CompleteTrial + the next Suggest
        inside = children(exported, call)
        lock = only(inside, names.STUDY_LOCK)
        commit = only(inside, names.JOURNAL_COMMIT)
        assert lock.attributes["sanas.study_id"] == "s"
        assert lock.end_time <= commit.start_time
        assert commit.attributes["sanas.journal.records"] == records
        fsync = only(children(exported, commit), names.JOURNAL_FSYNC)
        assert fsync.attributes["sanas.journal.records"] == records
        assert fsync.attributes["sanas.journal.bytes"] > 100
        assert commit.start_time <= fsync.start_time <= fsync.end_time <= commit.end_time
        assert fsync.context.trace_id == call.context.trace_id
    # The health check is not traced (probes would fill the traces).
    assert all(s.name.startswith(("/sanas.v1.", "sanas.")) for s in exported.get_finished_spans())


def test_streams_and_failed_calls_carry_their_status(traced, exported, monkeypatch):
    with Client(traced.address, client_id="t", timeout=10) as client:
        client.create_study("s", custom_config([3, 3]))
        assert list(client.backup_study("s"))
        events = client.open_watch("s")
        next(iter(events))  # the current state
        events.cancel()
    stub = sanas_pb2_grpc.ControllerServiceStub(grpc.insecure_channel(traced.address))
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetStudy(pb.GetStudyRequest(study_id="nope"), timeout=10)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    # A disk that refuses the journal's fsync: the call answers UNAVAILABLE, a failure of
    # the server's own (span status ERROR), and the fsync span says why.
    real_fsync = os.fsync

    def refuse(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", refuse)
    with pytest.raises(grpc.RpcError) as full:
        stub.SuggestTrial(pb.SuggestTrialRequest(study_id="s", request_id="r1"), timeout=10)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert full.value.code() is grpc.StatusCode.UNAVAILABLE

    (backup,) = calls(exported, "BackupStudy")
    assert backup.attributes["sanas.study_id"] == "s"
    assert backup.attributes["rpc.grpc.status_code"] == 0
    assert only(children(exported, backup), names.JOURNAL_COMMIT)
    wait_until(lambda: calls(exported, "WatchStudy"))  # the span ends with the stream
    (watch,) = calls(exported, "WatchStudy")
    assert watch.attributes["sanas.study_id"] == "s"

    (get,) = calls(exported, "GetStudy")
    assert get.attributes["sanas.study_id"] == "nope"
    assert get.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert get.attributes["sanas.error_reason"] == "ERROR_REASON_STUDY_NOT_FOUND"
    assert get.status.status_code is StatusCode.UNSET  # the caller's mistake, not an error

    (suggest,) = calls(exported, "SuggestTrial")
    assert suggest.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    assert suggest.attributes["sanas.error_reason"] == "ERROR_REASON_STORAGE_FAILURE"
    assert suggest.status.status_code is StatusCode.ERROR
    assert "No space left on device" in suggest.status.description
    commit = only(children(exported, suggest), names.JOURNAL_COMMIT)
    assert commit.status.status_code is StatusCode.ERROR  # StorageFailure raised through it
    fsync = only(children(exported, commit), names.JOURNAL_FSYNC)
    assert fsync.attributes["error.type"] == "StorageFailure"


def test_refused_undecodable_and_restore_calls_are_traced(tmp_path, provider, exported):
    """With tokens: a call without one is refused inside its span; an undecodable request
    is described as far as it goes; a restore (a streamed request) names its study."""
    running = start_server(
        "127.0.0.1", 0, tmp_path / "ckpt", auth_token="s3cret", tracer_provider=provider
    )
    try:
        with Client(running.address, client_id="admin", timeout=10, auth_token="s3cret") as c:
            c.create_study("s", custom_config([3, 3]))
            messages = list(c.backup_study("s"))
            chunks = [m.snapshot_chunk for m in messages if m.snapshot_chunk]
            restored = c.restore_study(messages[0].header, chunks, "s2")
        assert restored.study.study_id == "s2"
        with grpc.insecure_channel(running.address) as channel:
            stub = sanas_pb2_grpc.ControllerServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetStudy(pb.GetStudyRequest(study_id="s"), timeout=10)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
            garbled = channel.unary_unary(f"/{SERVICE}/GetStudy")
            with pytest.raises(grpc.RpcError) as undecodable:
                garbled(b"\x0a\xff", metadata=[("authorization", "Bearer s3cret")], timeout=10)
            assert undecodable.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        running.stop(grace=1)
    (restore,) = calls(exported, "RestoreStudy")
    assert restore.attributes["sanas.study_id"] == "s2"
    assert restore.attributes["sanas.client_id"] == "admin"  # from its metadata
    assert only(children(exported, restore), names.STORAGE_CREATE)
    without_token, garbled_span = calls(exported, "GetStudy")
    assert without_token.attributes["sanas.study_id"] == "s"
    assert without_token.attributes["rpc.grpc.status_code"] == 16
    assert without_token.attributes["sanas.error_reason"] == "ERROR_REASON_UNAUTHENTICATED"
    assert children(exported, without_token) == []  # refused before the controller
    assert "sanas.study_id" not in garbled_span.attributes
    assert garbled_span.attributes["rpc.grpc.status_code"] == 3
    assert garbled_span.attributes["sanas.error_reason"] == "ERROR_REASON_INVALID_ARGUMENT"


def test_a_trainers_trace_continues_into_the_controller(traced, exported):
    """The Python client sends the current span's context (traceparent); the server's
    spans of that call are its children, in the trainer's trace."""
    trainer_spans = InMemorySpanExporter()
    trainer = TracerProvider()  # the trainer's own, as a training script configures it
    trainer.add_span_processor(SimpleSpanProcessor(trainer_spans))
    tracer = trainer.get_tracer("train.py")
    with Client(traced.address, client_id="t", timeout=10) as client:
        client.create_study("s", custom_config([3, 3]))
        with tracer.start_as_current_span("architecture step") as step:
            trial = client.suggest_trial("s")
            client.complete_trial("s", trial, 0.25)
        client.get_study("s")  # outside any span: a trace of its own
    trainer.shutdown()
    step_context = step.get_span_context()

    for method in ("SuggestTrial", "CompleteTrial"):
        (span,) = calls(exported, method)
        assert span.context.trace_id == step_context.trace_id
        assert span.parent is not None and span.parent.is_remote
        assert span.parent.span_id == step_context.span_id
        for child in children(exported, span):
            assert child.context.trace_id == step_context.trace_id
    (get,) = calls(exported, "GetStudy")
    assert get.parent is None and get.context.trace_id != step_context.trace_id
    assert [s.name for s in trainer_spans.get_finished_spans()] == ["architecture step"]


def test_a_traceparent_from_any_client_is_honoured(traced, exported):
    """A trainer in another language sends W3C trace context as metadata itself."""
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    stub = sanas_pb2_grpc.ControllerServiceStub(grpc.insecure_channel(traced.address))
    with pytest.raises(grpc.RpcError):
        stub.GetStudy(
            pb.GetStudyRequest(study_id="x"),
            metadata=[("traceparent", f"00-{trace_id}-{parent_id}-01")],
            timeout=10,
        )
    (get,) = calls(exported, "GetStudy")
    assert f"{get.context.trace_id:032x}" == trace_id
    assert f"{get.parent.span_id:016x}" == parent_id
    # Not sampled upstream (flags 00): the default sampler follows the caller.
    stub.ListStudies(
        pb.ListStudiesRequest(),
        metadata=[("traceparent", f"00-{trace_id}-{parent_id}-00")],
        timeout=10,
    )
    assert calls(exported, "ListStudies") == []


def test_snapshots_are_spans_of_the_call_that_takes_them(tmp_path, provider, exported):
    spans = OtelSpans(provider)
    controller = Controller(FileStorage(tmp_path, spans=spans), snapshot_every=3, spans=spans)
    try:
        controller.create_study("s", request_from_pb(custom_config([5, 5], search_steps=10)))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("call") as call:
            # The 3rd event (trial 2's Suggest) makes a snapshot due.
            for _ in range(2):
                trial = controller.suggest_trial("s", "t")
                controller.complete_trial("s", trial.trial_id, 0.5, False)
    finally:
        controller.close()
    snapshot = only(exported.get_finished_spans(), names.SNAPSHOT)
    assert snapshot.parent.span_id == call.get_span_context().span_id
    assert snapshot.attributes["sanas.study_id"] == "s"
    assert snapshot.attributes["sanas.snapshot.trials"] == 2
    write = only(children(exported, snapshot), names.SNAPSHOT_WRITE)
    assert write.attributes == {"sanas.study_id": "s"}
    assert snapshot.start_time <= write.start_time <= write.end_time <= snapshot.end_time


# -- OTLP export to a collector -----------------------------------------------------------
class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class HttpCollector(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, trace_service_pb2.ExportTraceServiceRequest]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append(
            (self.path, trace_service_pb2.ExportTraceServiceRequest.FromString(body))
        )
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def exported_spans(requests) -> dict[str, list[tuple[str, dict]]]:
    """service.name -> [(span name, attributes)] of OTLP export requests."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for request in requests:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value for a in span.attributes}
                    out.setdefault(resource["service.name"], []).append((span.name, attributes))
    return out


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sanas_server_sends_its_spans_to_an_otlp_collector(tmp_path, protocol):
    if protocol == "grpc":
        collector = Collector()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        stop = lambda: server.stop(0)  # noqa: E731
        received = lambda: collector.requests  # noqa: E731
    else:
        HttpCollector.requests = []
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HttpCollector)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        stop = lambda: (httpd.shutdown(), httpd.server_close())  # noqa: E731
        received = lambda: [r for _, r in HttpCollector.requests]  # noqa: E731
    env = {
        **CHECKOUT_ENV,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_SERVICE_NAME": "sanas-under-test",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    try:
        controller = ServerProcess(tmp_path / "ckpt", extra=("--tracing", "otlp"), env=env)
        try:
            with Client(controller.address, client_id="t", timeout=10) as client:
                client.create_study("s", custom_config([3, 3]))
                trial = client.suggest_trial("s")
                client.complete_trial("s", trial, 1.0)
            # Spans are sent in batches; the last ones when the server stops.
            assert controller.terminate() == 0
        finally:
            controller.close()
        got = exported_spans(received())
    finally:
        stop()
    if protocol == "http/protobuf":
        assert {path for path, _ in HttpCollector.requests} == {"/v1/traces"}
    assert set(got) == {"sanas-under-test"}
    spans = got["sanas-under-test"]
    names_sent = [name for name, _ in spans]
    for method in ("CreateStudy", "SuggestTrial", "CompleteTrial"):
        assert f"/{SERVICE}/{method}" in names_sent
    assert names_sent.count(names.JOURNAL_FSYNC) == 2
    suggest = next(a for n, a in spans if n == f"/{SERVICE}/SuggestTrial")
    assert suggest["sanas.study_id"].string_value == "s"
    assert suggest["sanas.trial_id"].int_value == trial.trial_id


# -- configuration ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_TRACES_SAMPLER": "sometimes"},
            "OTEL_TRACES_SAMPLER='sometimes' .*set it to one of parentbased_always_on",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
            "OTEL_TRACES_SAMPLER_ARG='10%': .*a number from 0 to 1",
        ),
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL='http/json': .*grpc .*or http/protobuf",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4317"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='collector:4317' .*http://otel-collector:4317",
        ),
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"},
            "OTEL_EXPORTER_OTLP_ENDPOINT='x' .*http://otel-collector:4318",
        ),
    ],
)
def test_settings_it_cannot_follow_are_refused_naming_the_fix(env, message):
    with pytest.raises(ValueError, match=message):
        configure("otlp", env)


def test_the_sampler_and_service_name_follow_the_environment(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    provider = configure("console", {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"})
    try:
        assert provider.resource.attributes["service.name"] == "sanas-server"
        assert "TraceIdRatioBased{1.0}" in provider.sampler.get_description()
    finally:
        provider.shutdown()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "controller-eu")
    provider = configure("console", {"OTEL_TRACES_SAMPLER": "always_off"})
    try:
        assert provider.resource.attributes["service.name"] == "controller-eu"
        assert provider.sampler.get_description() == "AlwaysOffSampler"
    finally:
        provider.shutdown()


def test_the_flag_and_otel_traces_exporter(monkeypatch, capsys):
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert parse_args([]).tracing == "off"
    assert parse_args(["--tracing", "console"]).tracing == "console"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert parse_args([]).tracing == "otlp"
    assert parse_args(["--tracing", "off"]).tracing == "off"  # the flag wins
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert parse_args([]).tracing == "off"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(SystemExit):
        parse_args([])
    assert "OTEL_TRACES_EXPORTER='zipkin'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--tracing", "jaeger"])
    assert "invalid choice: 'jaeger'" in capsys.readouterr().err


# -- tracing off ----------------------------------------------------------------------------
# Runs sanas-server's main() after importing every module of the server but tracing.py,
# and says at exit which modules of OpenTelemetry were loaded. BLOCK makes it a host
# without the extra: importing opentelemetry fails.
SERVER_SCRIPT = """
import atexit, json, os, pkgutil, sys
if os.environ.get("BLOCK_OPENTELEMETRY"):
    sys.modules["opentelemetry"] = None
import sanas_server
for module in pkgutil.iter_modules(sanas_server.__path__):
    if module.name not in ("tracing", "__main__"):
        __import__("sanas_server." + module.name)
atexit.register(lambda: print("LOADED " + json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] == "opentelemetry" and sys.modules[m]
)), file=sys.stderr, flush=True))
from sanas_server.__main__ import main
sys.exit(main())
"""


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in CHECKOUT_ENV.items() if not k.startswith("OTEL_")}
    return {**env, **extra}


@pytest.mark.parametrize("block", [False, True], ids=["extra installed", "no extra"])
def test_tracing_off_imports_no_opentelemetry_and_serves(tmp_path, block):
    env = script_env(**({"BLOCK_OPENTELEMETRY": "1"} if block else {}))
    controller = ServerProcess(
        tmp_path / "ckpt", env=env, command=(sys.executable, "-c", SERVER_SCRIPT)
    )
    try:
        with Client(controller.address, client_id="t", timeout=10) as client:
            client.create_study("s", custom_config([3, 3]))
            trial = client.suggest_trial("s")
            client.complete_trial("s", trial, 1.0)
        controller.proc.send_signal(signal.SIGTERM)
        _, err = controller.proc.communicate(timeout=30)
    finally:
        controller.close()
    assert controller.proc.returncode == 0, err
    assert json.loads(err.rsplit("LOADED ", 1)[1]) == []


def test_tracing_without_the_extra_says_what_to_install(tmp_path):
    flags = ["--tracing", "otlp", "--port", "0", "--checkpoint-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", SERVER_SCRIPT, *flags],
        env=script_env(BLOCK_OPENTELEMETRY="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "--tracing otlp needs OpenTelemetry" in done.stderr
    assert "pip install 'sanas[tracing]'" in done.stderr
    assert not (tmp_path / "sanas.lock").exists()  # refused before the folder was taken


def test_import_sanas_server_loads_no_opentelemetry():
    code = (
        "import sys, sanas_server, sanas_server.server, sanas_server.__main__, sanas.client\n"
        "print([m for m in sys.modules if m.startswith('opentelemetry')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=script_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == "[]"
