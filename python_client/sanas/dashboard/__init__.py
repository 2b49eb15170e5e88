"""`sanas dashboard`: a live web view of a controller's studies, served by its own process
that is a gRPC client of the controller (needs the `dashboard` extra:
pip install 'sanas[dashboard]'). See docs/dashboard.md."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

from ..client import Client
from ..wire import is_loopback


class DashboardConfigError(ValueError):
    """The dashboard refuses to start like this (the message says why)."""


def read_dashboard_token(host: str, token_file: str | None) -> str | None:
    """The token the dashboard requires, or None on loopback without one; refuses a
    non-loopback host without a token."""
    if token_file is None:
        if is_loopback(host):
            return None
        raise DashboardConfigError(
            f"refusing to serve the dashboard on {host} without a token: anyone who can "
            "reach it would see every study. Pass --dashboard-token-file FILE (a secret of "
            "16+ characters), or bind to 127.0.0.1 (the default) and tunnel to it."
        )
    try:
        token = Path(token_file).read_text().strip()
    except OSError as exc:
        raise DashboardConfigError(f"--dashboard-token-file {token_file}: {exc}") from None
    if len(token) < 16:
        raise DashboardConfigError(
            f"--dashboard-token-file {token_file}: the token must have 16+ characters"
        )
    return token


def serve(
    client_factory: Callable[[], Client],
    controller: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    token_file: str | None = None,
    allow_delete: bool = False,
    max_watches: int | None = None,
    idle_seconds: float | None = None,
) -> int:
    try:
        token = read_dashboard_token(host, token_file)
    except DashboardConfigError as exc:
        print(f"sanas dashboard: {exc}", file=sys.stderr)
        return 2
    try:
        import uvicorn

        from .app import Settings, create_app
        from .hub import Hub
    except ImportError as exc:
        print(
            f"sanas dashboard needs the dashboard extra ({exc.name} is missing): "
            "pip install 'sanas[dashboard]'",
            file=sys.stderr,
        )
        return 1
    from .hub import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_WATCHES

    if max_watches is not None and max_watches < 1:
        print(f"sanas dashboard: --max-watches {max_watches}: must be at least 1", file=sys.stderr)
        return 2
    if idle_seconds is not None and not idle_seconds > 0:
        print(f"sanas dashboard: --idle-seconds {idle_seconds}: must be above 0", file=sys.stderr)
        return 2
    hub = Hub(
        client_factory,
        max_watches=DEFAULT_MAX_WATCHES if max_watches is None else max_watches,
        idle_seconds=DEFAULT_IDLE_SECONDS if idle_seconds is None else idle_seconds,
    )
    settings = Settings(controller=controller, allow_delete=allow_delete, token=token, host=host)
    app = create_app(hub, settings)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"sanas dashboard: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"sanas dashboard on http://{shown}:{bound}/ (controller {controller})", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        hub.close()
    return 0
