"""A unit test in the manner of PaddleSlim 2.6.0's tests/test_seach_space.py: a network
of every search space built in a static program, DartsSpace with drop path inputs in
training form for 10 classes, the others with input_size 32, output_size 8, block_num 2;
one test case per space, each making its SANAS when it is constructed, gathered in a
module-level TestSuite. What each build returns is printed for the test to check
(PaddleSlim's cases checked nothing)."""

import unittest

import paddle
from paddleslim.analysis import flops  # noqa: F401  (the PaddleSlim test imports it too)
from paddleslim.nas import SANAS

SIZES = {"input_size": 32, "output_size": 8, "block_num": 2}


def report(space, built, tokens):
    parts = built if isinstance(built, tuple) else (built,)
    shapes = [list(part.shape) for part in parts]
    print("OUTPUT", space, type(built).__name__, shapes, list(tokens), flush=True)


class SpaceBuild(unittest.TestCase):
    """Builds one candidate of `space` on a 32x32 input."""

    def __init__(self, space, config=None):
        super().__init__("runTest")
        paddle.enable_static()
        self.space = space
        configs = [(space, config)] if config else [(space)]
        self.nas = SANAS(configs=configs, server_addr=("127.0.0.1", 0), save_checkpoint=None)

    def network(self, arch, image):
        return arch(image)

    def runTest(self):
        with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
            image = paddle.static.data(name="input", shape=[None, 3, 32, 32], dtype="float32")
            built, archs = image, self.nas.next_archs()
            for arch in archs:
                built = self.network(arch, built)
        report(self.space, built, self.nas.current_info()["current_tokens"])


class DartsBuild(SpaceBuild):
    """DartsSpace's network takes drop path inputs and returns (logits, aux_logits)."""

    def network(self, arch, image):
        drop_prob = paddle.static.data(name="drop_path_prob", shape=[None, 1], dtype="float32")
        drop_mask = paddle.static.data(
            name="drop_path_mask", shape=[None, 20, 4, 2], dtype="float32"
        )
        return arch(image, drop_prob, drop_mask, True, 10)


every_space = unittest.TestSuite([DartsBuild("DartsSpace")])
for name in (
    "InceptionABlockSpace",
    "MobileNetV1Space",
    "MobileNetV2Space",
    "ResNetSpace",
    "ResNetBlockSpace",
    "MobileNetV1BlockSpace",
    "MobileNetV2BlockSpace",
):
    every_space.addTest(SpaceBuild(name, SIZES))

if __name__ == "__main__":
    unittest.TextTestRunner(verbosity=2).run(every_space)
