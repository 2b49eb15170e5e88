"""A unit test in the manner of PaddleSlim 2.6.0's tests/test_earlystop.py: MedianStop's
get_status called with no trial held, the same trial steps reused round after round.
PaddleSlim's test asserted nothing (assertTrue(status, 'GOOD') passes for any status);
this one compares every status with the one PaddleSlim 2.6.0 returns for the same calls
(recorded in its own environment)."""

import unittest

from paddleslim.nas import SANAS
from paddleslim.nas.early_stop import MedianStop

STEPS, EPOCHS = 5, 5
# Round after round of `STEPS` losses, one per step; the last three rise with the step.
ROUNDS = [[1.0] * STEPS, [0.5] * STEPS] + [
    [scale * (step + 1) for step in range(STEPS)] for scale in (0.2, 0.9, 0.1)
]
# What PaddleSlim 2.6.0 answers, call by call.
RECORDED = ["GOOD"] * 21 + ["BAD"] * 4


class MedianRuleWithoutTrials(unittest.TestCase):
    def test_statuses_round_after_round(self):
        controller = SANAS(
            [("MobileNetV2Space")], server_addr=("127.0.0.1", 0), save_checkpoint=None
        )
        rule = MedianStop(controller, 2)
        answers = [
            rule.get_status(step, loss, EPOCHS)
            for losses in ROUNDS
            for step, loss in enumerate(losses)
        ]
        # Equal losses never fall behind the median; each round's curve ends at EPOCHS,
        # and those that end GOOD are what the later rounds are judged against.
        self.assertEqual(answers[:10], ["GOOD"] * 10)
        self.assertEqual(answers, RECORDED)


if __name__ == "__main__":
    unittest.main()
