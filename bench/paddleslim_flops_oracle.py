"""PaddleSlim 2.6.0's `paddleslim.analysis.flops` on the reference networks of
tests/flops_networks.py, recorded as JSON for tests/test_analysis.py to hold
`sanas.analysis.flops` to.

For every network it records `flops(program)` with only_conv True and False, each with
and without detail, of the network's legacy static program (data [-1, C, H, W] ->
network, the training ones after `optimizer.minimize`); for the networks that are
`paddle.nn.Layer`s also `flops(layer, [batch, C, H, W])` from dygraph, for each batch
size of LAYER_BATCHES.

It runs inside PaddleSlim's own environment (bench/quality.py's `paddleslim_python()`
creates it: PaddleSlim is never a dependency of sanas), under FLAGS_enable_pir_api=0,
since PaddleSlim's `flops` reads only legacy programs:

    FLAGS_enable_pir_api=0 .bench/paddleslim-venv/bin/python bench/paddleslim_flops_oracle.py \
        --out tests/data/paddleslim_flops_oracle.json

Two shims let PaddleSlim 2.6.0 run at all on Paddle 3.3.1 and numpy 2, and change no
count: `np.product` (removed in numpy 2.0; its only_conv=False count calls it) is
`np.prod`, and `paddle.base.dygraph.base._to_static_mode_guard_` (renamed
`to_static_mode_guard` in Paddle 3; PaddleSlim's dygraph path calls the old name) is the
new one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import Any

if os.environ.get("FLAGS_enable_pir_api") != "0":
    sys.exit("run with FLAGS_enable_pir_api=0: PaddleSlim's flops reads legacy programs only")

import numpy as np
import paddle
import paddle.base.dygraph.base as dygraph_base
from paddleslim.analysis import flops

if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]
if not hasattr(dygraph_base, "_to_static_mode_guard_"):
    dygraph_base._to_static_mode_guard_ = dygraph_base.to_static_mode_guard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from flops_networks import LAYER_BATCHES, NETWORKS, layer, static_program


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars become Python ones of the same kind (an np.float64
    total stays a float, an np.int64 one an int), so the test can check the kind too."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def counts(model: Any, inputs: Any = None) -> dict[str, Any]:
    return {
        "conv": plain(flops(model, inputs)),
        "all": plain(flops(model, inputs, only_conv=False)),
        "conv_detail": plain(flops(model, inputs, detail=True)),
        "all_detail": plain(flops(model, inputs, only_conv=False, detail=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    args = parser.parse_args()

    static: dict[str, Any] = {}
    paddle.enable_static()
    for name, network in NETWORKS.items():
        static[name] = {"shape": list(network.shape), **counts(static_program(network))}

    dygraph: dict[str, Any] = {}
    for name, network in NETWORKS.items():
        if network.layer is None:
            continue
        for batch in LAYER_BATCHES:
            # PaddleSlim's dygraph path ends with paddle.disable_static(), whatever the
            # mode was; each call starts from dygraph here.
            paddle.disable_static()
            shape = [batch, *network.shape]
            dygraph[f"{name}@{batch}"] = {"inputs": shape, **counts(layer(network), shape)}

    result = {
        "versions": {
            p: importlib.metadata.version(p) for p in ("paddleslim", "paddlepaddle", "numpy")
        },
        "static": static,
        "dygraph": dygraph,
    }
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
