"""Prometheus metrics of the controller (prometheus-client): RPC latency, journal fsync
time, per-study gauges and counters read from the studies at scrape time, the process's
own (CPU, memory, file descriptors, start time), `sanas_build_info` and the watch slots.

Per-study series are bounded (`--metrics-study-labels N`, see docs/observability.md):
only the N studies ranked first (running trials first, then not completed, then the most
recently created) get series of their own; the others are added up under
study="_other" (trial counts, counters and budgets summed, best reward the largest,
temperature left out), so a controller with ten thousand studies does not make ten
thousand series per metric."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import grpc
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .controller import BrokenStudy, Controller
from .interceptors import Handler
from .study import StudySummary
from .trials import TrialState

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Studies with series of their own (`--metrics-study-labels`); the rest are "_other".
DEFAULT_STUDY_LABELS = 100
OTHER_STUDY = "_other"
# Every operation StorageHealth counts failures of, exported at 0 from the start so
# that increase() sees the first failure (a series that appears at 1 shows no increase).
STORAGE_OPERATIONS = ("create", "delete", "journal write", "probe", "snapshot", "undelete")


def sanas_version() -> str:
    try:
        return version("sanas")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def study_rank(s: StudySummary) -> tuple[bool, bool, float, str]:
    """Sort key, most deserving of its own series first: running trials, then not
    completed, then the most recently created (the id breaks ties, so it is stable)."""
    return (
        s.counts[TrialState.ACTIVE] == 0,
        s.completed,
        -s.create_time,
        s.study_id,
    )


# (family key, label values, value): one sample, before it is placed.
Row = tuple[str, list[str], float]


def study_rows(s: StudySummary) -> list[Row]:
    """A healthy study's samples, keyed by family (see StudyCollector.collect)."""
    sid = s.study_id
    return [
        *(("trials", [sid, state.value.lower()], float(s.counts[state])) for state in TrialState),
        *([("best", [sid], float(s.best_reward))] if s.best_reward is not None else []),
        ("temperature", [sid], float(s.temperature)),
        ("budget", [sid], float(s.budget_remaining)),
        ("moves", [sid, "accepted"], float(s.accepted_moves)),
        ("moves", [sid, "rejected"], float(s.rejected_moves)),
        ("expirations", [sid], float(s.lease_expirations)),
        ("saved", [sid], float(s.steps_saved)),
    ]


def _aggregate(rows: list[Row]) -> list[Row]:
    """Rows of one study each, folded into one row per (metric, labels) under _other."""
    out: dict[tuple[str, tuple[str, ...]], float] = {}
    for name, labels, value in rows:
        key = (name, (OTHER_STUDY, *labels[1:]))
        if name == "best":
            out[key] = max(out.get(key, value), value)
        else:
            out[key] = out.get(key, 0.0) + value
    return [(name, list(labels), value) for (name, labels), value in out.items()]


class StudyCollector(Collector):
    def __init__(self, controller: Controller, study_labels: int = DEFAULT_STUDY_LABELS) -> None:
        if study_labels < 0:
            raise ValueError(f"study_labels = {study_labels}: must be >= 0")
        self._controller = controller
        self._study_labels = study_labels

    def collect(self) -> Iterator[Any]:
        trials = GaugeMetricFamily("sanas_trials", "Trials by state", labels=["study", "state"])
        best = GaugeMetricFamily("sanas_best_reward", "Best reward so far", labels=["study"])
        temperature = GaugeMetricFamily(
            "sanas_temperature", "Current annealing temperature", labels=["study"]
        )
        budget = GaugeMetricFamily(
            "sanas_budget_remaining", "Trials the study may still issue", labels=["study"]
        )
        moves = CounterMetricFamily(
            "sanas_moves",
            "Completed results by whether they moved the base",
            labels=["study", "result"],
        )
        expirations = CounterMetricFamily(
            "sanas_lease_expirations",
            "Trials re-issued after their lease ran out",
            labels=["study"],
        )
        saved = CounterMetricFamily(
            "sanas_steps_saved",
            "Steps (epochs) the early-stopped trials did not train",
            labels=["study"],
        )
        broken = GaugeMetricFamily(
            "sanas_study_broken",
            "1 for a study that is not served: its checkpoint could not be loaded (damaged, "
            "or written by a newer release), or it cannot be summarized (the reason is in "
            "the log and in GetStudy)",
            labels=["study"],
        )
        families = (trials, best, temperature, budget, moves, expirations, saved, broken)
        by_name: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "trials": trials,
            "best": best,
            "temperature": temperature,
            "budget": budget,
            "moves": moves,
            "expirations": expirations,
            "saved": saved,
            "broken": broken,
        }
        ranked: list[tuple[tuple[bool, bool, float, str], StudySummary, list[Row]]] = []
        broken_ids: list[str] = []
        deleted_count = 0
        for s in self._controller.summaries():
            if isinstance(s, BrokenStudy):
                broken_ids.append(s.study_id)
                continue
            if s.delete_time is not None:
                # Soft-deleted: counted, with no series of its own (it is not searching).
                deleted_count += 1
                continue
            try:
                # Computed first, added after: a study that fails half-way adds nothing.
                ranked.append((study_rank(s), s, study_rows(s)))
            except (ArithmeticError, ValueError, TypeError, KeyError):
                log.exception("metrics: study %r cannot be rendered, counted as broken", s.study_id)
                broken_ids.append(s.study_id)
        broken_count = len(broken_ids)
        ranked.sort(key=lambda item: item[0])
        healthy = [(s, rows) for _, s, rows in ranked]
        limit = self._study_labels
        own = [row for _, rows in healthy[:limit] for row in rows]
        rest = [row for _, rows in healthy[limit:] for row in rows if row[0] != "temperature"]
        broken_ids.sort()
        own += [("broken", [study_id], 1.0) for study_id in broken_ids[:limit]]
        rest += [("broken", [study_id], 1.0) for study_id in broken_ids[limit:]]
        for name, labels, value in [*own, *_aggregate(rest)]:
            by_name[name].add_metric(labels, value)
        studies = GaugeMetricFamily(
            "sanas_studies",
            "Studies by status: running (trials out), idle, completed, broken, deleted "
            "(soft-deleted, kept until their retention runs out)",
            labels=["status"],
        )
        status_counts = {
            "running": 0,
            "idle": 0,
            "completed": 0,
            "broken": broken_count,
            "deleted": deleted_count,
        }
        for s, _ in healthy:
            if s.completed:
                status_counts["completed"] += 1
            elif s.counts[TrialState.ACTIVE]:
                status_counts["running"] += 1
            else:
                status_counts["idle"] += 1
        for status, count in status_counts.items():
            studies.add_metric([status], float(count))
        yield studies
        yield GaugeMetricFamily(
            "sanas_study_series_limit",
            "Studies that get series of their own (--metrics-study-labels); the others "
            'are summed under study="_other"',
            value=float(limit),
        )
        yield from families
        yield GaugeMetricFamily(
            "sanas_studies_broken",
            "Studies that are not served (see sanas_study_broken)",
            value=float(broken_count),
        )
        health = self._controller.storage_health
        errors = CounterMetricFamily(
            "sanas_storage_errors",
            "Checkpoint writes that failed, by operation (each is logged with its path)",
            labels=["operation"],
        )
        counts = {operation: 0 for operation in STORAGE_OPERATIONS}
        counts.update(health.error_counts())
        for operation, count in sorted(counts.items()):
            errors.add_metric([operation], float(count))
        yield errors
        yield GaugeMetricFamily(
            "sanas_storage_writable",
            "0 while checkpoint writes fail (the health service then reports NOT_SERVING)",
            value=1.0 if health.writable else 0.0,
        )


