"""Static-graph builders: PaddleSlim's `arch(input)` contract under Paddle 3 PIR.

A PIR parameter is a value of one program; a `paddle.nn.Layer` built outside
`program_guard` owns values of the default program, and any other program that uses
them fails in the Executor ("Not found key in IRMapping"). So the Layer is built at call
time, inside the program that is current then.
"""

from __future__ import annotations

import itertools
from typing import Any

import paddle
from paddle import nn

from ..spaces import Architecture
from .paddle_layers import build_layer

# One prefix per builder keeps its parameter names apart from the user's and from other
# builders' in the shared global scope.
_builder_ids = itertools.count()


class StaticArch:
    """Builds its architecture's `paddle.nn.Layer` on first call in each main program.

    - Called again in the same program: the same Layer, so the same parameters.
    - Called in another program (e.g. an evaluation program with its own
      `program_guard`): a Layer whose parameters have the same names, hence the same
      variables in the scope: the evaluation program sees the trained weights, as
      PaddleSlim's same-named parameters did. Run only one startup program per trial;
      running a second one re-initializes them.
    - Called in dynamic mode: one ordinary Layer.
    """

    def __init__(self, architecture: Architecture) -> None:
        self.architecture = architecture
        self._prefix = f"sanas{next(_builder_ids)}_"
        # id(program) -> (program, layer); the program is held so its id is not reused.
        self._layers: dict[int | None, tuple[Any, nn.Layer]] = {}

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.layer()(*inputs, **kwargs)

    def layer(self, program: Any = None) -> nn.Layer:
        """The Layer used in `program`; with no program, the current main program's
        Layer, built now if it was not yet (its parameters go to the current
        programs)."""
        if program is not None:
            try:
                return self._layers[id(program)][1]
            except KeyError:
                raise LookupError("this architecture was not called in that program") from None
        current = None if paddle.in_dynamic_mode() else paddle.static.default_main_program()
        key = None if current is None else id(current)
        if key not in self._layers:
            # A fresh name generator with this builder's prefix: every program's Layer
            # gets the same parameter names.
            with paddle.utils.unique_name.guard(self._prefix):
                self._layers[key] = (current, build_layer(self.architecture))
        return self._layers[key][1]

    def __repr__(self) -> str:
        arch = self.architecture
        return f"StaticArch({arch.space}, {len(arch.blocks)} blocks, {arch.out_channels} out)"
