"""Whether checkpoints can be written, as the controller learns it from its writes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
# Consecutive failed checkpoint writes (any study) after which the health service
# reports the controller service NOT_SERVING; the next write that succeeds ends it.
STORAGE_FAILURES_UNTIL_UNHEALTHY = 3


class StorageHealth:
    """Whether checkpoints can be written, learnt from the writes themselves.

    Every failed write is logged with its study and path and counted by operation. After
    STORAGE_FAILURES_UNTIL_UNHEALTHY failures in a row the listeners (the server's health
    service) hear `False`; the next write that succeeds, a trainer's retry or the server's
    periodic probe, makes it `True` again. One failure alone (a write racing a delete, a
    transient EIO) does not flip it."""

    def __init__(self, threshold: int = STORAGE_FAILURES_UNTIL_UNHEALTHY) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self.consecutive = 0
        self.writable = True
        self.errors: dict[str, int] = {}  # failed writes by operation, since start
        self._listeners: list[Callable[[bool], None]] = []

    def listen(self, listener: Callable[[bool], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
            listener(self.writable)

    def error_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.errors)

    def failed(self, operation: str, study_id: str, exc: BaseException) -> None:
        with self._lock:
            self.errors[operation] = self.errors.get(operation, 0) + 1
            self.consecutive += 1
            flipped = self.writable and self.consecutive >= self.threshold
            if flipped:
                self.writable = False
                for listener in self._listeners:  # under the lock: flips arrive in order
                    listener(False)
        log.error(
            "storage: %s of study %r failed: %s",
            operation,
            study_id,
            exc,
            extra={"operation": operation, "study": study_id},  # fields of --log-format json
        )
        if flipped:
            log.error(
                "storage: %d checkpoint writes in a row failed; health reports NOT_SERVING "
                "until one succeeds",
                self.consecutive,
            )

    def succeeded(self) -> None:
        if not self.consecutive:  # the usual case, without the lock: a racing failure
            return  # is reset by the next success instead
        with self._lock:
            self.consecutive = 0
            flipped = not self.writable
            if flipped:
                self.writable = True
                for listener in self._listeners:
                    listener(True)
        if flipped:
            log.warning("storage: checkpoint writes succeed again; health reports SERVING")
