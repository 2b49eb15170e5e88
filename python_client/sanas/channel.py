"""A gRPC channel to a controller: the address with its default port, TLS, and the
bearer token added to every call."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

import grpc

from .errors import InvalidArgumentError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_PORT = 8881  # sanas-server's default
# gRPC target schemes (unix:/path, dns:///host:port, ...): passed through as they are.
TARGET_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")


def with_default_port(address: str, default_port: int = DEFAULT_PORT) -> str:
    """HOST:PORT with the controller's port when none is given: gRPC would otherwise
    use 443 for a bare host. Raises ValueError for a port that is not a number."""
    if address.startswith(TARGET_SCHEMES):
        return address
    try:
        if ipaddress.ip_address(address).version == 6:  # bare IPv6: its colons are no port
            return f"[{address}]:{default_port}"
    except ValueError:
        pass
    host, colon, port = address.rpartition(":")
    if not colon or address.endswith("]"):  # "host" or "[v6]"
        return f"{address}:{default_port}"
    if not port.isdigit() or not host:
        raise ValueError(f"address {address!r}: use HOST:PORT with a numeric port, or HOST alone")
    return address


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call (with or without TLS)."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)  # RestoreStudy


def trace_context() -> list[tuple[str, str]]:
    """The caller's OpenTelemetry trace context as gRPC metadata (W3C `traceparent`, and
    `tracestate` / `baggage` as the process's propagators say), so a trainer's trace
    continues into the controller's spans (`sanas-server --tracing`). Nothing when the
    process does not use OpenTelemetry: it is never imported here, only used once the
    application has imported it (to configure a tracer provider), and it is optional."""
    if "opentelemetry.trace" not in sys.modules:
        return []
    from opentelemetry.propagate import inject
    from opentelemetry.trace import get_current_span

    if not get_current_span().get_span_context().is_valid:
        return []  # no span here: nothing to continue
    carrier: dict[str, str] = {}
    inject(carrier)
    return list(carrier.items())


class _TraceContext(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
):
    """Adds the caller's trace context (trace_context()) to every call, when it has one."""

    def _with_context(self, details: Any) -> Any:
        context = trace_context()
        if not context:
            return details
        sent = {key for key, _ in context}
        metadata = [(k, v) for k, v in details.metadata or () if k not in sent]
        return details._replace(metadata=[*metadata, *context])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_context(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_context(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_context(details), requests)


def read_token(auth_token: str | None, auth_token_file: str | Path | None) -> str | None:
    if auth_token_file is not None:
        token = Path(auth_token_file).read_text().strip()
        if not token:
            raise ValueError(f"token file {auth_token_file} is empty")
        return token
    return auth_token


def open_channel(
    address: str,
    *,
    tls_ca_file: str | Path | None = None,
    tls_cert_file: str | Path | None = None,
    tls_key_file: str | Path | None = None,
    auth_token: str | None = None,
) -> grpc.Channel:
    """A channel to the controller: TLS when a CA or a client certificate is given."""
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # Reconnect within about a second of a controller restart (gRPC's default
        # backoff grows to two minutes).
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if tls_ca_file or tls_cert_file:
        if bool(tls_cert_file) != bool(tls_key_file):
            raise ValueError("give both tls_cert_file and tls_key_file for a client certificate")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=Path(tls_ca_file).read_bytes() if tls_ca_file else None,
            private_key=Path(tls_key_file).read_bytes() if tls_key_file else None,
            certificate_chain=Path(tls_cert_file).read_bytes() if tls_cert_file else None,
        )
        channel = grpc.secure_channel(address, credentials, options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    interceptors: list[Any] = []
    # A process that uses OpenTelemetry has imported it by the time it opens a channel
    # (to configure its tracer provider); any other pays nothing per call for tracing.
    if "opentelemetry.trace" in sys.modules:
        interceptors.append(_TraceContext())
    if auth_token:
        interceptors.append(_BearerToken(auth_token))
    return grpc.intercept_channel(channel, *interceptors) if interceptors else channel


def parse_server_addr(server_addr: Any) -> tuple[str, int]:
    """PaddleSlim's (ip, port) tuple, or a "host:port" / "host" string."""
    if isinstance(server_addr, str):
        try:  # the client's own parser: a bare host gets the controller's port
            host, _, port = with_default_port(server_addr).rpartition(":")
            return host.strip("[]"), int(port)
        except ValueError as exc:
            raise InvalidArgumentError(
                f"server_addr={server_addr!r}: the port is not a number ({exc}); use "
                "('host', port) or 'HOST:PORT'",
                code="INVALID_ARGUMENT",
            ) from None
    try:
        ip, port = server_addr
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"server_addr={server_addr!r}: use ('host', port) or 'host:port'",
            code="INVALID_ARGUMENT",
        ) from None
    return ip or "", DEFAULT_PORT if port is None else int(port)


def this_host_address() -> str:
    """PaddleSlim's meaning of an empty ip: this host's address."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
