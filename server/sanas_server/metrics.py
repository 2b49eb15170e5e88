"""Prometheus metrics of the controller (prometheus-client): RPC latency, journal fsync
time, and per-study gauges and counters read from the studies at scrape time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .controller import BrokenStudy, Controller
from .trials import TrialState

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class StudyCollector(Collector):
    def __init__(self, controller: Controller) -> None:
        self._controller = controller

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
            "1 for a study that is not served: its checkpoint could not be loaded, or it "
            "cannot be summarized (the reason is in the log and in GetStudy)",
            labels=["study"],
        )
        broken_count = 0
        families = (trials, best, temperature, budget, moves, expirations, saved, broken)
        for s in self._controller.summaries():
            if isinstance(s, BrokenStudy):
                broken.add_metric([s.study_id], 1.0)
                broken_count += 1
                continue
            try:
                # Computed first, added after: a study that fails half-way adds nothing.
                samples = [
                    *(
                        (trials, [s.study_id, state.value.lower()], float(s.counts[state]))
                        for state in TrialState
                    ),
                    *(
                        [(best, [s.study_id], float(s.best_reward))]
                        if s.best_reward is not None
                        else []
                    ),
                    (temperature, [s.study_id], float(s.temperature)),
                    (budget, [s.study_id], float(s.budget_remaining)),
                    (moves, [s.study_id, "accepted"], float(s.accepted_moves)),
                    (
                        moves,
                        [s.study_id, "rejected"],
                        float(s.rejected_moves),
                    ),
                    (expirations, [s.study_id], float(s.lease_expirations)),
                    (saved, [s.study_id], float(s.steps_saved)),
                ]
            except (ArithmeticError, ValueError, TypeError):
                log.exception("metrics: study %r cannot be rendered, counted as broken", s.study_id)
                broken.add_metric([s.study_id], 1.0)
                broken_count += 1
                continue
            for family, labels, value in samples:
                family.add_metric(labels, value)
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
        for operation, count in sorted(health.error_counts().items()):
            errors.add_metric([operation], float(count))
        yield errors
        yield GaugeMetricFamily(
            "sanas_storage_writable",
            "0 while checkpoint writes fail (the health service then reports NOT_SERVING)",
            value=1.0 if health.writable else 0.0,
        )


class Metrics:
    """One registry per server (so several servers in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.registry.register(StudyCollector(controller))

    def observe_fsync(self, seconds: float) -> None:
        self.fsync_seconds.observe(seconds)

    def serve(self, host: str, port: int) -> tuple[Any, str, int]:
        """Serve /metrics over plain HTTP; returns the server and the host and port it is
        really bound to (a name such as localhost resolved, port 0 picked)."""
        httpd, _ = start_http_server(port, addr=host, registry=self.registry)
        return httpd, httpd.server_address[0], httpd.server_port

    def interceptor(self) -> grpc.ServerInterceptor:
        return _LatencyInterceptor(self.rpc_seconds)


class _LatencyInterceptor(grpc.ServerInterceptor):
    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram

    def intercept_service(
        self, continuation: Callable[[Any], grpc.RpcMethodHandler], details: Any
    ) -> grpc.RpcMethodHandler:
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
                status = context.code()
                code = status.name if status is not None else "UNKNOWN"
                raise
            finally:
                self._histogram.labels(method, code).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
