"""Shared fixtures: real servers on loopback sockets, in-process or as subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ServerProcess

from sanas import Client
from sanas_server.server import RunningServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt")
    yield running
    running.stop(grace=1)


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    with Client(server.address, client_id="test-client", timeout=10) as c:
        c.wait_ready()
        yield c


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    started: list[ServerProcess] = []

    class Tracked(ServerProcess):
        def __init__(
            self, checkpoint_dir: Path = tmp_path / "ckpt", port: int = 0, extra: tuple = ()
        ) -> None:
            super().__init__(checkpoint_dir, port, extra)
            started.append(self)

    yield Tracked
    for s in started:
        s.close()
