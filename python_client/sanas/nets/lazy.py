"""Static-graph builders: PaddleSlim's `arch(input)` contract under Paddle 3, PIR or legacy.

A PIR parameter is a value of one program; a `paddle.nn.Layer` built outside
`program_guard` owns values of the default program, and any other program that uses
them fails in the Executor ("Not found key in IRMapping"). So the Layer is built at call
time, inside the program that is current then, for the channels of its input (as
PaddleSlim's builders took them from the input), with the call's shape options
(PaddleSlim's `scale` / `output_stride`, DartsSpace's `is_train` / `num_classes`).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from typing import Any

import paddle
from paddle import nn

from ..spaces import Architecture, SearchSpace

# One prefix per builder keeps any generated parameter names apart from the user's and
# from other builders' in the shared global scope (PaddleSlim's spaces name their own).
_builder_ids = itertools.count()

# PaddleSlim's call signatures, by Architecture.call.
SIGNATURES = {
    "layer": inspect.Signature(
        [inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    ),
}


def _signature(*params: tuple[str, Any]) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [
            inspect.Parameter(n, kind)
            if d is inspect.Parameter.empty
            else inspect.Parameter(n, kind, default=d)
            for n, d in params
        ]
    )


_EMPTY = inspect.Parameter.empty
SIGNATURES.update(
    {
        "backbone": _signature(
            ("input", _EMPTY),
            ("scale", 1.0),
            ("return_block", None),
            ("end_points", None),
            ("output_stride", None),
        ),
        "block": _signature(("input", _EMPTY), ("return_mid_layer", False), ("return_block", None)),
        "darts": _signature(
            ("input", _EMPTY),
            ("drop_prob", _EMPTY),
            ("drop_path_mask", _EMPTY),
            ("is_train", _EMPTY),
            ("num_classes", _EMPTY),
        ),
    }
)


class StaticArch:
    """Builds its architecture's Layer when called, once per program and build options.

    - Called again in the same program: the same Layer, so the same parameters.
    - Called in another program (an evaluation program built with its own
      `program_guard`): a Layer whose parameters have the same names (PaddleSlim's, for
      its spaces), hence the same variables in the scope: the evaluation program sees
      the trained weights. Run only one startup program per trial; running a second one
      re-initializes them.
    - Called in dynamic mode: one ordinary Layer.
    """

    def __init__(
        self, space: SearchSpace, tokens: Sequence[int], architecture: Architecture
    ) -> None:
        self.space = space
        self.tokens = list(tokens)
        self.architecture = architecture  # as decoded for SANAS's input_channels
        self._prefix = f"sanas{next(_builder_ids)}_"
        # (id(program), channels, options) -> (program, layer); the program is held so
        # its id is not reused.
        self._layers: dict[tuple[Any, ...], tuple[Any, nn.Layer]] = {}

    @property
    def signature(self) -> inspect.Signature:
        return SIGNATURES[self.architecture.call]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"{self.architecture.space} networks are called as arch{self.signature}, as "
                f"in PaddleSlim: {exc}"
            ) from None
        bound.apply_defaults()
        call = dict(bound.arguments)
        from .paddleslim_layers import unwrap

        x = unwrap(call.pop("input"))
        kind = self.architecture.call
        if kind == "backbone":
            options = {"scale": call.pop("scale"), "output_stride": call.pop("output_stride")}
            layer = self._layer_for(x, options)
            return layer.run(x, call["return_block"], call["end_points"])
        if kind == "darts":
            options = {"num_classes": call["num_classes"], "is_train": bool(call["is_train"])}
            return self._layer_for(x, options)(x, **call)
        return self._layer_for(x, {})(x, **call)

    def layer(self, program: Any = None) -> nn.Layer:
        """The Layer built in `program` (the first one built there), for its
        `parameters()`; with no program, the current program's (dynamic mode: one
        ordinary Layer), built now for SANAS's input_channels if it was not yet."""
        if program is None and not paddle.in_dynamic_mode():
            program = paddle.static.default_main_program()
        for (pid, *_), (_, layer) in self._layers.items():
            if pid == id(program):
                return layer
        if program is not None and program is not paddle.static.default_main_program():
            raise LookupError("this architecture was not called in that program")
        return self._layer_for(None, {})

    def _layer_for(self, x: Any, options: dict[str, Any]) -> nn.Layer:
        current = None if paddle.in_dynamic_mode() else paddle.static.default_main_program()
        channels = self.architecture.in_channels if x is None else int(x.shape[1])
        key = (id(current), channels, tuple(sorted(options.items())))
        if key not in self._layers:
            self._layers[key] = (current, self._build(channels, options, current is not None))
        return self._layers[key][1]

    def programs(self) -> list[Any]:
        """The static programs this architecture was built in, in order."""
        seen: dict[int, Any] = {}
        for program, _ in self._layers.values():
            if program is not None:
                seen.setdefault(id(program), program)
        return list(seen.values())

    def _build(self, channels: int, options: dict[str, Any], static: bool) -> nn.Layer:
        from . import build_one

        shape = {k: v for k, v in options.items() if k in ("scale", "output_stride")}
        shape = {k: v for k, v in shape.items() if v is not None and v != 1.0}
        arch = self.space.decode(self.tokens, channels, **shape)
        try:
            with paddle.utils.unique_name.guard(self._prefix):
                if arch.call == "darts":
                    from .darts_layers import DartsNetwork
                    from .paddleslim_layers import Names

                    return DartsNetwork(
                        arch, Names(static), options["num_classes"], options["is_train"]
                    )
                return build_one(arch, static_names=static)
        except ValueError as exc:
            if "Duplicate parameter" not in str(exc) and "has been created before" not in str(exc):
                raise
            raise ValueError(
                f"{exc}\n{arch.space} networks use PaddleSlim's parameter names, so that a "
                "second program (an evaluation program) finds the trained weights by name; "
                "two different networks of one space therefore cannot share a startup "
                "program. Build each network with its own programs, as PaddleSlim's scripts "
                "do (or use the 'sanas.' variant of the space, whose names are generated)"
            ) from None

    def untrained_parameters(self) -> list[tuple[int, list[str]]]:
        """Evaluation programs that hold trainable parameters no training program
        updates: (index of the program among `programs()`, parameter names). A head
        built anew in the evaluation program gets its own, untrained parameters when its
        names differ (PIR's `paddle.static.nn.fc` does not restart its names under
        `unique_name.guard()`), and the shared startup program initialises them
        silently, so the evaluation scores an untrained head."""
        programs = self.programs()
        training = [p for p in programs if _has_backward(p)]
        if not training or len(programs) < 2:
            return []
        trained = {name for p in training for name in _trainable_parameters(p)}
        out = []
        for i, program in enumerate(programs):
            if program in training:
                continue
            missing = sorted(n for n in _trainable_parameters(program) if n not in trained)
            if missing:
                out.append((i, missing))
        return out

    def __repr__(self) -> str:
        arch = self.architecture
        return f"StaticArch({arch.space}, {len(arch.blocks)} blocks, {arch.out_channels} out)"


def _op_names(program: Any) -> list[str]:
    ops = program.global_block().ops
    return [op.name() if callable(getattr(op, "name", None)) else op.type for op in ops]


def _has_backward(program: Any) -> bool:
    """Whether a program trains (holds gradient ops), PIR or legacy."""
    return any(name.endswith("_grad") for name in _op_names(program))


def _trainable_parameters(program: Any) -> list[str]:
    return [
        p.name
        for p in program.global_block().all_parameters()
        if getattr(p, "trainable", True) and not getattr(p, "stop_gradient", False)
    ]
