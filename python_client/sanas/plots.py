"""The picture of a search, shared by `sanas plot` and the demo (and drawn from the series the
dashboard charts): reward per finished trial (a stopped one at its last value) with the
best so far, the temperature each trial was drawn at, the rolling acceptance rate, and
(when trainers report progress) the learning curves with early-stopped trials marked."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .dashboard.index import TrialIndex
from .v1 import sanas_pb2 as pb


def plot_trials(trials: Sequence[pb.Trial], path: Path | str, title: str) -> None:
    """Write a PNG of a study's trials (all of them, as ListTrials gives them): reward, best
    so far, temperature and rolling acceptance of the finished ones, and the learning
    curves of those with measurements (needs matplotlib: pip install sanas[demo])."""
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    # The dashboard's series, so that the two agree: stopped trials are in it with their
    # own `accepted` (a rejected move unless stopped values are rewards), not left out as
    # if every move around them had been accepted, and with a reward only when the study
    # judged their last value as one.
    index = TrialIndex()
    index.load(trials)
    series = index.series()
    ids, window = series["trial"], series["window"]
    curves = [t for t in trials if t.measurements]
    panels = 4 if curves else 3
    fig, all_axes = plt.subplots(panels, 1, figsize=(9, 8 if panels == 3 else 10.5), dpi=100)
    axes = all_axes[:3]
    for ax in axes[1:]:
        ax.sharex(axes[0])
    # A stop that was not judged as a reward has none (None): no point, not its value.
    axes[0].scatter(ids, nan_for_none(series["reward"]), s=10, label="reward")
    axes[0].plot(ids, nan_for_none(series["best"]), color="tab:red", label="best so far")
    axes[0].set_ylabel("reward")
    axes[0].legend(loc="lower right")
    axes[1].plot(ids, series["temperature"], color="tab:orange")
    axes[1].set_ylabel("temperature")
    axes[1].set_yscale("log")
    axes[2].plot(ids, series["acceptance"], color="tab:green")
    axes[2].set_ylabel(f"acceptance\n(last {window})")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_xlabel("trial")
    if curves:
        plot_curves(all_axes[3], curves)
    for ax in all_axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def nan_for_none(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def plot_curves(ax: Any, trials: Sequence[pb.Trial]) -> None:
    """Value against step per trial; stopped trials dashed, an x where they stopped."""
    marked = False
    for t in trials:
        steps = [m.step for m in t.measurements]
        values = [m.value for m in t.measurements]
        if t.state == pb.TRIAL_STATE_STOPPED:
            ax.plot(steps, values, color="tab:gray", alpha=0.5, linestyle="--", linewidth=0.8)
            ax.scatter(
                steps[-1:],
                values[-1:],
                marker="x",
                color="tab:red",
                s=18,
                label=None if marked else "stopped early",
            )
            marked = True
        else:
            ax.plot(steps, values, color="tab:blue", alpha=0.4, linewidth=0.8)
    ax.set_xlabel("step (epoch)")
    ax.set_ylabel("reported value")
    if marked:
        ax.legend(loc="lower right")
