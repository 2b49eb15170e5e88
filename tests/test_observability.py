"""Observability of the controller: the process and build metrics, the watch slots, the
per-study series bounded by --metrics-study-labels (the rest summed under
study="_other"), and `--log-format json` (one JSON object per line)."""

from __future__ import annotations

import io
import json
import logging
import platform
import subprocess
import time
import urllib.request

import grpc
import pytest
from helpers import CHECKOUT_ENV, SERVER_BIN, custom_config
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sanas import Client
from sanas_server.logs import JsonFormatter, configure_logging
from sanas_server.metrics import OTHER_STUDY, StudyCollector, sanas_version
from sanas_server.server import start_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str) -> str:
    return urllib.request.urlopen(url, timeout=10).read().decode()


def collect(collector: StudyCollector) -> dict:
    registry = CollectorRegistry()
    registry.register(collector)
    return samples(generate_latest(registry).decode())


@pytest.fixture
def four_studies(tmp_path):
    """A server with studies a, b, c, d (created in that order) and a trial out in a."""
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt", metrics_port=0)
    try:
        with Client(running.address, client_id="t", timeout=10) as c:
            for study_id in "abcd":
                c.create_study(study_id, custom_config([3, 3]))
            c.suggest_trial("a")
            for _ in range(2):  # b has results: counters to sum
                trial = c.suggest_trial("b")
                c.complete_trial("b", trial, 0.5)
        yield running
    finally:
        running.stop(grace=1)


def test_process_build_and_watch_metrics_are_served(four_studies):
    got = samples(scrape(four_studies.metrics_url))
    names = {name for name, _ in got}
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_collections_total",
    ):
        assert name in names, name
    build = {labels: v for (name, labels), v in got.items() if name == "sanas_build_info"}
    assert build == {
        (
            ("grpc", grpc.__version__),
            ("python", platform.python_version()),
            ("version", sanas_version()),
        ): 1.0
    }
    assert got[("sanas_watch_streams", ())] == 0
    assert got[("sanas_watch_streams_max", ())] == four_studies.max_watchers
    assert got[("sanas_study_series_limit", ())] == 100
    status = {dict(labels)["status"]: v for (n, labels), v in got.items() if n == "sanas_studies"}
    assert status == {"running": 1, "idle": 3, "completed": 0, "broken": 0, "deleted": 0}
    # Every storage operation is there from the start, at 0, so increase() sees the first.
    errors = {
        dict(lb)["operation"] for (n, lb), _ in got.items() if n == "sanas_storage_errors_total"
    }
    assert errors == {"create", "delete", "journal write", "probe", "snapshot", "undelete"}


def test_an_open_watch_takes_a_slot(four_studies):
    with Client(four_studies.address, timeout=10) as c:
        stream = c.open_watch("a")
        try:
            next(iter(stream))  # the current state: the watch is registered
            got = samples(scrape(four_studies.metrics_url))
            assert got[("sanas_watch_streams", ())] == 1
        finally:
            stream.cancel()


def test_only_the_first_studies_get_series_the_rest_are_summed(four_studies):
    controller = four_studies.controller
    every = collect(StudyCollector(controller, 100))
    bounded = collect(StudyCollector(controller, 2))

    def studies(got: dict) -> set[str]:
        return {dict(lb)["study"] for (_, lb), _ in got.items() if "study" in dict(lb)}

    assert studies(every) == {"a", "b", "c", "d"}
    # "a" has a trial out; then the most recent: "d". "b" and "c" are summed.
    assert studies(bounded) == {"a", "d", OTHER_STUDY}
    for (name, labels), value in bounded.items():
        lb = dict(labels)
        if lb.get("study") in ("a", "d"):
            assert every[(name, labels)] == value
        elif lb.get("study") == OTHER_STUDY:
            parts = [
                every.get((name, tuple(sorted({**lb, "study": s}.items())))) for s in ("b", "c")
            ]
            parts = [p for p in parts if p is not None]
            expected = max(parts) if name == "sanas_best_reward" else sum(parts)
            assert value == pytest.approx(expected), name
    assert ("sanas_moves_total", (("result", "rejected"), ("study", OTHER_STUDY))) in bounded
    assert not [k for k in bounded if k[0] == "sanas_temperature" and OTHER_STUDY in str(k)]
    # 0: every study summed.
    assert studies(collect(StudyCollector(controller, 0))) == {OTHER_STUDY}
    with pytest.raises(ValueError):
        StudyCollector(controller, -1)


def test_broken_studies_beyond_the_limit_are_summed_too(tmp_path):
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    with Client(running.address) as c:
        for study_id in ("bad1", "bad2", "fine"):
            c.create_study(study_id, custom_config([3, 3]))
    running.stop(grace=1)
    for study_id in ("bad1", "bad2"):
        (folder,) = (tmp_path / "ckpt" / "studies").glob(f"{study_id}@*")
        (folder / "study.json").write_text("{not json")
    running = start_server(
        "127.0.0.1", 0, tmp_path / "ckpt", metrics_port=0, metrics_study_labels=1
    )
    try:
        got = samples(scrape(running.metrics_url))
    finally:
        running.stop(grace=1)
    assert got[("sanas_study_broken", (("study", "bad1"),))] == 1
    assert got[("sanas_study_broken", (("study", OTHER_STUDY),))] == 1  # bad2
    assert got[("sanas_studies_broken", ())] == 2
    assert got[("sanas_trials", (("state", "active"), ("study", "fine")))] == 0


def test_the_flag_reaches_the_server_and_is_checked(tmp_path):
    bad = subprocess.run(
        [str(SERVER_BIN), "--metrics-study-labels", "-1", "--checkpoint-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=CHECKOUT_ENV,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "--metrics-study-labels -1" in bad.stderr


def test_the_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        log = logging.getLogger("sanas_server.test")
        log.info("study %s created", "s1", extra={"study": "s1", "trials": 3})
        try:
            raise RuntimeError("disk\nfull")
        except RuntimeError:
            log.exception("write failed")
        log.debug("not shown")
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["level"] == "INFO" and first["logger"] == "sanas_server.test"
    assert first["message"] == "study s1 created"
    assert first["study"] == "s1" and first["trials"] == 3
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["level"] == "ERROR"
    assert "RuntimeError: disk\nfull" in second["exception"]
    # Values JSON cannot hold are written as text.
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    record.path = tmp = object()
    assert json.loads(JsonFormatter().format(record))["path"] == str(tmp)
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml")


def test_the_server_logs_json_lines(server_process, tmp_path):
    proc = server_process(extra=("--log-format", "json", "--log-level", "INFO"))
    with Client(proc.address, timeout=10) as c:
        c.wait_ready()
        c.create_study("s", custom_config([3]))
        c.delete_study("s")  # logged at INFO, with who asked
    time.sleep(0.5)  # the signal handlers are set right after the "listening" line
    assert proc.terminate() == 0
    lines = [line for line in proc.proc.stderr.read().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for r in records:
        assert {"time", "level", "logger", "message"} <= set(r)
    assert any("deleted study 's'" in r["message"] for r in records)
    assert any("shutting down" in r["message"] for r in records)


def test_a_storage_failure_logs_its_operation_and_study_as_fields():
    from sanas_server.controller import StorageHealth

    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        StorageHealth().failed("snapshot", "s1", OSError(28, "No space left on device"))
    finally:
        logging.getLogger().handlers.clear()
    first = json.loads(stream.getvalue().splitlines()[0])
    assert first["operation"] == "snapshot" and first["study"] == "s1"
    assert "No space left on device" in first["message"]
