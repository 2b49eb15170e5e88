"""Helpers shared by the tests: configs and a server in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sanas.study_config import study_config

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(sys.executable).parent / "sanas-server"


def checkout_env(*extra_paths: Path, **env: str) -> dict[str, str]:
    """The environment for a Python subprocess (`sanas`, `sanas-server`, scripts) that
    imports this checkout's packages, as pytest's own pythonpath does, not the venv's
    editable install (which may be another worktree's): PYTHONPATH is python_client/,
    server/ and then `extra_paths`."""
    paths = [ROOT / "python_client", ROOT / "server", *extra_paths]
    return {**os.environ, **env, "PYTHONPATH": os.pathsep.join(map(str, paths))}


CHECKOUT_ENV = checkout_env()
# The `sanas` command of this checkout's environment.
SANAS_BIN = str(Path(sys.executable).parent / "sanas")


def run_sanas(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`sanas --address ADDRESS ARGS...` in its own process; `check`: it must exit 0."""
    result = subprocess.run(
        [SANAS_BIN, "--address", address, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=CHECKOUT_ENV,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def custom_config(table: list[int], **kwargs: object) -> object:
    return study_config([("custom", {"range_table": table})], **kwargs)


class ServerProcess:
    """`sanas-server` in its own process: what `kill -9` and SIGTERM tests need."""

    def __init__(
        self,
        checkpoint_dir: Path,
        port: int = 0,
        extra: tuple[str, ...] = (),
        *,
        env: dict[str, str] | None = None,
        command: tuple[str, ...] = (str(SERVER_BIN),),
    ) -> None:
        """`env`: the process's environment (default CHECKOUT_ENV); `command`: what runs
        the server, given the flags after it (default the `sanas-server` script)."""
        self.checkpoint_dir = checkpoint_dir
        self.proc = subprocess.Popen(
            [
                *command,
                "--port",
                str(port),
                "--checkpoint-dir",
                str(checkpoint_dir),
                "--grace",
                "5",
                "--log-level",
                "WARNING",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CHECKOUT_ENV if env is None else env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.address = line.rsplit(" ", 1)[1].strip()
        self.metrics_url = None
        if "--metrics-port" in extra:
            self.metrics_url = self.proc.stdout.readline().split()[-1]

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, and its exit status; a server that does not drain in `timeout` is
        killed (never left running after the test) and the timeout raised."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
