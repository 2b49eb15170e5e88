"""A controller inside this process: the one module of the client that imports the server
(sanas_server), for SANAS(is_server=True) and the demo. The import contract in
.importlinter holds every other client module to the shared layer and the wire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sanas_server.errors import CheckpointInUse
from sanas_server.server import RunningServer, start_server

from .errors import CheckpointInUseError

__all__ = ["RunningServer", "start_embedded"]


def start_embedded(
    host: str, port: int = 0, checkpoint_dir: str | Path | None = None, **options: Any
) -> RunningServer:
    """Start a controller serving on host:port (port 0 picks one) with its checkpoints in
    `checkpoint_dir` (none: in memory); `options` go to sanas_server.server.start_server.
    CheckpointInUseError when another process holds the folder."""
    try:
        return start_server(host, port, checkpoint_dir, **options)
    except CheckpointInUse as exc:
        raise CheckpointInUseError(str(exc), code="FAILED_PRECONDITION") from exc
