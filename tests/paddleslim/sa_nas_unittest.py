"""A unit test in the manner of PaddleSlim 2.6.0's tests/test_sa_nas.py (paddle.fluid,
Paddle 2): a MobileNetV2BlockSpace search of one stride-1 block; the networks of
next_archs() and of tokens2arch() built with fluid in programs sharing one startup
program; the output channels of their conv parameters, listed block by block, checked
against what the tokens say ([32*t, 32*t, c] per unit); reward() and current_info().
PaddleSlim's asserts compared strings of the lists; these compare the lists, and a second
case builds tokens with three units."""

import unittest

import paddle
import paddle.fluid as fluid
from paddleslim.analysis import flops  # noqa: F401  (the PaddleSlim test imports it too)
from paddleslim.nas import SANAS

# MobileNetV2BlockSpace's choices, by token: expansion ratio, output channels, units.
EXPANSIONS = (1, 2, 3, 4, 5, 6)
WIDTHS = (3, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 224, 256, 320, 384, 512)
UNITS = (1, 2, 3, 4, 5, 6)


def conv_channels(program):
    """Output channels of each 4-D parameter (a conv kernel), in the order listed."""
    channels = []
    for block in program.blocks:
        kernels = [p for p in block.all_parameters() if len(p.shape) == 4]
        channels.extend(int(kernel.shape[0]) for kernel in kernels)
    return channels


def channels_of(tokens):
    """What the tokens promise: expand, depthwise, project convs per unit, from 32 in."""
    ratio, width, units = EXPANSIONS[tokens[0]], WIDTHS[tokens[1]], UNITS[tokens[2]]
    promised, incoming = [], 32
    for _ in range(units):
        promised += [incoming * ratio, incoming * ratio, width]
        incoming = width
    return promised


def build_into(program, startup, archs):
    with fluid.program_guard(program, startup):
        x = fluid.data(name="input", shape=[None, 3, 32, 32], dtype="float32")
        for arch in archs:
            x = arch(x)


class BlockSearchTest(unittest.TestCase):
    def setUp(self):
        paddle.enable_static()
        self.nas = SANAS(
            configs=[("MobileNetV2BlockSpace", {"block_mask": [0]})],
            server_addr=("127.0.0.1", 0),
            save_checkpoint=None,
        )

    def assert_channels(self, program, tokens):
        found = conv_channels(program)
        print("CHANNELS", list(tokens), found, flush=True)
        self.assertEqual(found, channels_of(tokens))

    def test_candidate_reward_and_rebuild(self):
        shared_startup = fluid.Program()
        candidate = fluid.Program()
        build_into(candidate, shared_startup, self.nas.next_archs())
        tokens = self.nas.current_info()["current_tokens"]
        self.assert_channels(candidate, tokens)

        self.assertTrue(self.nas.reward(1.0))

        rebuilt = fluid.Program()
        build_into(rebuilt, shared_startup, self.nas.tokens2arch(tokens))
        self.assert_channels(rebuilt, tokens)
        self.assertIsInstance(self.nas.current_info(), dict)

    def test_three_units_from_tokens(self):
        tokens = [1, 5, 2, 1]  # expansion 2, 24 channels, 3 units, 5x5 kernels
        program = fluid.Program()
        build_into(program, fluid.Program(), self.nas.tokens2arch(tokens))
        self.assert_channels(program, tokens)


if __name__ == "__main__":
    unittest.main()
