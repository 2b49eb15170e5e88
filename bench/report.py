"""`make bench`: run the benchmarks and write docs/benchmarks.md with tables and a plot.

usage: python bench/report.py [--with-paddleslim] [--quick] [--out docs]
Bounded and loopback only, like each benchmark it runs.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import controller_compare
import controller_speed
import early_stopping
import load
import quality


def plot_quality(rows: list[dict], budgets: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lands = sorted({r["landscape"] for r in rows})
    fig, axes = plt.subplots(1, len(lands), figsize=(4 * len(lands), 3.6), dpi=100)
    key = lambda r: r["method"]  # noqa: E731
    for ax, land in zip(axes, lands, strict=True):
        mine = [r for r in rows if r["landscape"] == land and r["trainers"] == 1]
        for method, group in itertools.groupby(sorted(mine, key=key), key=key):
            points = sorted(group, key=lambda r: r["budget"])
            ax.errorbar(
                [p["budget"] for p in points],
                [p["mean"] for p in points],
                yerr=[p["std"] for p in points],
                label=method,
                marker="o",
                capsize=3,
            )
        ax.set_xscale("log")
        ax.minorticks_off()  # only the budgets are labelled
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_title(land)
        ax.set_xlabel("evaluations")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean regret (lower is better)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--with-paddleslim", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clients, seconds = ([1, 2], 1.0) if args.quick else ([1, 4, 16], 8.0)
    sizes = [200, 2000] if args.quick else [1000, 10_000, 100_000]
    seeds, budgets = (3, [20, 50]) if args.quick else (30, [50, 100, 200, 500])
    trainers, steps = (8, 1000) if args.quick else (64, 20_000)

    speed = controller_speed.throughput(clients, seconds)
    compare = controller_compare.run(
        [1, 2] if args.quick else [1, 4, 16, 64], 1.0 if args.quick else 5.0, args.with_paddleslim
    )
    scale = controller_speed.scale(sizes)
    loaded = load.run(trainers, steps, min(4, trainers))
    rows = quality.measure(seeds, budgets, [1, 8])
    stops = None
    if args.with_paddleslim:
        extra = quality.paddleslim_rows(seeds, budgets)
        rows += extra
        stops = (sum(r["early_stops"] for r in extra), len(extra) * seeds)
    plot_quality(rows, budgets, out / "quality.png")

    lines = [
        "# sanas benchmarks",
        "",
        f"Written by `make bench` (`python bench/report.py`) on "
        f"{datetime.date.today().isoformat()}; 2 cores shared by the controller and every "
        "client, loopback only. Timings are noisy on shared machines: compare within a run.",
        "",
        "## Controller speed (durable checkpoints on)",
        "",
        "| trainer processes | steps/s | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|",
        *[
            f"| {r['clients']} | {r['steps_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |"
            for r in speed
        ],
        "",
        "One step is one `CompleteTrial(suggest_next=true)` with its fsync.",
        "",
        "## Against PaddleSlim's socket controller and a bare gRPC echo",
        "",
        "Same layout for all (trainer threads in up to 4 processes); a step is get tokens +",
        "report a result. PaddleSlim does not fsync; the echo is one gRPC round trip with no",
        "work, the physical limit here. Rates count only the time a system kept running.",
        "",
        controller_compare.table(compare),
        "",
        *controller_compare.explain(compare),
        "",
        "## Cost per result as a study grows",
        "",
        "| trials | median ms/result | mean ms (incl. snapshots) | checkpoint bytes/result |",
        "|---:|---:|---:|---:|",
        *[
            f"| {r['trials']:,} | {r['median_ms_per_result']:.3f} | {r['mean_ms_per_result']:.3f} "
            f"| {r['bytes_per_result']:.0f} |"
            for r in scale[:-1]
        ],
        "",
        f"Restart (snapshot + journal tail) of a {scale[-1]['restart_s_at_trials']:,}-trial "
        f"study: {scale[-1]['restart_s']:.2f} s.",
        "",
        f"## Load: {loaded['trainers']} trainers, {loaded['steps']:,} steps",
        "",
        f"{loaded['steps_per_s']:.0f} steps/s, p50 {loaded['p50_ms']:.1f} ms, p99 "
        f"{loaded['p99_ms']:.1f} ms, {len(loaded['errors'])} errors; server RSS "
        f"{loaded['rss_warm_mb']:.0f} MB after warm-up, {loaded['rss_end_mb']:.0f} MB at the end "
        f"({loaded['rss_bytes_per_trial_after_warmup']:.0f} bytes per trial).",
        "",
        "## Search quality",
        "",
        f"Mean regret ± standard deviation over {seeds} seeds (0 = optimum found, 1 = worst); "
        "landscapes and methods are described in `bench/quality.py`.",
        "",
    ]
    if stops is not None:
        lines += [
            f"PaddleSlim's SAController ended its own search early (sys.exit) in "
            f"{stops[0]} of {stops[1]} runs.",
            "",
        ]
    lines += [
        quality.table(rows, budgets),
        "",
        "![regret per budget](quality.png)",
        "",
        "### The annealer against each peer",
        "",
        "Per cell (landscape, trainers, budget, peer) the per-seed regret difference, paired by "
        "seed; *worse* or *better* only beyond two standard errors, else a tie.",
        "",
        quality.comparison_table(rows),
        "",
        "### 8 parallel trainers against 1",
        "",
        "The annealer with 8 simulated trainers (results out of order) against itself with one, "
        "at equal evaluations; the difference is paired by seed. The last column is the "
        "sequential search 7 evaluations earlier: with 8 trainers, 7 results are always "
        "still running, so each decision is made without them.",
        "",
        quality.parallel_table(rows, quality.delayed_sequential(seeds, budgets, 8)),
        "",
        "## Early stopping: epochs trained against final regret",
        "",
        "8 parallel trainers on real learning curves (`bench/early_stopping.py`; the choices "
        "and conclusions are in [early-stopping.md](early-stopping.md)).",
        "",
        early_stopping.render(early_stopping.measure(seeds, [24] if args.quick else [60, 120])),
        "",
    ]
    (out / "benchmarks.md").write_text("\n".join(lines))
    print(f"wrote {out / 'benchmarks.md'} and {out / 'quality.png'}")


if __name__ == "__main__":
    main()
