"""PaddleSlim's FLOPs count (`paddleslim.analysis.flops`) for Paddle 3.

    from sanas.analysis import flops            # was: from paddleslim.analysis import flops

A PaddleSlim script compares `flops(program)` with a FLOPs budget, so the number must be
PaddleSlim's own, quirks included, not a truer one: the same network gives the same
number here as PaddleSlim 2.6.0 gives for its legacy static program
(tests/test_analysis.py holds it to numbers recorded from PaddleSlim itself). PaddleSlim's
`flops` reads only legacy programs (`op.type`), so on Paddle 3's default PIR programs it
fails; this one reads PIR programs, legacy programs (FLAGS_enable_pir_api=0) and
`paddle.nn.Layer`s.

What is counted, op by op, in every block of the program (so backward (`*_grad`) and
optimizer ops, whose types differ, count nothing):

- conv2d, depthwise_conv2d: h_out * w_out * c_out * (k_h * k_w * c_in/groups + bias), from
  the filter [c_out, c_in/groups, k_h, k_w] and output [N, C, H, W] shapes (the batch is
  ignored; bias is 1 only for a bias *input* of the op, which Paddle's layers never give:
  they add the bias with a separate op, so Conv2D's bias counts nothing). A float, as in
  PaddleSlim.
- mul, matmul, matmul_v2 (PIR: matmul): x[0] * x[1] * y[1], x[0] = -1 counted as 1.
  Only the first two dimensions of x count: a legacy `paddle.static.nn.fc` on a 4-D input
  is a `mul` of the unflattened input, [-1, C, H, W] x [C*H*W, n] counting C * n.
- with only_conv=False also: avg pool2d h_out * w_out * c_out * k_h**2 * 2 (k_h is the
  kernel attribute, so an adaptive pool counts its output size), relu, relu6 and sigmoid
  the input's element count, batch_norm twice that (the batch counted as given, -1 as 1).

detail=True returns (flops, {filter/weight name: its op's flops}).

How Paddle 3 writes these ops in PIR: `pd_op.conv2d`, `pd_op.depthwise_conv2d` (the
bias a separate `pd_op.add`, like legacy's elementwise_add), `pd_op.matmul` for both
`nn.Linear` (legacy matmul_v2) and `paddle.static.nn.fc` (legacy mul), `pd_op.pool2d`
(kernel as an operand made by `pd_op.full_int_array`), `pd_op.relu`/`relu_`,
`pd_op.relu6`, `pd_op.sigmoid`/`sigmoid_`, `pd_op.batch_norm`/`batch_norm_`. PIR's fc
reshapes a >2-D input to 2-D before its matmul; to count what legacy's `mul` counted,
that reshape is looked through, found by the op call stack PIR records (a program
without call stacks, e.g. one loaded from a file, counts the reshaped 2-D input).

Paddle is imported only when `flops` is called, so `import sanas.analysis` is light.
"""

from __future__ import annotations

import collections
import itertools
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["flops"]

Number = int | float

_CONV = frozenset({"conv2d", "depthwise_conv2d"})
_MATMUL = frozenset({"mul", "matmul", "matmul_v2"})
# Legacy op type of each PIR op counted the same way. PIR's in-place variants (the
# trailing underscore) are the same computation; legacy had one type for both.
_PIR_TYPES = {
    "pd_op.conv2d": "conv2d",
    "pd_op.depthwise_conv2d": "depthwise_conv2d",
    "pd_op.matmul": "matmul_v2",
    "pd_op.pool2d": "pool2d",
    "pd_op.relu": "relu",
    "pd_op.relu_": "relu",
    "pd_op.relu6": "relu6",
    "pd_op.sigmoid": "sigmoid",
    "pd_op.sigmoid_": "sigmoid",
    "pd_op.batch_norm": "batch_norm",
    "pd_op.batch_norm_": "batch_norm",
}
# Counted per input element (batch_norm twice) with only_conv=False.
_PER_ELEMENT = {"relu": 1, "relu6": 1, "sigmoid": 1, "batch_norm": 2}

_INPUTS_ACCEPTED = (
    "inputs must be an input shape ([1, 3, 32, 32]), a list of shapes (one per forward "
    "argument), or the forward arguments themselves (paddle Tensors or numpy arrays, "
    "alone or in a list, tuple or dict)"
)


