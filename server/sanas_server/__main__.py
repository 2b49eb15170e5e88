"""`sanas-server`: run the controller until SIGTERM or SIGINT, then drain and exit."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence

from .errors import CorruptCheckpoint
from .server import DEFAULT_MAX_WORKERS, start_server


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
        "--max-workers", type=int, default=DEFAULT_MAX_WORKERS, help="RPC worker threads"
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds running calls get at shutdown"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    try:
        running = start_server(args.host, args.port, args.checkpoint_dir, args.max_workers)
    except (OSError, CorruptCheckpoint) as exc:
        logging.error("cannot start: %s", exc)
        return 1
    # Printed on stdout so scripts (and tests) can read the real port when --port 0.
    print(f"sanas-server listening on {running.address}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    logging.info("shutting down: draining running calls (up to %.0f s)", args.grace)
    running.stop(args.grace)
    print("sanas-server stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
