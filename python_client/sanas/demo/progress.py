"""What the demo says about a study while it runs and after: trials finished, the
epochs early stopping saved, durations and the ETA."""

from __future__ import annotations

import argparse
from typing import Any


def finished(counts: Any) -> int:
    """Trials with a result: completed, infeasible, or stopped early."""
    return counts.succeeded + counts.infeasible + counts.stopped


def stopping_text(study: Any, args: argparse.Namespace) -> str:
    """What early stopping saved, in epochs and as a share of the planned training."""
    if args.early_stop == "none":
        return "early stopping: off (--early-stop none)"
    planned = finished(study.trial_counts) * args.epochs
    share = 100 * study.steps_saved / planned if planned else 0.0
    rule = {"median": "median rule", "halving": "successive halving"}[args.early_stop]
    return (
        f"early stopping ({rule} from epoch {args.early_stop_start}): "
        f"{study.trial_counts.stopped} of {finished(study.trial_counts)} trials stopped, "
        f"{study.steps_saved} of {planned} epochs saved ({share:.0f}%)"
    )


def duration(seconds: float) -> str:
    """45s, 4m05s."""
    whole = max(0, round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def eta(evaluated: int, remaining: int, elapsed: float, budget_left: float | None) -> str:
    """When the search should end at this run's pace, and whether the budget ends it."""
    ends = "" if budget_left is None else f" (time budget ends in {duration(budget_left)})"
    if remaining <= 0:
        return "ETA: finishing"
    if evaluated == 0:
        return "ETA -" + ends
    need = remaining * elapsed / evaluated
    if budget_left is not None and need > budget_left:
        whole = duration(need)
        return f"ETA {duration(budget_left)}: the time budget ends it (all: {whole})"
    return f"ETA {duration(need)}"
