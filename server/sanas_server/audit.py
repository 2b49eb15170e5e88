"""The audit log: one JSON object a line, appended and fsynced, of who created, deleted,
purged, undeleted or imported which study (and which soft-deleted studies the controller
purged when their retention ran out), who was refused an admin call, and every
credentials reload.

Who is the token's role, label and fingerprint (never the token), the client id the
client sends (`sanas-client-id` metadata), its user agent and the peer address. A line
that cannot be written is logged (ERROR) and the call goes on: the audit log records,
it does not guard.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DEFAULT_NAME = "audit.log"


class AuditLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if not existed:  # the new file's folder entry is durable too
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def record(self, event: dict[str, Any]) -> None:
        now = time.time()
        line = {
            "time": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "unix": round(now, 3),
            **event,
        }
        data = (json.dumps(line, sort_keys=False, default=str) + "\n").encode()
        with self._lock:
            if self._fd < 0:
                return
            try:
                os.write(self._fd, data)  # O_APPEND: one write, one line, never interleaved
                os.fsync(self._fd)
            except OSError as exc:
                log.error("audit log %s: cannot write %s: %s", self.path, line, exc)

    def reopen(self) -> None:
        """Open the path again (after a log rotation renamed the file; SIGHUP)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with self._lock:
            old, self._fd = self._fd, fd
        if old >= 0:
            os.close(old)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_audit_log(path: str | Path) -> list[dict[str, Any]]:
    """Every whole line of an audit log (a line torn by a crash is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