def flops(
    model: Any,
    inputs: Any = None,
    dtypes: str | Sequence[str] | None = None,
    only_conv: bool = True,
    detail: bool = False,
) -> Number | tuple[Number, dict[str, Number]]:
    """PaddleSlim's FLOPs of `model`, exactly as `paddleslim.analysis.flops` counts them.

    Args:
        model: a static program (PIR, Paddle 3's default, or legacy) or a
            `paddle.nn.Layer`.
        inputs: only for a Layer: the shape of its one input ([1, 3, 32, 32]), a list of
            shapes (one per forward argument), or the arguments themselves (Tensors or
            numpy arrays, alone or in a list, tuple or dict). The batch of a shape counts
            in matmul, activations and batch norm, as in PaddleSlim.
        dtypes: only for shapes: one dtype for all, or one per shape (default float32).
        only_conv: count only conv and matmul ops (True) or also pooling, activations
            and batch norm.
        detail: also return {filter or weight name: flops of its op}.

    Returns:
        The FLOPs (a float once a conv is counted, as in PaddleSlim), or (FLOPs, detail).

    A Layer is traced into a static program of the IR in use (`paddle.jit.to_static` for
    one made in dygraph); the caller's dygraph/static mode is left as it was.
    """
    import paddle

    count = _Count(only_conv)
    if isinstance(model, paddle.pir.Program):
        _count_pir(model, count)
    elif isinstance(model, paddle.base.framework.Program):
        _count_legacy(model, count)
    elif isinstance(model, paddle.nn.Layer):
        return flops(
            _layer_program(paddle, model, inputs, dtypes),
            only_conv=only_conv,
            detail=detail,
        )
    else:
        raise TypeError(
            "flops() counts a paddle.static.Program (PIR or legacy) or a paddle.nn.Layer "
            f"with its inputs, not {type(model).__name__}"
        )
    return (count.total, count.per_param) if detail else count.total


class _Count:
    """PaddleSlim's rule, op by op, whatever IR the shapes come from."""

    def __init__(self, only_conv: bool) -> None:
        self.only_conv = only_conv
        # PaddleSlim starts from int 0 and adds a float per conv, so a network with a
        # conv gets a float total and one without an int.
        self.total: Number = 0
        self.per_param: dict[str, Number] = {}

    def conv(
        self, name: str, filter_shape: Sequence[int], out_shape: Sequence[int], bias: bool
    ) -> None:
        c_out, c_in, k_h, k_w = filter_shape  # c_in is per group
        _, _, h_out, w_out = out_shape  # read as NCHW whatever the layout, as PaddleSlim
        op_flops = float(h_out * w_out * c_out * (k_h * k_w * c_in + int(bias)))
        self.total += op_flops
        self.per_param[name] = op_flops

    def matmul(self, name: str, x_shape: Sequence[int], y_shape: Sequence[int]) -> None:
        if len(x_shape) < 2 or len(y_shape) < 2:
            raise ValueError(
                f"matmul of shapes {list(x_shape)} and {list(y_shape)}: PaddleSlim's count "
                "x[0] * x[1] * y[1] needs both operands at least 2-D"
            )
        op_flops = _batch_as_one(x_shape[0]) * x_shape[1] * y_shape[1]
        self.total += op_flops
        self.per_param[name] = op_flops

    def avg_pool(self, out_shape: Sequence[int], kernel: Sequence[int]) -> None:
        _, c_out, h_out, w_out = out_shape
        self.total += h_out * w_out * c_out * kernel[0] ** 2 * 2

    def per_element(self, op_type: str, x_shape: Sequence[int]) -> None:
        dims = list(x_shape)
        if dims:
            dims[0] = _batch_as_one(dims[0])
        self.total += math.prod(dims) * _PER_ELEMENT[op_type]


def _batch_as_one(dim: int) -> int:
    return 1 if dim == -1 else dim


def _count_legacy(program: Any, count: _Count) -> None:
    """A legacy `paddle.base.framework.Program`: every block, in block order."""

    def shape(name: str) -> list[int]:
        # The first block that has the variable, as PaddleSlim's GraphWrapper looks it up.
        for block in program.blocks:
            if block.has_var(name):
                return list(block.var(name).shape)
        raise KeyError(f"variable {name!r} is in no block of the program")

    def slot(op: Any, name: str) -> list[str]:
        return list(op.input(name)) if name in op.input_names else []

    for block in program.blocks:
        for op in block.ops:
            kind = op.type
            if kind in _CONV:
                (weight,) = op.input("Filter")
                count.conv(
                    weight, shape(weight), shape(op.output("Output")[0]), bool(slot(op, "Bias"))
                )
            elif kind in _MATMUL:
                x, y = op.input("X")[0], op.input("Y")[0]
                count.matmul(y, shape(x), shape(y))
            elif count.only_conv:
                continue
            elif kind == "pool2d":
                if op.attr("pooling_type") == "avg":
                    count.avg_pool(shape(op.output("Out")[0]), op.attr("ksize"))
            elif kind in _PER_ELEMENT:
                count.per_element(kind, shape(op.input("X")[0]))


