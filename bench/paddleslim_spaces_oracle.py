"""PaddleSlim 2.6.0's own search spaces as the oracle of sanas's: for each space and
config, random token vectors are built by PaddleSlim in legacy static mode and measured
(parameter names and shapes in creation order, output structure and shapes, and
`paddleslim.analysis.flops` with only_conv True and False). The result is JSON that
`tests/test_fidelity.py` and `bench/fidelity.py` compare sanas against.

Runs inside PaddleSlim's own environment (bench/quality.py's `paddleslim_python()`
creates it: paddleslim is never a dependency of sanas), under FLAGS_enable_pir_api=0,
since PaddleSlim's builders use `paddle.static.nn.*`, which PIR mode does not support:

    FLAGS_enable_pir_api=0 .bench/paddleslim-venv/bin/python bench/paddleslim_spaces_oracle.py \
        --vectors 300 --out tests/data/paddleslim_spaces_oracle.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import sys
import time
import zlib
from typing import Any

if os.environ.get("FLAGS_enable_pir_api") != "0":
    sys.exit("run with FLAGS_enable_pir_api=0: PaddleSlim's spaces need legacy static mode")

import numpy as np
import paddle
from paddleslim.analysis import flops
from paddleslim.nas.search_space import SearchSpaceFactory

# numpy 2 removed np.product, which PaddleSlim's only_conv=False count still calls.
if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]

# (space key, config or None, input shape [C, H, W], call kind, vectors share). The
# configs are the ones PaddleSlim's demos, tests and tutorials use, plus layouts that
# exercise its block_num rules (repeats and leftovers, ceil halving) and other input
# channels (its block spaces take them from the input).
CASES: list[tuple[str, dict[str, Any] | None, list[int], str, float]] = [
    ("MobileNetV2Space", None, [3, 32, 32], "plain", 1.0),
    ("MobileNetV2Space", None, [1, 24, 24], "plain", 0.2),
    ("MobileNetV1Space", None, [3, 32, 32], "plain", 1.0),
    ("ResNetSpace", None, [3, 32, 32], "plain", 1.0),
    ("DartsSpace", None, [3, 32, 32], "darts_eval", 0.5),
    ("DartsSpace", None, [3, 32, 32], "darts_train", 0.1),
    ("MobileNetV2BlockSpace", {"block_mask": [0]}, [3, 32, 32], "plain", 0.5),
    ("MobileNetV2BlockSpace", {"block_mask": [0, 1, 1, 1, 0]}, [32, 16, 16], "plain", 0.5),
    (
        "MobileNetV2BlockSpace",
        {"input_size": 32, "output_size": 8, "block_num": 2},
        [3, 32, 32],
        "plain",
        0.5,
    ),
    (
        "MobileNetV2BlockSpace",
        {"input_size": 32, "output_size": 4, "block_num": 5},
        [16, 32, 32],
        "plain",
        0.5,
    ),
    (
        "MobileNetV2BlockSpace",
        {"input_size": 28, "output_size": 4, "block_num": 7},
        [1, 28, 28],
        "plain",
        0.3,
    ),
    ("MobileNetV1BlockSpace", {"block_mask": [0, 1, 1, 0]}, [3, 32, 32], "plain", 0.5),
    (
        "MobileNetV1BlockSpace",
        {"input_size": 32, "output_size": 8, "block_num": 2},
        [3, 32, 32],
        "plain",
        0.5,
    ),
    (
        "MobileNetV1BlockSpace",
        {"input_size": 32, "output_size": 4, "block_num": 5},
        [16, 32, 32],
        "plain",
        0.5,
    ),
    ("ResNetBlockSpace", {"block_mask": [1, 0, 1]}, [3, 32, 32], "plain", 0.5),
    (
        "ResNetBlockSpace",
        {"input_size": 32, "output_size": 8, "block_num": 2},
        [3, 32, 32],
        "plain",
        0.5,
    ),
    (
        "ResNetBlockSpace",
        {"input_size": 32, "output_size": 4, "block_num": 4},
        [8, 32, 32],
        "plain",
        0.3,
    ),
    ("InceptionABlockSpace", {"block_mask": [1, 0]}, [3, 32, 32], "plain", 0.5),
    (
        "InceptionABlockSpace",
        {"input_size": 32, "output_size": 8, "block_num": 2},
        [3, 32, 32],
        "plain",
        0.5,
    ),
    (
        "InceptionABlockSpace",
        {"input_size": 32, "output_size": 8, "block_num": 3},
        [16, 32, 32],
        "plain",
        0.3,
    ),
]
# Token vectors whose parameter list is kept whole (not only hashed), per case: enough to
# show a difference when a hash differs.
FULL_LISTS = 3


def manifest_digest(params: list[list[Any]]) -> str:
    """One digest of a parameter list (name and shape, in creation order); sanas's test
    computes the same from its own programs."""
    text = json.dumps(params, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def structure(value: Any) -> Any:
    """The output's nesting (tuple / list / dict) with each tensor's shape."""
    if isinstance(value, tuple | list):
        return {"tuple" if isinstance(value, tuple) else "list": [structure(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): structure(v) for k, v in sorted(value.items())}}
    if value is None:
        return None
    return [int(d) for d in value.shape]


def build(key: str, config: dict | None, shape: list[int], call: str, tokens: list[int]) -> dict:
    space = SearchSpaceFactory().get_search_space([(key, config) if config else key])
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("input", [None, *shape], "float32")
        arch = space.token2arch(tokens)[0]
        if call == "plain":
            out = arch(x)
        else:
            prob = paddle.static.data("drop_path_prob", [None, 1], "float32")
            mask = paddle.static.data("drop_path_mask", [None, 20, 4, 2], "float32")
            out = arch(x, prob, mask, call == "darts_train", 10)
    params = [[p.name, [int(d) for d in p.shape]] for p in main.global_block().all_parameters()]
    return {
        "tokens": tokens,
        "digest": manifest_digest(params),
        "param_count": int(sum(int(np.prod(s)) for _, s in params)),
        "tensors": len(params),
        "output": structure(out),
        "flops": int(flops(main)),
        "flops_all": int(flops(main, only_conv=False)),
        "params": params,
    }


def run_case(key: str, config: dict | None, shape: list[int], call: str, vectors: int) -> dict:
    # A seed from the case itself (hash() of a str changes per process).
    rng = np.random.default_rng(zlib.crc32(json.dumps([key, config, shape, call]).encode()))
    with contextlib.redirect_stdout(io.StringIO()):  # PaddleSlim prints its registry
        table = SearchSpaceFactory().get_search_space([(key, config) if config else key])
        table = table.range_table()
    seen: set[tuple[int, ...]] = set()
    results, failures = [], []
    started = time.perf_counter()
    while len(results) + len(failures) < vectors and len(seen) < 50 * vectors:
        tokens = tuple(int(rng.integers(r)) for r in table)
        if tokens in seen:
            continue
        seen.add(tokens)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                row = build(key, config, shape, call, list(tokens))
        except Exception as exc:  # PaddleSlim's own failures are facts to record
            failures.append({"tokens": list(tokens), "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        if len(results) >= FULL_LISTS:
            del row["params"]
        results.append(row)
    return {
        "space": key,
        "config": config,
        "input": shape,
        "call": call,
        "range_table": [int(r) for r in table],
        "vectors": results,
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=300, help="token vectors per space")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    paddle.enable_static()
    cases = []
    for key, config, shape, call, share in CASES:
        count = max(5, round(args.vectors * share))
        case = run_case(key, config, shape, call, count)
        print(
            f"{key} {config} {shape} {call}: {len(case['vectors'])} built, "
            f"{len(case['failures'])} failed, {case['seconds']} s",
            file=sys.stderr,
        )
        cases.append(case)
    meta = {
        "paddleslim": importlib.metadata.version("paddleslim"),
        "paddle": paddle.__version__,
        "mode": "legacy static (FLAGS_enable_pir_api=0)",
    }
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
