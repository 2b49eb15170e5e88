"""PaddleSlim's early-stopping API (`paddleslim.nas.early_stop`), decided by the controller.

A PaddleSlim script ports by changing its import:

    from sanas.early_stop import MedianStop      # was: from paddleslim.nas.early_stop ...

    earlystop = MedianStop(sanas, start_epoch=2)
    for epoch in range(epochs):
        ...train one epoch, evaluate...
        if earlystop.get_status(step, accuracy, epochs) == "BAD":
            break
    sanas.reward(accuracy)

Unlike PaddleSlim's (an in-memory history behind a pickling manager on port + 1), every
trainer's curves are journaled by the controller, stopped trials count in the median,
and a stop survives restarts. The rule is Vizier's and Katib's: from `start_epoch` on, a
trial is BAD when its best value so far is worse than the median of the finished trials'
running averages at that epoch, once `min_trials` finished trials got that far.
PaddleSlim compared the trial's running average instead, which stops more trials.

Where the controller cannot judge, as PaddleSlim judged: `get_status` called with no
trial held (before `next_archs()`, as PaddleSlim's test and API document call it), or
with a new `step` while the trial of another step is still held (PaddleSlim: a new step
is a new curve). Those curves are kept in this process and judged by PaddleSlim's own
fallback (the median of this process's curves at the same epoch), with a warning once
saying why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .study_config import median_stopping

if TYPE_CHECKING:
    from .nas import SANAS

log = logging.getLogger(__name__)

# PaddleSlim spells it "maxmize"; the correct spelling is accepted too.
MODES = {"maxmize": False, "maximize": False, "minimize": True}


class MedianStop:
    """The median stopping rule for the trials of `strategy` (a SANAS)."""

    def __init__(
        self, strategy: SANAS, start_epoch: int, mode: str = "maxmize", *, min_trials: int = 3
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: use 'maxmize' (PaddleSlim's spelling) or 'minimize'")
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 0:
            raise ValueError(f"start_epoch={start_epoch!r}: must be an integer >= 0")
        if isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 1:
            raise ValueError(f"min_trials={min_trials!r}: must be an integer >= 1")
        self._strategy = strategy
        self._start_epoch = start_epoch
        self._minimize = MODES[mode]
        self._rule = median_stopping(start_epoch, min_trials, minimize=self._minimize)
        # The controller keeps one curve per trial: the step whose curve it holds, and
        # how many epochs of it were reported.
        self._reported: dict[int, tuple[object, int]] = {}
        # Curves the controller cannot hold, judged here: step -> values; and the
        # finished ones, as running averages (PaddleSlim's completed history).
        self._local: dict[object, list[float]] = {}
        self._completed: dict[object, list[float]] = {}
        self._warned = False

    def get_status(self, step: object, result: float, epochs: int) -> str:
        """'GOOD' to go on training the current trial, 'BAD' to stop it. Call it once per
        epoch: `step` is the script's own trial counter (a new value starts a new
        curve), `result` the epoch's value, `epochs` the planned number of epochs."""
        trial = self._strategy.current_trial_id()
        if trial is not None:
            owner, epoch = self._reported.get(trial, (step, 0))
            if owner == step:
                epoch += 1
                self._reported[trial] = (step, epoch)
                stop = self._strategy.report(
                    epoch, result, max_step=max(int(epochs), epoch), early_stopping=self._rule
                )
                return "BAD" if stop else "GOOD"
            why = (
                f"step {step!r} while trial {trial}, reported as step {owner!r}, is still "
                "held (a new step is a new curve, and the controller keeps one per trial)"
            )
        else:
            why = "no trial is held (call it between next_archs() and reward())"
        return self._judge_locally(step, float(result), int(epochs), why)

    def _judge_locally(self, step: object, result: float, epochs: int, why: str) -> str:
        if not self._warned:
            self._warned = True
            log.warning(
                "MedianStop.get_status: %s; judged against this process's own curves only, "
                "as PaddleSlim judged before any trial finished",
                why,
            )
        curve = self._local.setdefault(step, [])
        curve.append(result)
        epoch = len(curve)
        if epoch < self._start_epoch:
            return "GOOD"  # PaddleSlim returns here, before a curve could end
        history = self._completed or self._local
        same_epoch = sorted(c[epoch - 1] for c in history.values() if len(c) >= epoch)
        status = "GOOD"
        if same_epoch:
            # PaddleSlim's medians: the lower one when maximizing, the upper one when not.
            if self._minimize:
                worse = result > same_epoch[len(same_epoch) // 2]
            else:
                worse = result < same_epoch[(len(same_epoch) - 1) // 2]
            status = "BAD" if worse else "GOOD"
        if epoch == epochs:  # the curve ends here; a GOOD one joins the history
            del self._local[step]
            if status == "GOOD":
                self._completed[step] = [sum(curve[: i + 1]) / (i + 1) for i in range(epoch)]
        return status