def _count_pir(program: Any, count: _Count) -> None:
    """A PIR program: the global block, then the blocks nested in its ops (if/while
    bodies) in the order met, as legacy programs list their sub-blocks after block 0."""
    unnamed: collections.Counter[str] = collections.Counter()

    def name_of(op: Any, operand: str) -> str:
        value = _operand(op, operand)
        if value.has_name:  # parameters, data
            return str(value.name)
        # A PIR value made by an op has no name (legacy gave it a tmp_N one): a key that
        # says which op it came from.
        unnamed[op.name()] += 1
        return f"{op.name()}#{unnamed[op.name()]}.{operand}"

    for op in _pir_ops(program):
        kind = _PIR_TYPES.get(op.name())
        if kind is None:
            continue
        if kind in _CONV:
            # PIR's conv ops have no bias operand: the bias is a separate add.
            count.conv(
                name_of(op, "filter"),
                _shape(_operand(op, "filter")),
                _shape(op.result(0)),
                False,
            )
        elif kind in _MATMUL:
            count.matmul(name_of(op, "y"), _fc_x_shape(op), _shape(_operand(op, "y")))
        elif count.only_conv:
            continue
        elif kind == "pool2d":
            if op.attrs()["pooling_type"] == "avg":
                count.avg_pool(_shape(op.result(0)), _pir_kernel(op))
        else:
            count.per_element(kind, _shape(_operand(op, "x")))


def _pir_ops(program: Any) -> Iterator[Any]:
    blocks = collections.deque([program.global_block()])
    while blocks:
        for op in blocks.popleft().ops:
            yield op
            if op.num_regions():
                blocks.extend(op.blocks())


def _operand(op: Any, name: str) -> Any:
    return op.operand_source(op.get_input_names().index(name))


def _shape(value: Any) -> list[int]:
    return [int(d) for d in value.shape]


def _fc_x_shape(matmul: Any) -> list[int]:
    """x's shape as legacy's op saw it: `paddle.static.nn.fc` on a >2-D input is, in PIR,
    reshape-to-2-D + matmul, but in legacy one `mul` of the unreshaped input, and
    PaddleSlim counts that input's first two dimensions."""
    x = _operand(matmul, "x")
    producer = x.get_defining_op()
    if (
        producer is not None
        and producer.name() == "pd_op.reshape"
        and _made_by_fc(matmul)
        and _made_by_fc(producer)
    ):
        return _shape(_operand(producer, "x"))
    return _shape(x)


def _made_by_fc(op: Any) -> bool:
    # The call stack PIR records for each op (FLAGS_call_stack_level) names the Paddle
    # function that emitted it; fc's body is `fc_base` in paddle/static/nn/common.py.
    return any(
        "common.py" in line and line.rstrip().endswith(", in fc_base") for line in op.callstack
    )


def _pir_kernel(op: Any) -> list[int]:
    producer = _operand(op, "kernel_size").get_defining_op()
    if producer is None or producer.name() != "pd_op.full_int_array":
        raise ValueError(
            f"{op.name()} with a kernel size computed at run time "
            f"({producer.name() if producer else 'a block argument'}): PaddleSlim's count "
            "needs it known when the program is built"
        )
    return [int(k) for k in producer.attrs()["value"]]


