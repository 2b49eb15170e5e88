"""A shortened `make demo` end to end: controller, two trainer processes, real training."""

from __future__ import annotations

import json
import subprocess
import sys

import matplotlib.image


def test_short_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run(
        [sys.executable, "-m", "sanas.demo", "--steps", "4", "--epochs", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "best test accuracy" in run.stdout
    summary = json.loads((out / "best.json").read_text())
    assert summary["trials"] == 4 and 0.5 < summary["best_accuracy"] <= 1.0
    assert summary["params"] > 0 and len(summary["blocks"]) == 3
    image = matplotlib.image.imread(out / "search.png")
    assert image.shape[0] >= 300 and image.shape[1] >= 600
    assert image[..., :3].std() > 0.05  # a drawn plot, not a blank canvas
