"""The layers (docs/architecture.md): what import-linter cannot see, checked at run time.

`lint-imports` (make lint) reads import statements; these tests run them: importing the
shared layer and the whole server loads no module of sanas outside the shared layer
(sanas/__init__.py runs, and must stay lazy), and the duplicates the layers replaced
agree with the one copy left."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import sanas_server
from sanas.spaces import CombinedSpace, SpaceConfig, describe
from sanas.spaces.cost import network_cost
from sanas.v1 import sanas_pb2 as pb
from sanas.wire import bracketed, is_loopback, is_study_id

SHARED = ("sanas.v1", "sanas.spaces", "sanas.convert", "sanas.wire")
ROOT = Path(__file__).resolve().parents[1]


def loaded_after(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'server'}{os.pathsep}{ROOT / 'python_client'}"}
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [m for m in json.loads(out) if m == "sanas" or m.startswith("sanas.")]


def outside_shared(modules: list[str]) -> list[str]:
    return [m for m in modules if m != "sanas" and not m.startswith(SHARED)]


def test_the_shared_layer_loads_nothing_else_of_sanas():
    loaded = loaded_after("\n".join(f"import {m}" for m in SHARED))
    assert "sanas.spaces.cost" in loaded and "sanas.v1.sanas_pb2" in loaded
    assert outside_shared(loaded) == []


def test_the_server_loads_only_the_shared_layer_of_sanas():
    names = [m.name for m in pkgutil.iter_modules(sanas_server.__path__)]
    assert "service" in names and "__main__" in names
    loaded = loaded_after("\n".join(f"import sanas_server.{n}" for n in names if n != "__main__"))
    assert "sanas.spaces" in loaded and outside_shared(loaded) == []


def test_import_sanas_is_lazy_and_every_name_still_resolves():
    assert loaded_after("import sanas") == ["sanas"]
    import sanas

    for name in sanas.__all__:
        assert getattr(sanas, name) is not None, name


def test_error_reasons_are_the_enums_names():
    from sanas import errors as client_errors
    from sanas_server import errors as server_errors

    names = set(pb.ErrorReason.keys())
    server = {
        cls.reason
        for cls in vars(server_errors).values()
        if isinstance(cls, type) and issubclass(cls, server_errors.ControllerError)
    }
    assert server <= names and len(server) == len(names)  # every reason is raised
    # Every reason the server sends but UNSPECIFIED has its own client error.
    assert set(client_errors._BY_REASON) == names - {"ERROR_REASON_UNSPECIFIED"}


def test_wire_helpers():
    assert bracketed("::1") == "[::1]" and bracketed("10.0.0.1") == "10.0.0.1"
    for host in ("127.0.0.1", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "10.1.2.3", "example.org", "::"):
        assert not is_loopback(host), host
    assert is_study_id("run-1.a_b") and is_study_id("x" * 128)
    for bad in ("", "x" * 129, "-run", "a:b", "a@b", "run\n", "a/b"):
        assert not is_study_id(bad), bad


def test_the_server_and_the_dashboard_take_the_one_study_id_rule():
    from sanas_server.errors import InvalidArgument
    from sanas_server.spec import check_study_id

    for study_id in ("run-1", "a:b", "a@b", "run\n"):
        try:
            check_study_id(study_id)
            accepted = True
        except InvalidArgument:
            accepted = False
        assert accepted == is_study_id(study_id), study_id


def test_describe_counts_at_the_controllers_defaults():
    config = SpaceConfig.from_user(
        ("MobileNetV2BlockSpace", {"input_size": 16, "output_size": 4, "block_num": 2})
    )
    space = CombinedSpace.from_configs([config])
    tokens = space.init_tokens()
    assert tokens is not None
    described = describe(space, tokens)
    # The controller resolves a study's constraints the same way (spec.resolve_constraints).
    assert (described.in_channels, described.input_size) == (3, 16)
    assert described.cost == network_cost(space.decode(tokens, 3), 16)
    other = describe(space, tokens, in_channels=8, input_size=32)
    assert other.cost == network_cost(space.decode(tokens, 8), 32)