def _layer_program(paddle: Any, layer: Any, inputs: Any, dtypes: Any) -> Any:
    """`layer`'s forward as a static program of the IR in use, for `inputs`.

    A Layer made in dygraph (its parameters eager Tensors) is traced with
    `paddle.jit.to_static`, which leaves the Layer as it was; one made in static mode
    (parameters of a static program) is called inside a fresh `program_guard`. Either
    way the caller's dygraph/static mode is restored.
    """
    if inputs is None:
        raise TypeError(f"flops(layer, inputs): a Layer needs its inputs; {_INPUTS_ACCEPTED}")
    args = _input_specs(paddle, inputs, dtypes)
    # Read from each sublayer's own tables: `layer.parameters()` fails on eager
    # parameters in PIR static mode (its de-duplicating set takes only PIR values), and
    # the mode is what is being decided here.
    held = [
        t
        for sub in layer.sublayers(include_self=True)
        for table in (sub._parameters, sub._buffers)
        for t in table.values()
        if t is not None
    ]
    eager = any(isinstance(p, paddle.Tensor) for p in held) if held else None
    was_dynamic = paddle.in_dynamic_mode()
    dynamic = was_dynamic if eager is None else eager
    try:
        # The mode the Layer's parameters belong to, for as long as the trace takes.
        if dynamic and not was_dynamic:
            paddle.disable_static()
        elif not dynamic and was_dynamic:
            paddle.enable_static()
        # A name generator of its own: tracing must not move the caller's tmp_N names.
        with paddle.utils.unique_name.guard():
            if dynamic:
                forward = paddle.jit.to_static(layer.forward, full_graph=True)
                return forward.get_concrete_program(*args)[0].main_program
            return _trace_static(paddle, layer, held, args)
    finally:
        if paddle.in_dynamic_mode() != was_dynamic:
            if was_dynamic:
                paddle.disable_static()
            else:
                paddle.enable_static()


def _trace_static(paddle: Any, layer: Any, held: list[Any], args: list[Any]) -> Any:
    program = paddle.static.Program()
    with paddle.static.program_guard(program, paddle.static.Program()):
        if isinstance(program, paddle.base.framework.Program):
            # Legacy ops name their variables, and shape inference looks the names up in
            # the op's own program: give the Layer's parameters variables here. (PIR
            # values are used directly across programs.)
            block = program.global_block()
            for p in {p.name: p for p in held}.values():  # a shared parameter once
                block.create_var(name=p.name, shape=p.shape, dtype=p.dtype, persistable=True)
        feeds = itertools.count()

        def data(spec: Any) -> Any:
            if isinstance(spec, paddle.static.InputSpec):
                return paddle.static.data(f"input_{next(feeds)}", spec.shape, spec.dtype)
            if isinstance(spec, dict):
                return {k: data(v) for k, v in spec.items()}
            if isinstance(spec, list | tuple):
                return type(spec)(data(v) for v in spec)
            return spec

        layer(*[data(a) for a in args])
    return program


def _input_specs(paddle: Any, inputs: Any, dtypes: Any) -> list[Any]:
    """The forward's positional arguments with every tensor an InputSpec, read as
    PaddleSlim reads `inputs`: a shape, a list of shapes, or the arguments themselves (a
    list or tuple: one per argument; a Tensor, array or dict: the one argument). Plain
    values (None, bool, numbers, str) may be arguments in a list, tuple or dict."""
    if _is_shape(inputs):
        shapes = [list(inputs)]
    elif isinstance(inputs, list | tuple) and inputs and all(_is_shape(s) for s in inputs):
        shapes = [list(s) for s in inputs]
    elif isinstance(inputs, list | tuple):
        return [_spec_of(paddle, a) for a in inputs]
    elif isinstance(inputs, dict) or _is_tensor(paddle, inputs):
        return [_spec_of(paddle, inputs)]
    else:
        raise TypeError(f"{_INPUTS_ACCEPTED}; got {type(inputs).__name__}")
    if dtypes is None:
        kinds = ["float32"] * len(shapes)
    elif isinstance(dtypes, str):
        kinds = [dtypes] * len(shapes)
    elif isinstance(dtypes, list | tuple) and len(dtypes) == len(shapes):
        kinds = list(dtypes)
    else:
        raise TypeError(
            f"dtypes must be one dtype or a list of {len(shapes)} (one per input shape), "
            f"not {dtypes!r}"
        )
    return [
        paddle.static.InputSpec([int(d) for d in s], k) for s, k in zip(shapes, kinds, strict=True)
    ]


def _is_shape(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in value
    )


def _is_tensor(paddle: Any, value: Any) -> bool:
    import numpy as np

    return isinstance(
        value, paddle.Tensor | np.ndarray | paddle.pir.Value | paddle.base.framework.Variable
    )


def _spec_of(paddle: Any, value: Any) -> Any:
    if _is_tensor(paddle, value):
        # Only its shape and dtype matter: the trace makes an input of its own.
        return paddle.static.InputSpec([int(d) for d in value.shape], value.dtype)
    if isinstance(value, dict):
        return {k: _spec_of(paddle, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_spec_of(paddle, v) for v in value)
    if value is None or isinstance(value, bool | numbers.Number | str):
        # A plain argument the forward takes as it is (a flag, a scale).
        return value
    raise TypeError(f"{_INPUTS_ACCEPTED}; got {type(value).__name__}")
