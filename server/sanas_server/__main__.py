"""`sanas-server`: run the controller until SIGTERM or SIGINT, then drain and exit; SIGHUP
re-reads the TLS files and tokens (they are also reloaded when they change)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

# Before numpy is first imported (the imports below bring it in), since OpenBLAS reads
# it once, when it loads: a model-guided policy's fits are small matrices, for which a
# pool of BLAS threads on a shared machine costs far more than it saves (a 200 x 200
# Cholesky took 39 ms instead of 1 ms on 2 loaded cores). An operator's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .controller import DEFAULT_DELETED_RETENTION, MAX_DELETED_RETENTION
from .credentials import DEFAULT_POLL_SECONDS
from .errors import CheckpointInUse
from .logs import LOG_FORMATS, configure_logging
from .metrics import DEFAULT_STUDY_LABELS
from .server import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING_PER_CLIENT,
    DEFAULT_MAX_WATCHERS,
    DEFAULT_MAX_WORKERS,
    DEFAULT_METRICS_HOST,
    TlsFiles,
    start_server,
)
from .spans import TRACING_MODES, tracing_mode, tracing_module

DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def retention(text: str) -> float:
    """Seconds of a retention: a number, optionally with a unit s, m, h or d ("7d",
    "36h", "90", "0.5s"); 0 to 100 years."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([smhd]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: a number of seconds, or one with a unit s, m, h "
            "or d (e.g. 7d, 36h, 90m)"
        )
    seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if not seconds <= MAX_DELETED_RETENTION:
        raise argparse.ArgumentTypeError(
            f"{text!r}: at most 100 years ({MAX_DELETED_RETENTION:.0f} s)"
        )
    return seconds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sanas-server",
        description="Simulated-annealing NAS controller (gRPC service sanas.v1.ControllerService)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8881, help="port; 0 picks a free one")
    parser.add_argument(
        "--checkpoint-dir",
        default="./sanas_checkpoints",
        help="folder of durable study checkpoints (default ./sanas_checkpoints)",
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        default=DEFAULT_MAX_WORKERS,
        help=f"worker threads for unary RPCs (default {DEFAULT_MAX_WORKERS})",
    )
    parser.add_argument(
        "--max-watchers",
        type=int,
        default=DEFAULT_MAX_WATCHERS,
        help=(
            "WatchStudy streams open at once, each with a thread of its own on top of "
            "--max-workers; more are refused with RESOURCE_EXHAUSTED "
            f"(default {DEFAULT_MAX_WATCHERS}; 0: no watching)"
        ),
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds running calls get at shutdown"
    )
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM): serve TLS")
    parser.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    parser.add_argument(
        "--tls-client-ca", type=Path, help="CA (PEM) that client certificates must chain to: mTLS"
    )
    parser.add_argument(
        "--auth-token-file",
        type=Path,
        help="file holding one bearer token (an admin's) every call must send",
    )
    parser.add_argument(
        "--tokens-file",
        type=Path,
        action="append",
        default=[],
        help=(
            "file of bearer tokens, one a line: 'ROLE TOKEN [LABEL]', ROLE admin or trainer "
            "(# comments); repeatable, and combines with --auth-token-file"
        ),
    )
    parser.add_argument(
        "--credentials-poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        help=(
            "how often the TLS and token files are checked for changes, reloaded when they "
            f"change (default {DEFAULT_POLL_SECONDS:g}); SIGHUP reloads them at once"
        ),
    )
    parser.add_argument(
        "--audit-log",
        type=Path,
        help=(
            "append-only JSON-lines log of study creates, deletes, purges, undeletes, "
            "imports, backups, restores, expiry purges, refused admin calls and credential "
            "reloads (default <checkpoint-dir>/audit.log)"
        ),
    )
    parser.add_argument(
        "--max-pending-per-client",
        type=int,
        default=DEFAULT_MAX_PENDING_PER_CLIENT,
        help="running trials one client_id may hold (0: no limit)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest request or response (RESOURCE_EXHAUSTED above it)",
    )
    parser.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this port (0: any free one)"
    )
    parser.add_argument(
        "--metrics-host",
        default=DEFAULT_METRICS_HOST,
        help=(
            "address the metrics are served on, whatever --host is (default loopback: they "
            "are plain HTTP with no token, and name your studies and their rewards)"
        ),
    )
    parser.add_argument(
        "--metrics-study-labels",
        type=int,
        default=DEFAULT_STUDY_LABELS,
        metavar="N",
        help=(
            "studies that get metric series of their own: those with running trials first, "
            'then the most recent; the others are summed under study="_other" '
            f"(default {DEFAULT_STUDY_LABELS}; 0: all summed)"
        ),
    )
    parser.add_argument(
        "--allow-unbound-trial-calls",
        action="store_true",
        help=(
            "accept CompleteTrial, ReportTrialProgress, HeartbeatTrial and SkipTrial calls "
            "that name no study_uid and trial_fingerprint (clients older than them), "
            "unchecked, while trainers are upgraded; by default they are refused with "
            "INVALID_ARGUMENT, since such a call may be for a trial the study no longer has"
        ),
    )
    parser.add_argument(
        "--tracing",
        choices=TRACING_MODES,
        help=(
            "OpenTelemetry spans of every call (needs the tracing extra: pip install "
            "'sanas[tracing]'): otlp sends them to a collector (OTEL_EXPORTER_OTLP_ENDPOINT, "
            "default localhost), console writes one JSON line a span on stderr; the OTEL_* "
            "variables set the service name and sampler (default: off, or "
            "OTEL_TRACES_EXPORTER's otlp, console or none)"
        ),
    )
    parser.add_argument(
        "--deleted-retention",
        type=retention,
        default=DEFAULT_DELETED_RETENTION,
        metavar="DURATION",
        help=(
            "how long a soft-deleted study is kept (undeletable) before it is purged, e.g. "
            "7d, 36h, 90m, 600 (seconds); 0: every delete purges at once (default 7d)"
        ),
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="text (default) or json: one object per line (time, level, logger, message, ...)",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.credentials_poll_seconds <= 0:
        parser.error("--credentials-poll-seconds must be positive")
    if args.max_workers < 1:
        parser.error(f"--max-workers {args.max_workers}: must be at least 1")
    if args.metrics_study_labels < 0:
        parser.error(f"--metrics-study-labels {args.metrics_study_labels}: must be at least 0")
    if args.max_watchers < 0:
        parser.error(f"--max-watchers {args.max_watchers}: must be at least 0 (0: no watching)")
    try:
        args.tracing = tracing_mode(args.tracing, os.environ)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    provider = None
    try:
        if args.tracing != "off":
            provider = tracing_module(args.tracing).configure(args.tracing)
        tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
        running = start_server(
            args.host,
            args.port,
            args.checkpoint_dir,
            args.max_workers,
            tls=tls,
            auth_token_file=args.auth_token_file,
            tokens_files=args.tokens_file,
            audit_log=args.audit_log,
            credentials_poll_seconds=args.credentials_poll_seconds,
            max_pending_per_client=args.max_pending_per_client,
            max_message_bytes=args.max_message_bytes,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
            max_watchers=args.max_watchers,
            allow_unbound_trial_calls=args.allow_unbound_trial_calls,
            metrics_study_labels=args.metrics_study_labels,
            tracer_provider=provider,
            deleted_retention=args.deleted_retention,
        )
    except (OSError, ValueError, CheckpointInUse) as exc:
        logging.error("cannot start: %s", exc)
        if provider is not None:
            provider.shutdown()
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Installed before the line below tells scripts the server is up. SIGHUP (by default
    # it ends the process) re-reads the credentials: the handler only wakes the thread
    # that reloads them.
    signal.signal(signal.SIGHUP, lambda *_: running.reload_credentials())
    # Printed on stdout so scripts (and tests) can read the real port when --port 0.
    print(f"sanas-server listening on {running.address}", flush=True)
    if running.metrics_url is not None:
        print(f"metrics on {running.metrics_url}", flush=True)
    stop.wait()
    logging.info("shutting down: draining running calls (up to %.0f s)", args.grace)
    running.stop(args.grace)
    if provider is not None:
        provider.shutdown()  # sends the spans still batched
    print("sanas-server stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
