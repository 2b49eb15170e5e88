"""OpenTelemetry tracing of the controller: the `tracing` extra, `sanas-server --tracing
otlp|console` (docs/observability.md). Imported only when tracing is on: without it no
module of the server imports OpenTelemetry.

- A SERVER span per sanas.v1 call, made by OpenTelemetry's own gRPC server interceptor
  (opentelemetry-instrumentation-grpc), which continues the caller's trace from the W3C
  `traceparent` metadata; `CallAttributes`, just inside it, adds what the call is about
  (`sanas.study_id`, `sanas.trial_id`, ...) and the status code of an error answered
  with `abort_with_status`, which that interceptor does not see.
- The child spans the controller and the storage make through `OtelSpans` (spans.py
  names them): the wait for the study's lock, the journal's group commit and its fsync,
  snapshots, study folders created and deleted.
- `configure` builds the tracer provider from the standard OTEL_* variables, refusing
  values it would otherwise ignore with a message that says what to set.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import filters, server_interceptor
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import Status, StatusCode

from .interceptors import PROTECTED_PREFIX, Handler, with_behavior
from .metrics import sanas_version
from .service import CLIENT_ID_METADATA
from .spans import Attribute, Span

log = logging.getLogger(__name__)
DEFAULT_SERVICE_NAME = "sanas-server"
INSTRUMENTATION = "sanas_server"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# OpenTelemetry's semantic conventions for a gRPC server span: these codes are the
# server's failure (span status ERROR); the others are the caller's (status left unset).
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
SAMPLERS = (
    "parentbased_always_on",  # the default
    "parentbased_always_off",
    "parentbased_traceidratio",
    "always_on",
    "always_off",
    "traceidratio",
)
PROTOCOLS = ("grpc", "http/protobuf")


# -- configuration ---------------------------------------------------------------------------
def sampler_from_env(environ: Mapping[str, str]) -> Sampler:
    """OTEL_TRACES_SAMPLER (+ OTEL_TRACES_SAMPLER_ARG for the ratio samplers). The default,
    parentbased_always_on, samples a call when its caller's trace is sampled, and every
    call that comes with no trace."""
    name = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or SAMPLERS[0]
    if name not in SAMPLERS:
        raise ValueError(
            f"OTEL_TRACES_SAMPLER={name!r} is not a sampler sanas-server knows: set it to one "
            f"of {', '.join(SAMPLERS)}, or unset it (default {SAMPLERS[0]})"
        )
    if name.endswith("traceidratio"):
        arg = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
        try:
            ratio = float(arg) if arg else 1.0
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(
                f"OTEL_TRACES_SAMPLER_ARG={arg!r}: {name} needs the share of traces to keep, "
                "a number from 0 to 1 (e.g. 0.1), or unset it (1.0)"
            )
        ratio_sampler = TraceIdRatioBased(ratio)
        return ParentBased(ratio_sampler) if name.startswith("parentbased_") else ratio_sampler
    return {
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
    }[name]


def otlp_exporter(environ: Mapping[str, str]) -> tuple[SpanExporter, str]:
    """The OTLP span exporter of OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (grpc, the default,
    or http/protobuf); it reads its endpoint, headers, certificate and timeout from the
    OTEL_EXPORTER_OTLP_* variables itself (default endpoint: a collector on localhost).
    Returns it and where it sends (for the log)."""
    variable = next(
        (
            v
            for v in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
            if environ.get(v, "").strip()
        ),
        None,
    )
    protocol = environ[variable].strip() if variable else "grpc"
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"{variable}={protocol!r}: sanas-server exports OTLP over grpc "
            "(a collector's port 4317, the default) or http/protobuf (port 4318); set it to "
            "one of them"
        )
    where = f"localhost ({protocol})"
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        endpoint = environ.get(variable, "").strip()
        if not endpoint:
            continue
        where = f"{endpoint} ({protocol})"  # the traces' own endpoint wins
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            port = 4317 if protocol == "grpc" else 4318
            raise ValueError(
                f"{variable}={endpoint!r} is not a collector's URL: give one such as "
                f"http://otel-collector:{port} (https:// for TLS)"
            )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(), where
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(), where


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + os.linesep


def configure(mode: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """The tracer provider of `--tracing MODE`: `otlp` batches spans to an OTLP collector,
    `console` writes each span as one JSON line on stderr (stdout is the server's own).
    The caller shuts it down after the server stops (the last spans are sent then).

    The resource is OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (default
    `sanas-server`) with `service.version`; the sampler is OTEL_TRACES_SAMPLER's."""
    env = os.environ if environ is None else environ
    sampler = sampler_from_env(env)
    if mode == "otlp":
        exporter, where = otlp_exporter(env)
    elif mode == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr, formatter=_one_line)
        where = "stderr"
    else:
        raise ValueError(f"--tracing {mode!r}: choose otlp or console (or off)")
    resource = Resource.create({SERVICE_VERSION: sanas_version()})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(sampler=sampler, resource=resource)
    if mode == "otlp":
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    log.info(
        "tracing sanas.v1 calls as service %r to %s",
        resource.attributes.get(SERVICE_NAME),
        where,
    )
    return provider


