"""Clients in Go, TypeScript and C++: generated code matches the schema, and each example
trainer runs a whole 50-step study against the Python server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from sanas.v1 import sanas_pb2 as pb

sys.path.insert(0, str(ROOT / "tools"))
from gen_clients import generate_all, generated_files

CLIENTS = ROOT / "clients"


def run(args: list[str], cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_committed_client_code_matches_the_schema(tmp_path):
    generate_all(tmp_path)
    fresh, committed = set(generated_files(tmp_path)), set(generated_files(CLIENTS))
    assert fresh == committed, f"generated files differ: {fresh ^ committed}"
    drifted = [
        n for n in sorted(fresh) if (tmp_path / n).read_bytes() != (CLIENTS / n).read_bytes()
    ]
    assert not drifted, f"{drifted} differ from the schema: run `make stubs` and commit"


@pytest.fixture(scope="module")
def go_trainer(tmp_path_factory) -> list[str]:
    binary = tmp_path_factory.mktemp("go") / "trainer"
    run(["go", "vet", "./..."], CLIENTS / "go")
    run(["go", "build", "-o", str(binary), "./cmd/trainer"], CLIENTS / "go")
    return [str(binary), "--addr"]


@pytest.fixture(scope="module")
def ts_trainer() -> list[str]:
    run(["npm", "run", "--silent", "build"], CLIENTS / "ts")
    return ["node", str(CLIENTS / "ts" / "dist" / "trainer.js"), "--addr"]


@pytest.fixture(scope="module")
def cpp_trainer(tmp_path_factory) -> list[str]:
    build = tmp_path_factory.mktemp("cpp")
    run(
        ["cmake", "-S", str(CLIENTS / "cpp"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"], build
    )
    run(["cmake", "--build", str(build), "-j", "2"], build)
    return [str(build / "sanas_trainer"), "--addr"]


@pytest.mark.parametrize("language", ["go", "ts", "cpp"])
def test_example_trainer_completes_a_50_step_study(language, request, server, client):
    command = request.getfixturevalue(f"{language}_trainer")
    study_id = f"{language}-study"

    def trainer(steps: int) -> subprocess.CompletedProcess:
        args = [*command, server.address, "--study", study_id, "--steps", str(steps)]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    first = trainer(50)
    assert first.returncode == 0, first.stderr
    study = client.get_study(study_id)
    assert study.trial_counts.succeeded == 50 and study.state == pb.STUDY_STATE_COMPLETED
    printed = re.search(
        r"completed 50 trials; study STUDY_STATE_COMPLETED: best reward (\S+),", first.stdout
    )
    assert printed and float(printed.group(1)) == study.best_reward, first.stdout
    assert {t.client_id for t in client.list_trials(study_id)} == {f"{language}-trainer"}
    # Run again: the study is spent; the example recognises BUDGET_EXHAUSTED and exits 0.
    again = trainer(50)
    assert again.returncode == 0 and again.stdout.startswith("completed 0 trials"), again.stderr
    # A different config for the same study id is a precise ALREADY_EXISTS.
    conflict = trainer(7)
    assert conflict.returncode != 0 and "exists with another config" in conflict.stderr


def test_toolchains_are_present():
    # make tools installs these; a missing one must fail loudly, not skip.
    for tool in ("go", "node", "cmake", "protoc", "grpc_cpp_plugin"):
        assert shutil.which(tool), f"{tool} not found: run `make tools`"


def test_every_system_file_the_tools_rely_on_is_installed():
    # Checks the files themselves (pkg-config modules, protobuf's .proto includes), not
    # just a few commands: libgrpc++-dev without libprotobuf-dev once passed as installed.
    check = subprocess.run(
        ["bash", str(ROOT / "tools" / "system_deps.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
