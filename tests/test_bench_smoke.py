"""The benchmark script still runs (a reduced version; timings are not asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
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


def test_paddleslim_sa_runs_in_its_environment_on_an_exported_landscape(capsys):
    # The NAS-Bench-Graph path without nas_bench_graph: the trained-digits table with one
    # infeasible vector goes over as a file; PaddleSlim runs in its own venv (which
    # `make bench` creates: building it here would download Paddle).
    sys.path.insert(0, str(ROOT / "bench"))
    import quality as q

    if not (q.PADDLESLIM_ENV / "bin" / "python").exists():
        pytest.skip(f"no PaddleSlim environment at {q.PADDLESLIM_ENV} (make bench creates it)")
    digits = q.trained_digits(0)
    hole = (0,) * len(digits.table)
    land = q.Landscape(
        "digits, one hole",
        digits.table,
        lambda t: None if t == hole else digits.reward(t),
        digits.best,
        digits.worst,
    )
    rows = q.paddleslim_nbg_rows(land, 3, [20, 50], [1, 8], first_seed=5)
    assert [(r["trainers"], r["budget"]) for r in rows] == [(1, 20), (1, 50), (8, 20), (8, 50)]
    for r in rows:
        assert r["method"] == q.PADDLESLIM_NBG and r["landscape"] == "digits, one hole"
        assert len(r["regrets"]) == 3 and all(0.0 <= x <= 1.0 for x in r["regrets"])
        assert r["mean"] == pytest.approx(sum(r["regrets"]) / 3) and r["se"] >= 0.0
        assert 0 <= r["early_stops"] <= 3
    for at20, at50 in ((rows[0], rows[1]), (rows[2], rows[3])):  # one run per seed
        assert all(b <= a for a, b in zip(at20["regrets"], at50["regrets"], strict=True))
        assert at50["early_stops"] >= at20["early_stops"]
    q.nbg_report(rows, [20, 50], 3)
    out = capsys.readouterr().out
    assert re.search(r"^\| digits, one hole \| 8 \| paddleslim SA \| [\d.]+ ± ", out, re.M)
    assert "paddleslim SA ended its own search (sys.exit) before the budget in" in out


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
        "## Early stopping: epochs trained against final regret",
        "| 24 | successive halving (rung 3) |",
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


def test_the_shipped_learning_curves_are_what_training_gives():
    # Each curve is data, not a claim: retrain one entry for 2 epochs in a fresh process;
    # its accuracy after each epoch matches the table (tolerance: two of 360 test images).
    sys.path.insert(0, str(ROOT / "bench"))
    import curves_table as ct

    data = ct.load()
    assert data["choices"] == [list(c) for c in ct.CHOICES]
    assert len(data["curves"]) == len(ct.grid()) == 216
    assert all(len(c) == data["epochs"] >= 6 for c in data["curves"])
    assert all(0.0 <= a <= 1.0 for c in data["curves"] for a in c)
    index = min(range(216), key=data["train_seconds"].__getitem__)
    code = (
        "import json, sys, os; os.environ['OMP_NUM_THREADS'] = '1'; "
        f"sys.path.insert(0, {str(ROOT / 'bench')!r}); import curves_table as ct; "
        f"print(json.dumps(ct.train_curve(ct.grid()[{index}], 2)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    retrained = json.loads(run.stdout.strip().splitlines()[-1])
    for now, cached in zip(retrained, data["curves"][index][:2], strict=True):
        assert abs(now - cached) <= 2 / 360 + 1e-6, (index, retrained, data["curves"][index])


def test_an_accuracy_reported_after_epoch_k_is_what_a_k_epoch_training_scores():
    # The per-epoch reports that early stopping judges must be the curve of training, not
    # of training plus k evaluations: evaluating must leave no trace (not even in the
    # batch-norm running statistics) in what later epochs report. Two candidates, each
    # trained 3 epochs with reports and then afresh for 1 and 2 epochs.
    code = (
        "import json, sys, os; os.environ['OMP_NUM_THREADS'] = '1'; "
        f"sys.path.insert(0, {str(ROOT / 'bench')!r}); import curves_table as ct; "
        "grid = ct.grid(); "
        "print(json.dumps([[ct.train_curve(grid[i], 3), [ct.train(grid[i], k) for k in (1, 2)]] "
        "for i in (len(grid) - 1, len(grid) // 2)]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    for curve, fresh in json.loads(run.stdout.strip().splitlines()[-1]):
        assert len(curve) == 3
        assert curve[:2] == fresh, (curve, fresh)


def test_early_stopping_quick_run_prints_epochs_against_regret():
    run = subprocess.run(
        [
            *(sys.executable, str(ROOT / "bench" / "early_stopping.py")),
            *("--seeds", "3", "--budgets", "24", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = {r["method"]: r for r in json.loads(run.stdout)}
    none = rows["no early stopping"]
    assert none["stopped"] == 0 and len(none["regrets"]) == 3
    assert all(e == 24 * 8 for e in none["epochs"])  # every trial trained fully
    for name, r in rows.items():
        assert all(0.0 <= x <= 1.0 for x in r["regrets"]), name
        assert sum(r["epochs"]) <= sum(none["epochs"]), name
        if name.startswith("successive halving"):  # the median rule stops none here
            assert sum(r["epochs"]) < sum(none["epochs"]) and r["stopped"] > 0, name


def test_curves_scale_quick_run_prints_its_figures():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "curves_scale.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = dict(re.findall(r"^  (\w+)\s+([\d.]+)$", run.stdout, re.M))
    assert float(figures["snapshot_written"]) == 1.0  # the run reached a snapshot
    assert float(figures["reports_stopped"]) == 0.0
    for name in ("peak_after_load_mb", "peak_at_snapshot_mb", "report_p99_ms"):
        assert float(figures[name]) > 0


def test_suggest_cost_quick_run_prints_both_policies_and_calls():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "suggest_cost.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = re.findall(r"^\| (\w+) \| ([\w +]+) \| 20 \| 5 \|((?: [\d.]+ \|){4})$", run.stdout, re.M)
    assert sorted({(p, c) for p, c, _ in rows}) == [
        ("Annealer", "CompleteTrial + next"),
        ("Annealer", "SuggestTrial"),
        ("GuidedAnnealer", "CompleteTrial + next"),
        ("GuidedAnnealer", "SuggestTrial"),
    ]
