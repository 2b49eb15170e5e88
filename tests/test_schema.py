"""Schema quality gates: buf lint, buf format, and buf breaking against the released image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

BUF = str(Path(sys.executable).parent / "buf")
RELEASED = "released/sanas-v1.binpb"


def buf(*args: str, cwd: Path = ROOT / "proto") -> subprocess.CompletedProcess:
    return subprocess.run([BUF, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_buf_lint_and_format_are_clean():
    lint = buf("lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = buf("format", "--exit-code", "-d")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_schema_is_wire_compatible_with_the_released_one():
    result = buf("breaking", "--against", RELEASED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_catches_an_incompatible_change(tmp_path):
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy)
    schema = copy / "sanas" / "v1" / "sanas.proto"
    text = schema.read_text()
    # Change a field's type: int64 trial_id -> string, as a careless edit might.
    broken = text.replace(
        "  int64 trial_id = 2;\n  // The reward", "  string trial_id = 2;\n  // The reward"
    )
    assert broken != text
    schema.write_text(broken)
    result = buf("breaking", "--against", RELEASED, cwd=copy)
    assert result.returncode != 0
    assert "trial_id" in result.stdout + result.stderr
    # Removing a field is caught too.
    field = "  bool infeasible = 4;\n"
    assert field in text
    schema.write_text(text.replace(field, "", 1))
    result = buf("breaking", "--against", RELEASED, cwd=copy)
    assert result.returncode != 0 and "infeasible" in result.stdout + result.stderr
