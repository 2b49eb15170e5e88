"""Trainers on separate hosts: network namespaces joined by veth pairs (iproute2). The
server runs in one namespace, trainers in two others; one trainer's link is cut while it
holds a trial, its lease runs out, and the other trainer finishes the search with it.

The addresses below exist only inside namespaces this test creates and deletes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SERVER_BIN

HERE = Path(__file__).resolve().parent


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[dict[str, str]]:
    tag = secrets.token_hex(3)
    names = {role: f"sanas-{role}-{tag}" for role in ("srv", "t1", "t2")}
    created = []
    try:
        for ns in names.values():
            ip("netns", "add", ns)
            created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for n, trainer in ((1, "t1"), (2, "t2")):
            server_end, trainer_end = f"vs{n}{tag}", f"vt{n}{tag}"
            ip("link", "add", server_end, "type", "veth", "peer", "name", trainer_end)
            ip("link", "set", server_end, "netns", names["srv"])
            ip("link", "set", trainer_end, "netns", names[trainer])
            ip("-n", names["srv"], "addr", "add", f"10.213.{n}.1/30", "dev", server_end)
            ip("-n", names[trainer], "addr", "add", f"10.213.{n}.2/30", "dev", trainer_end)
            ip("-n", names["srv"], "link", "set", server_end, "up")
            ip("-n", names[trainer], "link", "set", trainer_end, "up")
        names["t1_link"] = f"vt1{tag}"
        yield names
    finally:
        for ns in created:  # deleting a namespace deletes its veth ends too
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def in_ns(ns: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *command]


def test_a_cut_link_expires_the_lease_and_another_host_finishes(hosts, tmp_path):
    server = subprocess.Popen(
        in_ns(
            hosts["srv"],
            str(SERVER_BIN),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--log-level",
            "ERROR",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holder = worker = None
    try:
        port = server.stdout.readline().rsplit(":", 1)[1].strip()
        trainer = [sys.executable, str(HERE / "netns_trainer.py")]
        holder = subprocess.Popen(
            in_ns(hosts["t1"], *trainer, f"10.213.1.1:{port}", "net", "hold"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = holder.stdout.readline()
        assert line.startswith("holding "), holder.stderr.read() if holder.poll() else line
        held = int(line.split()[1])
        ip("-n", hosts["t1"], "link", "set", hosts["t1_link"], "down")  # the cable is cut
        worker = subprocess.run(
            in_ns(hosts["t2"], *trainer, f"10.213.2.1:{port}", "net", "work"),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert worker.returncode == 0, worker.stderr
        report = json.loads(worker.stdout.strip().splitlines()[-1])
        completed = {trial_id: issues for trial_id, issues in report["completed"]}
        assert completed[held] == 2  # the held trial, re-issued once its lease ran out
        assert report["lease_expirations"] == 1
        assert report["succeeded"] == 30 and report["active"] == 0
    finally:
        for proc in (holder, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
