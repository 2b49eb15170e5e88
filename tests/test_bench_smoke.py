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
    assert len(rows) == 6 * 2 * 3  # landscapes x trainer counts x methods
    assert "trained digits" in {r[0].strip() for r in rows}
    assert {r[2].strip() for r in rows} == {
        "sanas annealer",
        "random search",
        "regularized evolution",
    }
    assert all(0.0 <= float(r[3]) <= 1.0 and 0.0 <= float(r[4]) <= 1.0 for r in rows)
    # Paired verdicts: one line per landscape and trainer count; the parallel gaps per budget.
    verdicts = re.findall(
        r"^\| ([^|]+) \| (\d+) \| (\d+) \| (\d+) \| ([^|]+) \|$", run.stdout, re.M
    )
    assert len(verdicts) == 6 * 2
    # 2 peers x 2 budgets per line, each counted once as better, tie or worse.
    for v in verdicts:
        worse = 0 if v[4].strip() == "none" else len(v[4].split(","))
        assert int(v[2]) + int(v[3]) + worse == 4
    gaps = re.findall(r"^\| ([^|]+) \| (20|50) \| ([\d.]+) \| ([\d.]+) \| ", run.stdout, re.M)
    assert len(gaps) == 6 * 2


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
        "### The annealer against each peer",
        "### 8 parallel trainers against 1",
        "Within 1.5x of the echo at every count",
    ):
        assert section in page
    assert page.count("| sanas annealer |") == 6 * 2  # landscapes x trainer counts
    assert "| 1 | echo |" in page and "| 2 | sanas |" in page
    assert "| 2 | sanas, no checkpoints |" in page
    image = matplotlib.image.imread(tmp_path / "quality.png")
    assert image.shape[1] >= 1500 and image[..., :3].std() > 0.05


def test_the_shipped_trained_landscape_is_what_training_gives():
    # The cached table is data, not a claim: retrain its two cheapest and its best entries
    # in a fresh process and compare (tolerance: two of the 360 test images).
    sys.path.insert(0, str(ROOT / "bench"))
    import trained_landscape as tl

    data = tl.load()
    grid = tl.grid()
    assert data["choices"] == [list(c) for c in tl.CHOICES] and data["space"] == tl.SPACE
    assert len(data["accuracy"]) == len(grid) == 36 * 36
    assert all(0.0 <= a <= 1.0 for a in data["accuracy"])
    assert [tl.index_of(v) for v in grid[:50]] == list(range(50))
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "trained_landscape.py"), "--verify", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = re.findall(r"^entry (\d+): table ([\d.]+) retrained ([\d.]+)$", run.stdout, re.M)
    assert len(rows) == 3
    for index, cached, now in rows:
        assert float(cached) == data["accuracy"][int(index)]
        assert abs(float(now) - float(cached)) <= 2 / 360 + 1e-6, (grid[int(index)], now)
