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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .client import median_stopping

if TYPE_CHECKING:
    from .nas import SANAS

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
        self._rule = median_stopping(start_epoch, min_trials, minimize=MODES[mode])
        self._step: object = None
        self._epoch = 0

    def get_status(self, step: object, result: float, epochs: int) -> str:
        """'GOOD' to go on training the current trial, 'BAD' to stop it. Call it once per
        epoch: `step` is the script's own trial counter (a new value starts a new
        curve), `result` the epoch's value, `epochs` the planned number of epochs."""
        key = (step, self._strategy.current_trial_id())
        if key != self._step:  # a new trial: a new curve
            self._step, self._epoch = key, 0
        self._epoch += 1
        stop = self._strategy.report(
            self._epoch, result, max_step=max(int(epochs), self._epoch), early_stopping=self._rule
        )
        return "BAD" if stop else "GOOD"
