"""Child spans of a call: what the controller and the storage mark as taking time, for
OpenTelemetry tracing (`sanas-server --tracing`, the `tracing` extra; docs/observability.md).

This module imports no OpenTelemetry. The controller and the storage are handed a `Spans`
(NO_SPANS unless tracing is on, whose every span is one shared object that does nothing),
and `tracing.py`, imported only when tracing is on, provides the real ones. The study,
the annealer and the other pure modules never see either.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Protocol

# What a span attribute may hold here (OpenTelemetry's also takes sequences of these).
Attribute = str | bool | int | float

# The child spans (tests and docs/observability.md name them from here).
STUDY_LOCK = "sanas.study_lock"  # waiting for the study's lock
JOURNAL_COMMIT = "sanas.journal.commit"  # waiting until the call's events are on disk
JOURNAL_FSYNC = "sanas.journal.fsync"  # one group commit's write + fsync, by the thread doing it
SNAPSHOT = "sanas.snapshot"  # capturing a study's state and starting its next journal
SNAPSHOT_WRITE = "sanas.snapshot.write"  # writing and fsyncing snapshot.json
STORAGE_CREATE = "sanas.storage.create"  # a new study's folder, written and fsynced
STORAGE_DELETE = "sanas.storage.delete"  # the rename that deletes a study's folder

# `sanas-server --tracing`: off (the default) or where spans go.
TRACING_MODES = ("off", "otlp", "console")


class Span(Protocol):
    def set_attribute(self, key: str, value: Attribute) -> None: ...


class Spans(Protocol):
    """Starts a span, a child of the current one (the call's), for the block it guards."""

    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None
    ) -> AbstractContextManager[Span]: ...


class _NoSpan:
    """A span that records nothing; also its own context manager."""

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: Attribute) -> None:
        return None


_NO_SPAN = _NoSpan()


class NoSpans:
    """Tracing off: every span is the same object that does nothing."""

    def span(self, name: str, attributes: Mapping[str, Attribute] | None = None) -> _NoSpan:
        return _NO_SPAN


NO_SPANS = NoSpans()


def tracing_mode(flag: str | None, environ: Mapping[str, str]) -> str:
    """`--tracing` when given, else OTEL_TRACES_EXPORTER's otlp or console (`none`, or
    unset: off); any other value is a ValueError that says what to set."""
    if flag is not None:
        return flag
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in ("", "none"):
        return "off"
    if exporter not in TRACING_MODES[1:]:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={exporter!r}: sanas-server exports spans with otlp or "
            "console (none: no tracing); set it to one of them, or unset it and pass --tracing"
        )
    return exporter


def tracing_module(mode: str) -> ModuleType:
    """`sanas_server.tracing`, for `--tracing MODE`; a ValueError that says what to install
    when the `tracing` extra is missing."""
    try:
        return importlib.import_module("sanas_server.tracing")
    except ImportError as exc:
        raise ValueError(
            f"--tracing {mode} needs OpenTelemetry, which is not installed here "
            f"({exc.name or exc}): install the tracing extra, pip install 'sanas[tracing]', "
            "or run with --tracing off"
        ) from exc
