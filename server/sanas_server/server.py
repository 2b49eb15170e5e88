"""Assembles a gRPC server: the controller service, health and reflection."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sanas.v1 import sanas_pb2, sanas_pb2_grpc
from sanas.wire import bracketed, is_loopback

from .audit import DEFAULT_NAME as AUDIT_LOG_NAME
from .audit import AuditLog
from .controller import DEFAULT_DELETED_RETENTION, PURGE_BATCH, Controller, Expiry, iso_time
from .credentials import DEFAULT_POLL_SECONDS, CredentialsWatcher, TlsReloader, TokenStore
from .interceptors import AccessInterceptor, MalformedRequestInterceptor
from .metrics import DEFAULT_STUDY_LABELS, Metrics
from .service import ControllerServicer
from .spans import NO_SPANS, Spans
from .storage import FileStorage, MemoryStorage, Storage

if TYPE_CHECKING:  # tracing is an extra: nothing of OpenTelemetry is imported without it
    from opentelemetry.trace import TracerProvider

log = logging.getLogger(__name__)
SERVICE_NAME = sanas_pb2.DESCRIPTOR.services_by_name["ControllerService"].full_name
DEFAULT_MAX_WORKERS = 64
DEFAULT_MAX_WATCHERS = 64
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_MAX_PENDING_PER_CLIENT = 16
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# While checkpoint writes fail, a small write is tried this often, so the health service
# turns SERVING again once there is room even when no trainer is left retrying.
STORAGE_PROBE_SECONDS = 5.0


@dataclass
class RunningServer:
    """A started server and what it needs to stop cleanly."""

    server: grpc.Server
    controller: Controller
    health: health.HealthServicer
    host: str
    port: int
    metrics_port: int | None = None
    _metrics_http: Any = None
    max_watchers: int = DEFAULT_MAX_WATCHERS
    metrics_host: str | None = None  # the address /metrics is bound to, once serving
    credentials: CredentialsWatcher | None = None
    audit: AuditLog | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _purger: threading.Thread | None = None  # purge_expired_studies' thread

    def reload_credentials(self) -> None:
        """Re-read the TLS files and tokens now (what SIGHUP does), changed or not."""
        if self.credentials is not None:
            self.credentials.reload_now()

    @property
    def address(self) -> str:
        return f"{bracketed(self.host)}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        if self.metrics_port is None or self.metrics_host is None:
            return None
        return f"http://{bracketed(self.metrics_host)}:{self.metrics_port}/metrics"

    def stop(self, grace: float | None = 5.0) -> None:
        """Stop taking calls, let running ones finish, then close the storage."""
        self._stopping.set()
        self.health.enter_graceful_shutdown()
        self.controller.end_watches()  # watch streams would hold the drain open
        self.server.stop(grace).wait()
        if self._purger is not None:  # a pass under way ends its batch (bounded) first
            self._purger.join(timeout=30)
        self.controller.close()
        if self.credentials is not None:
            self.credentials.stop()
        if self.audit is not None:
            self.audit.close()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()


def watch_storage(running: RunningServer, probe_seconds: float | None = None) -> None:
    """The controller service's health follows the storage: NOT_SERVING while checkpoint
    writes fail (see health.StorageHealth), SERVING again on the next success. The
    server as a whole ("") stays SERVING: what orchestrators probe, and neither a restart
    nor taking the pod out of its Service frees a disk, while reads and retries go on."""
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    health = running.controller.storage_health
    health.listen(
        lambda writable: running.health.set(SERVICE_NAME, serving if writable else not_serving)
    )

    interval = STORAGE_PROBE_SECONDS if probe_seconds is None else probe_seconds

    def probe() -> None:
        while not running._stopping.wait(interval):
            if not health.writable:
                running.controller.check_storage()

    threading.Thread(target=probe, name="sanas-storage-probe", daemon=True).start()


def purge_interval(retention: float) -> float:
    """How often soft-deleted studies are checked for an expired retention: a tenth of the
    retention, at least every minute and at most every 0.2 s (a minute with no retention,
    for studies soft-deleted under an earlier one). A study is purged at most that long
    after its expire_time."""
    if retention <= 0:
        return 60.0
    return min(60.0, max(0.2, retention / 10))


def expiry_record(expiry: Expiry) -> dict[str, Any]:
    """The audit log's line for a purge of an expired soft delete (the server's own)."""
    record: dict[str, Any] = {
        "action": "expire_study",
        "study_id": expiry.study_id,
        "outcome": "failed" if expiry.error else "ok",
        "uid": expiry.uid,
        "trials": expiry.trials,
        "delete_time": iso_time(expiry.deletion.delete_time),
        "expire_time": iso_time(expiry.deletion.expire_time),
    }
    if expiry.error:
        record["error"] = expiry.error
    return record


def purge_expired_studies(
    running: RunningServer, interval: float | None = None
) -> threading.Thread:
    """Purge the soft-deleted studies whose retention ran out: once at start, then every
    `interval` (purge_interval of the retention), a bounded batch a pass (the next batch
    follows at once while there are more); each purge is audited as `expire_study`."""
    controller = running.controller
    every = purge_interval(controller.deleted_retention) if interval is None else interval

    def run() -> None:
        wait = 0.0  # the first pass right at start
        while not running._stopping.wait(wait):
            wait = every
            try:
                expired = controller.purge_expired(PURGE_BATCH)
            except Exception:  # never let the thread die: the next pass tries again
                log.exception("purging expired soft-deleted studies failed")
                continue
            for expiry in expired:
                if running.audit is not None:
                    running.audit.record(expiry_record(expiry))
            if sum(1 for e in expired if not e.error) >= PURGE_BATCH:
                wait = 0.0  # more may be due: the next batch now

    thread = threading.Thread(target=run, name="sanas-purge-expired", daemon=True)
    thread.start()
    return thread


def open_storage(
    checkpoint_dir: str | Path | None, metrics: Metrics, spans: Spans = NO_SPANS
) -> Storage:
    if checkpoint_dir is None:
        return MemoryStorage()
    return FileStorage(checkpoint_dir, on_fsync=metrics.observe_fsync, spans=spans)


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate and key; with client_ca, clients must present a certificate
    signed by it (mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def reloader(self) -> TlsReloader:
        """The files as gRPC dynamic credentials, reloaded when they change (raises
        credentials.CredentialError, a ValueError, when they do not load now)."""
        return TlsReloader(self.cert, self.key, self.client_ca)


def exposure_warning(host: str, tls: TlsFiles | None, auth_token: str | None) -> str | None:
    """What to warn about when a non-loopback address is served with no protection."""
    if is_loopback(host) or tls is not None or auth_token:
        return None
    return (
        f"listening on {host} without TLS or a token: anyone who reaches this address can "
        "steer your searches (see --tls-cert / --auth-token-file)"
    )


def metrics_exposure_warning(host: str) -> str | None:
    """What to warn about when /metrics is bound beyond loopback: it is plain HTTP with
    no token whatever protects the gRPC port."""
    if is_loopback(host):
        return None
    return (
        f"metrics served on {host}, which has neither TLS nor a token: anyone who reaches "
        "this address reads your study names, trial counts and best rewards (bind them to "
        "loopback with --metrics-host 127.0.0.1 and scrape through a proxy)"
    )


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    checkpoint_dir: str | Path | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    *,
    tls: TlsFiles | None = None,
    auth_token: str | None = None,
    auth_token_file: str | Path | None = None,
    tokens_files: Sequence[str | Path] = (),
    audit_log: str | Path | None = None,
    credentials_poll_seconds: float = DEFAULT_POLL_SECONDS,
    max_pending_per_client: int = DEFAULT_MAX_PENDING_PER_CLIENT,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    metrics_port: int | None = None,
    metrics_host: str = DEFAULT_METRICS_HOST,
    max_watchers: int = DEFAULT_MAX_WATCHERS,
    allow_unbound_trial_calls: bool = False,
    metrics_study_labels: int = DEFAULT_STUDY_LABELS,
    tracer_provider: TracerProvider | None = None,
    deleted_retention: float = DEFAULT_DELETED_RETENTION,
) -> RunningServer:
    """Start serving on host:port (port 0 picks a free one; see RunningServer.port).

    Unary calls get max_workers threads and WatchStudy streams up to max_watchers more:
    the controller refuses a watcher beyond that, so streams, which hold a thread for as
    long as they are open, never take one that trainers or health checks need.

    `allow_unbound_trial_calls`: see ControllerServicer (for trainers of older clients
    while they are upgraded; warned about).

    Tokens (credentials.py): `auth_token` (a fixed admin token), `auth_token_file` (one
    admin token) and `tokens_files` (`ROLE TOKEN [LABEL]` lines); none of them: no token
    is checked. The files and the TLS files are polled every `credentials_poll_seconds`
    and reloaded when they change, or at `RunningServer.reload_credentials()`.
    `audit_log`: the audit log's path (default `<checkpoint_dir>/audit.log`; none without
    a checkpoint folder).

    `tracer_provider` (OpenTelemetry's; the `tracing` extra, tracing.configure): a span
    per sanas.v1 call, continuing the caller's trace, with child spans for the lock
    wait, the journal's group commit and fsync, and snapshots. The caller owns it (shuts
    it down after stop()). None: nothing of OpenTelemetry is imported.

    `deleted_retention`: seconds a soft-deleted study is kept before it is purged (7 days;
    0: DeleteStudy purges at once, as before soft deletes)."""
    if max_workers < 1:
        raise ValueError(f"max_workers = {max_workers}: must be >= 1")
    if max_watchers < 0:
        raise ValueError(f"max_watchers = {max_watchers}: must be >= 0 (0: no WatchStudy)")
    tokens = None
    if auth_token or auth_token_file or tokens_files:
        tokens = TokenStore(
            [Path(auth_token_file)] if auth_token_file else [],
            [Path(p) for p in tokens_files],
            auth_token,
        )
    tls_reloader = tls.reloader() if tls is not None else None
    for warning in (
        exposure_warning(host, tls, "token" if tokens is not None else None),
        metrics_exposure_warning(metrics_host) if metrics_port is not None else None,
    ):
        if warning:
            log.warning(warning)
    if allow_unbound_trial_calls:
        log.warning(
            "--allow-unbound-trial-calls: trial calls that name no study_uid and "
            "trial_fingerprint are accepted unchecked, so a stale trainer's result can land "
            "on another network after a study is created again or its folder restored; "
            "drop the flag once every trainer runs a client that sends them"
        )
    spans: Spans = NO_SPANS
    traced: list[grpc.ServerInterceptor] = []
    if tracer_provider is not None:
        from .tracing import OtelSpans, server_interceptors

        spans = OtelSpans(tracer_provider)
        traced = server_interceptors(tracer_provider)
    metrics = Metrics(metrics_study_labels)
    storage = open_storage(checkpoint_dir, metrics, spans)
    try:
        controller = Controller(
            storage,
            max_pending_per_client=max_pending_per_client,
            max_watchers=max_watchers,
            spans=spans,
            deleted_retention=deleted_retention,
        )
    except BaseException:
        storage.close()  # releases the folder lock: a retry in this process can take it
        raise
    metrics.watch(controller)
    if audit_log is None and checkpoint_dir is not None:
        audit_log = Path(checkpoint_dir) / AUDIT_LOG_NAME
    try:
        audit = AuditLog(audit_log) if audit_log is not None else None
    except OSError:
        controller.close()
        raise
    for part in (tokens, tls_reloader):
        if part is not None and audit is not None:
            part.audit = audit.record
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=max_workers + max_watchers, thread_name_prefix="sanas-rpc"
        ),
        # The token check runs first: an unauthenticated caller learns nothing more. A
        # call's span (tracing) covers all of them.
        interceptors=[
            *traced,
            metrics.interceptor(),
            AccessInterceptor(tokens, audit),
            MalformedRequestInterceptor(),
        ],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ],
    )
    sanas_pb2_grpc.add_ControllerServiceServicer_to_server(
        ControllerServicer(controller, allow_unbound_trial_calls), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    bind_host = bracketed(host)
    try:
        if tls_reloader is None:
            bound = server.add_insecure_port(f"{bind_host}:{port}")
        else:
            bound = server.add_secure_port(f"{bind_host}:{port}", tls_reloader.server_credentials())
    except RuntimeError as exc:
        controller.close()
        if audit is not None:
            audit.close()
        raise OSError(f"cannot listen on {bind_host}:{port}: {exc}") from exc
    if bound == 0:
        controller.close()
        if audit is not None:
            audit.close()
        raise OSError(f"cannot listen on {bind_host}:{port} (in use or not an address here)")
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("sanas controller serving on %s:%d", bind_host, bound)
    credentials = CredentialsWatcher(
        tokens,
        tls_reloader,
        credentials_poll_seconds,
        on_signal=[audit.reopen] if audit is not None else [],
    )
    running = RunningServer(
        server,
        controller,
        health_servicer,
        host,
        bound,
        max_watchers=max_watchers,
        credentials=credentials,
        audit=audit,
    )
    credentials.start()
    watch_storage(running)
    running._purger = purge_expired_studies(running)
    if metrics_port is not None:
        try:
            running._metrics_http, running.metrics_host, running.metrics_port = metrics.serve(
                metrics_host, metrics_port
            )
        except OSError:
            running.stop(0)
            raise
    return running