class WatchCollector(Collector):
    """The WatchStudy slots (--max-watchers): how many are taken, and the cap."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    def collect(self) -> Iterator[Any]:
        used, cap = self._controller.watch_slots()
        yield GaugeMetricFamily(
            "sanas_watch_streams", "WatchStudy streams open (each holds a thread)", value=used
        )
        yield GaugeMetricFamily(
            "sanas_watch_streams_max",
            "WatchStudy streams allowed at once (--max-watchers; more are refused)",
            value=float(cap),
        )


class Metrics:
    """One registry per server (so several servers in one process do not collide).

    Besides the controller's own metrics it carries the process's (process_cpu_seconds_total,
    process_resident_memory_bytes, process_open_fds, process_start_time_seconds, ...), the
    interpreter's (python_info, python_gc_*) and `sanas_build_info`."""

    def __init__(self, study_labels: int = DEFAULT_STUDY_LABELS) -> None:
        if study_labels < 0:
            raise ValueError(f"study_labels = {study_labels}: must be >= 0")
        self.study_labels = study_labels
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        build = Gauge(
            "sanas_build_info",
            "Always 1; the labels say which sanas, Python and grpcio this controller runs",
            ["version", "python", "grpc"],
            registry=self.registry,
        )
        build.labels(sanas_version(), platform.python_version(), grpc.__version__).set(1)
        self.rpc_seconds = Histogram(
            "sanas_rpc_duration_seconds",
            "RPC latency by method and status code",
            ["method", "code"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.fsync_seconds = Histogram(
            "sanas_journal_fsync_seconds",
            "Duration of journal fsyncs (one per group commit)",
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )

    def watch(self, controller: Controller) -> None:
        self.registry.register(StudyCollector(controller, self.study_labels))
        self.registry.register(WatchCollector(controller))

    def observe_fsync(self, seconds: float) -> None:
        self.fsync_seconds.observe(seconds)

    def serve(self, host: str, port: int) -> tuple[Any, str, int]:
        """Serve /metrics over plain HTTP; returns the server and the host and port it is
        really bound to (a name such as localhost resolved, port 0 picked)."""
        httpd, _ = start_http_server(port, addr=host, registry=self.registry)
        bound = httpd.server_address[0]
        assert isinstance(bound, str)  # an AF_INET / AF_INET6 address: (host, port, ...)
        return httpd, bound, httpd.server_port

    def interceptor(self) -> grpc.ServerInterceptor:
        return _LatencyInterceptor(self.rpc_seconds)


class _LatencyInterceptor(grpc.ServerInterceptor):
    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram

    def intercept_service(
        self, continuation: Handler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # streams are not request latencies
        method = details.method.rsplit("/", 1)[-1]
        behavior = handler.unary_unary

        def timed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = "OK"
            try:
                return behavior(request, context)
            except Exception:
                # grpc's server context has code() (1.38+); the stubs' ServicerContext lacks it.
                status = context.code()  # type: ignore[attr-defined]
                code = status.name if status is not None else "UNKNOWN"
                raise
            finally:
                self._histogram.labels(method, code).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
