"""The picture of a search, shared by `sanas plot` and the demo: reward per trial with the
best so far, the temperature each trial was drawn at, and the rolling acceptance rate."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .v1 import sanas_pb2 as pb


def plot_trials(trials: Sequence[pb.Trial], path: Path | str, title: str) -> None:
    """Write a PNG of completed trials (needs matplotlib: pip install sanas[demo])."""
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    ids = [t.trial_id for t in trials]
    rewards = [t.reward for t in trials]
    best, top = [], float("-inf")
    for r in rewards:
        top = max(top, r)
        best.append(top)
    window = max(1, min(20, len(trials) // 5))
    accepted = [float(t.accepted) for t in trials]
    rate = []
    for i in range(len(accepted)):
        recent = accepted[max(0, i - window + 1) : i + 1]
        rate.append(sum(recent) / len(recent))
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, dpi=100)
    axes[0].scatter(ids, rewards, s=10, label="reward")
    axes[0].plot(ids, best, color="tab:red", label="best so far")
    axes[0].set_ylabel("reward")
    axes[0].legend(loc="lower right")
    axes[1].plot(ids, [t.temperature for t in trials], color="tab:orange")
    axes[1].set_ylabel("temperature")
    axes[1].set_yscale("log")
    axes[2].plot(ids, rate, color="tab:green")
    axes[2].set_ylabel(f"acceptance\n(last {window})")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_xlabel("trial")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
