"""Shared fixtures: real servers on loopback sockets, in-process or as subprocesses; and
the test tiers (markers), by file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ServerProcess

from sanas import Client
from sanas_server.server import RunningServer, start_server

# Every test file's tier (`make test-fast` runs the unit tier; `make test` all three):
# - unit: pure logic and files in one process, no gRPC server, no Paddle network;
# - integration: a real gRPC server on loopback, Paddle networks, subprocess CLIs;
# - system: controllers killed and restarted, network namespaces, other toolchains,
#   browsers, Helm, load, trainer groups under paddle.distributed, the demo.
TIERS = {
    "unit": {
        "test_annealer.py",
        "test_controller.py",
        "test_guided.py",
        "test_guided_properties.py",
        "test_journal_formats.py",
        "test_layers.py",
        "test_policy.py",
        "test_replay_constrained.py",
        "test_schema.py",
        "test_snapshots.py",
        "test_stopping.py",
        "test_storage.py",
    },
    "integration": {
        "test_analysis.py",
        "test_backup.py",
        "test_cli.py",
        "test_contract_limits.py",
        "test_credentials.py",
        "test_dashboard_limits.py",
        "test_damaged_checkpoints.py",
        "test_early_stopping.py",
        "test_failures_visible.py",
        "test_fidelity.py",
        "test_fit_outside_lock.py",
        "test_fuzz.py",
        "test_grpcurl.py",
        "test_import.py",
        "test_leases.py",
        "test_observability.py",
        "test_paddleslim_behaviour.py",
        "test_paddleslim_files.py",
        "test_port.py",
        "test_policy_choice.py",
        "test_porting.py",
        "test_sanas.py",
        "test_security.py",
        "test_service.py",
        "test_skip.py",
        "test_spaces_cost.py",
        "test_static_tutorial.py",
        "test_stubs.py",
        "test_study_lifecycle.py",
        "test_tracing.py",
        "test_trial_binding.py",
        "test_watch_capacity.py",
    },
    "system": {
        "test_bench_smoke.py",
        "test_chart_credentials.py",
        "test_clients.py",
        "test_concurrency.py",
        "test_crash_campaign.py",
        "test_dashboard.py",
        "test_demo.py",
        "test_deploy.py",
        "test_durability.py",
        "test_load.py",
        "test_monitoring.py",
        "test_netns.py",
        "test_soft_delete.py",
        "test_trainer_groups.py",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tier_of = {name: tier for tier, names in TIERS.items() for name in names}
    for item in items:
        name = item.path.name
        if name not in tier_of:
            raise pytest.UsageError(
                f"{name} has no tier: add it to TIERS in tests/conftest.py "
                "(unit, integration or system)"
            )
        item.add_marker(getattr(pytest.mark, tier_of[name]))


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
