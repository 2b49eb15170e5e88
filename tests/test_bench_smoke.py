"""The benchmark script still runs (a reduced version; timings are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import ROOT


def test_controller_speed_quick_run_prints_its_figures():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "controller_speed.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+$", run.stdout, re.M)
    assert [int(c) for c, _, _ in rows] == [1, 2]
    assert all(int(steps) > 0 for _, steps, _ in rows)
    sizes = re.findall(
        r"trials=\s*(\d+)\s+median [\d.]+ ms/result\s+mean [\d.]+ ms\s+(\d+) checkpoint",
        run.stdout,
    )
    assert [int(n) for n, _ in sizes] == [200, 2000]
    assert "restart (replay)" in run.stdout


def test_quality_quick_run_prints_a_regret_table():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "quality.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = re.findall(
        r"^\| ([^|]+) \| (\d+) \| ([^|]+) \| ([\d.]+) ± [\d.]+ \| ([\d.]+) ± [\d.]+ \|$",
        run.stdout,
        re.M,
    )
    assert len(rows) == 5 * 2 * 3  # landscapes x trainer counts x methods
    assert {r[2].strip() for r in rows} == {
        "sanas annealer",
        "random search",
        "regularized evolution",
    }
    assert all(0.0 <= float(r[3]) <= 1.0 and 0.0 <= float(r[4]) <= 1.0 for r in rows)


def test_report_writes_the_benchmarks_page_and_plot(tmp_path):
    import matplotlib.image

    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    page = (tmp_path / "benchmarks.md").read_text()
    for section in (
        "## Controller speed",
        "## Against PaddleSlim",
        "## Cost per result",
        "## Load",
        "## Search quality",
    ):
        assert section in page
    assert page.count("| sanas annealer |") == 5 * 2  # landscapes x trainer counts
    assert "| 1 | echo |" in page and "| 2 | sanas |" in page
    image = matplotlib.image.imread(tmp_path / "quality.png")
    assert image.shape[1] >= 1500 and image[..., :3].std() > 0.05