# -- child spans -----------------------------------------------------------------------------
class OtelSpans:
    """spans.Spans with OpenTelemetry: a span, child of the current one, per block."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._tracer = provider.get_tracer(INSTRUMENTATION, sanas_version())

    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None
    ) -> AbstractContextManager[Span]:
        return self._tracer.start_as_current_span(name, attributes=attributes)


# -- the span of each call -------------------------------------------------------------------
def server_interceptors(provider: trace.TracerProvider) -> list[grpc.ServerInterceptor]:
    """The interceptors that trace sanas.v1 calls, outermost first, to put before the
    server's others (so a call's span covers its token check and decoding). Health checks
    and reflection are not traced: probes would fill the traces."""
    traced = server_interceptor(
        tracer_provider=provider, filter_=filters.service_prefix("sanas.v1.")
    )
    return [traced, CallAttributes()]


def _set(span: trace.Span, key: str, value: Attribute) -> None:
    if value != "":
        span.set_attribute(key, value)


def _field(message: Message, name: str) -> Any:
    return getattr(message, name) if name in message.DESCRIPTOR.fields_by_name else None


def describe_request(span: trace.Span, request: Any, client_id: str) -> None:
    """What a call is about, from its request (a streamed request has none; an
    undecodable one is not a Message either) and the client id of its metadata."""
    if isinstance(request, Message):
        _set(span, "sanas.study_id", _field(request, "study_id") or "")
        trial_id = _field(request, "trial_id")
        if trial_id is not None:
            span.set_attribute("sanas.trial_id", trial_id)
        _set(span, "sanas.request_id", _field(request, "request_id") or "")
        client_id = _field(request, "client_id") or client_id
    _set(span, "sanas.client_id", str(client_id)[:128])


def _submessage(message: Message, name: str) -> Any:
    """A message field that is set, else None."""
    if name in message.DESCRIPTOR.fields_by_name and message.HasField(name):
        return getattr(message, name)
    return None


def describe_response(span: trace.Span, response: Any) -> None:
    """The trial a call was handed (SuggestTrial; CompleteTrial's next one) and the study
    a streamed request made (RestoreStudy)."""
    if not isinstance(response, Message):
        return
    trial = _submessage(response, "trial")
    if trial is not None:
        span.set_attribute("sanas.trial_id", trial.trial_id)
        _set(span, "sanas.study_id", trial.study_id)
    next_trial = _submessage(response, "next_trial")
    if next_trial is not None:
        span.set_attribute("sanas.next_trial_id", next_trial.trial_id)
    study = _submessage(response, "study")
    if study is not None:
        _set(span, "sanas.study_id", study.study_id)


def _error_reason(context: grpc.ServicerContext) -> str:
    """The google.rpc.ErrorInfo reason an aborted call carries (service.abort_with)."""
    try:
        trailing = context.trailing_metadata()
    except (AttributeError, NotImplementedError):
        return ""
    for key, value in trailing or ():
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return str(info.reason)
    return ""


def record_failure(span: trace.Span, context: grpc.ServicerContext, exc: BaseException) -> None:
    """The status code of a call that raised: the one it aborted with (grpc's context
    knows it), else UNKNOWN, which is what grpc answers for an uncaught exception."""
    try:
        code = context.code()  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError, RuntimeError):
        code = None
    if not isinstance(code, grpc.StatusCode) or code is grpc.StatusCode.OK:
        code = grpc.StatusCode.UNKNOWN
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    _set(span, "sanas.error_reason", _error_reason(context))
    if code in SERVER_ERRORS:
        try:
            details = context.details()  # type: ignore[attr-defined]
        except (AttributeError, NotImplementedError, RuntimeError):
            details = None
        if isinstance(details, bytes):
            details = details.decode(errors="replace")
        span.set_status(Status(StatusCode.ERROR, f"{code.name}: {details or exc!r}"))


def _quietly(describe: Callable[..., None], *args: Any) -> None:
    """Tracing never changes a call's answer: a failure to describe it is only logged."""
    try:
        describe(*args)
    except Exception:
        log.warning("could not set a call's span attributes", exc_info=True)


class CallAttributes(grpc.ServerInterceptor):
    """Sets a sanas.v1 call's attributes on the span the OpenTelemetry interceptor around
    it started (the current one), and its status code when it fails."""

    def intercept_service(
        self, continuation: Handler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        if handler is None or not details.method.startswith(PROTECTED_PREFIX):
            return handler
        client_id = next(
            (v for k, v in details.invocation_metadata or () if k == CLIENT_ID_METADATA), ""
        )
        if isinstance(client_id, bytes):
            client_id = client_id.decode(errors="replace")
        streamed = handler.response_streaming

        def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                span = trace.get_current_span()
                _quietly(describe_request, span, request, client_id)
                try:
                    response = behavior(request, context)
                except Exception as exc:
                    _quietly(record_failure, span, context, exc)
                    raise
                _quietly(describe_response, span, response)
                return response

            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                span = trace.get_current_span()
                _quietly(describe_request, span, request, client_id)
                try:
                    yield from behavior(request, context)
                except Exception as exc:
                    _quietly(record_failure, span, context, exc)
                    raise

            return stream if streamed else unary

        return with_behavior(handler, wrap)
