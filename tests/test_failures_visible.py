"""Failures an operator must see: checkpoint writes that fail are logged with their study
and path, counted in /metrics and turn the controller service's health NOT_SERVING until a
write succeeds; deletes are logged with who asked; broken studies are in /metrics; and a
trainer waiting out an outage warns once instead of looking hung."""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import custom_config, wait_until

from sanas import Client, ControllerUnavailableError
from sanas_server import server as server_module
from sanas_server.health import STORAGE_FAILURES_UNTIL_UNHEALTHY
from sanas_server.server import SERVICE_NAME, start_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health_of(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def scrape(url: str) -> str:
    return urllib.request.urlopen(url, timeout=10).read().decode()


@pytest.fixture
def full_disk(monkeypatch):
    """Makes every fsync fail as a full disk does, until `.undo()`."""
    real = os.fsync

    class Disk:
        full = False

        def undo(self) -> None:
            self.full = False

    disk = Disk()

    def fsync(fd: int) -> None:
        if disk.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return disk


def test_failed_writes_are_logged_counted_and_turn_the_service_not_serving(
    tmp_path, full_disk, caplog
):
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt", metrics_port=0)
    try:
        with Client(running.address, client_id="w", timeout=10, retry_timeout=0) as c:
            c.create_study("disk", custom_config([5, 5, 5], search_steps=30, seed=1))
            acked = []
            for _ in range(3):
                t = c.suggest_trial("disk")
                c.complete_trial("disk", t.trial_id, 0.5)
                acked.append(t.trial_id)
            assert health_of(running.address, SERVICE_NAME) == SERVING
            held = c.suggest_trial("disk")
            full_disk.full = True
            for n in range(1, STORAGE_FAILURES_UNTIL_UNHEALTHY + 1):
                with pytest.raises(ControllerUnavailableError, match="No space left"):
                    c.complete_trial("disk", held.trial_id, 0.9)
                below = n < STORAGE_FAILURES_UNTIL_UNHEALTHY
                assert health_of(running.address, SERVICE_NAME) == (
                    SERVING if below else NOT_SERVING
                )
            # The server as a whole stays up: probes of "" must not restart it (a
            # restart frees no disk), and reads are still served.
            assert health_of(running.address, "") == SERVING
            assert c.get_study("disk").trial_counts.succeeded == 3
            text = scrape(running.metrics_url)
            assert 'sanas_storage_errors_total{operation="journal write"} 3.0' in text
            assert "sanas_storage_writable 0.0" in text
            failures = [r for r in caplog.records if "journal write of study 'disk'" in r.message]
            assert len(failures) == 3 and all(r.levelno == logging.ERROR for r in failures)
            assert "journal.log" in failures[0].message  # the path
            full_disk.undo()
            done = c.complete_trial("disk", held.trial_id, 0.9)  # the trainer's retry
            assert done.trial.reward == 0.9
            assert health_of(running.address, SERVICE_NAME) == SERVING
            assert "sanas_storage_writable 1.0" in scrape(running.metrics_url)
            trials = {t.trial_id: t.reward for t in c.list_trials("disk")}
            assert [trials[i] for i in acked] == [0.5] * 3  # nothing acknowledged lost
    finally:
        running.stop(grace=1)


def test_the_probe_turns_the_service_serving_again_without_any_trainer(
    tmp_path, full_disk, monkeypatch
):
    monkeypatch.setattr(server_module, "STORAGE_PROBE_SECONDS", 0.1)
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    try:
        with Client(running.address, timeout=10, retry_timeout=0) as c:
            c.create_study("disk", custom_config([5, 5, 5], seed=1))
            full_disk.full = True
            for _ in range(STORAGE_FAILURES_UNTIL_UNHEALTHY):
                with pytest.raises(ControllerUnavailableError):
                    c.suggest_trial("disk")
        time.sleep(0.5)  # the probe fails too while the disk is full
        assert health_of(running.address, SERVICE_NAME) == NOT_SERVING
        full_disk.undo()
        wait_until(lambda: health_of(running.address, SERVICE_NAME) == SERVING, 5)
        assert not (tmp_path / "ckpt" / ".write-probe").exists()  # it cleans up
    finally:
        running.stop(grace=1)


def test_deletes_are_logged_with_who_asked(server, caplog):
    caplog.set_level(logging.INFO, logger="sanas_server")
    with Client(server.address, client_id="alice@host-7") as c:
        c.create_study("gone", custom_config([3, 3]))
        c.delete_study("gone")
    (line,) = [r for r in caplog.records if "deleted study 'gone'" in r.message]
    assert line.levelno == logging.INFO
    assert "'alice@host-7' from ipv4:127.0.0.1:" in line.message
    # A client that names no one is still told apart by its user agent and address.
    with grpc.insecure_channel(server.address) as channel:
        from sanas.v1 import sanas_pb2 as pb
        from sanas.v1 import sanas_pb2_grpc

        stub = sanas_pb2_grpc.ControllerServiceStub(channel)
        stub.CreateStudy(pb.CreateStudyRequest(study_id="raw", config=custom_config([3])))
        stub.DeleteStudy(pb.DeleteStudyRequest(study_id="raw"))
    (line,) = [r for r in caplog.records if "deleted study 'raw'" in r.message]
    assert "grpc-python" in line.message and "from ipv4:127.0.0.1:" in line.message


def test_broken_studies_are_in_the_metrics(tmp_path):
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    with Client(running.address) as c:
        c.create_study("bad", custom_config([3, 3]))
        c.create_study("fine", custom_config([3, 3]))
    running.stop(grace=1)
    (folder,) = (tmp_path / "ckpt" / "studies").glob("bad@*")
    (folder / "study.json").write_text("{not json")
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt", metrics_port=0)
    try:
        text = scrape(running.metrics_url)
    finally:
        running.stop(grace=1)
    assert 'sanas_study_broken{study="bad"} 1.0' in text
    assert "sanas_studies_broken 1.0" in text
    assert 'sanas_budget_remaining{study="fine"}' in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_trainer_waiting_for_the_controller_warns_once_per_outage(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="sanas.client")
    port = free_port()
    with Client(f"127.0.0.1:{port}", timeout=1, retry_timeout=1.5) as c:
        with pytest.raises(ControllerUnavailableError):
            c.get_study("s")  # nobody there: a few retries, then the error
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.message for r in warnings]
        assert f"127.0.0.1:{port} does not answer" in warnings[0].message
        assert "s so far" in warnings[0].message and "retrying for up to" in warnings[0].message
        retries = [
            r for r in caplog.records if r.levelno == logging.DEBUG and "retrying" in r.message
        ]
        assert retries  # the retries after the first are DEBUG
        caplog.clear()
        running = start_server("127.0.0.1", port, tmp_path / "ckpt")
        try:
            c.create_study("s", custom_config([3, 3]))
            c.get_study("s")
        finally:
            running.stop(grace=1)
    ended = [r for r in caplog.records if "answers again after" in r.message]
    assert len(ended) == 1 and not [r for r in caplog.records if r.levelno >= logging.WARNING]
