"""The load test at full size (64 trainers, 20,000 steps; ~10 s here): no error, every
step recorded, and server memory bounded by the study's size after warm-up."""

from __future__ import annotations

import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from load import run


def test_sixty_four_trainers_twenty_thousand_steps():
    report = run(trainers=64, steps=20_000, processes=4)
    print(report)  # the figures, for the log
    assert report["errors"] == []
    assert report["steps"] == 20_000 and report["succeeded"] == 20_000
    # Each trial's record stays in memory (about 1 KB: tokens, state, request ids);
    # anything per request would show as far more than that.
    assert report["rss_bytes_per_trial_after_warmup"] < 4096
