"""Same tokens, same network: sanas's spaces against PaddleSlim 2.6.0's own, measured.

The oracle (`bench/paddleslim_spaces_oracle.py`, run in PaddleSlim's environment) recorded,
for every space and config it covers and a few hundred random token vectors, what
PaddleSlim builds: its parameters (names and shapes, in creation order, as a digest),
the output's structure and shapes, and `paddleslim.analysis.flops` (only_conv True and
False). This script measures sanas the same way:
- paddle-free, for every vector: the decoded architecture's cost model (PaddleSlim's FLOPs
  convention and parameter count) and output shape;
- built, in a static program (PIR, or legacy with FLAGS_enable_pir_api=0): the parameter
  digest, the output structure, and `sanas.analysis.flops` of the program.
and writes docs/fidelity.md. `tests/test_fidelity.py` runs a subset of the same checks.

    python bench/fidelity.py [--built N] [--out docs/fidelity.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "data" / "paddleslim_spaces_oracle.json"
DARTS_CLASSES = 10  # the oracle calls DartsSpace networks with num_classes=10


def load_oracle() -> dict[str, Any]:
    return json.loads(ORACLE.read_text())


def space_config(case: dict[str, Any]) -> Any:
    from sanas.spaces import SpaceConfig

    config = case["config"] or {}
    return SpaceConfig(
        case["space"],
        input_size=config.get("input_size") or 0,
        output_size=config.get("output_size") or 0,
        block_num=config.get("block_num") or 0,
        block_mask=tuple(config.get("block_mask") or ()),
    )


def digest(params: list[list[Any]]) -> str:
    """The oracle's digest of a parameter list (bench/paddleslim_spaces_oracle.py)."""
    text = json.dumps(params, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def structure(value: Any) -> Any:
    """The output's nesting with each tensor's shape, as the oracle records it."""
    if isinstance(value, tuple | list):
        return {"tuple" if isinstance(value, tuple) else "list": [structure(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): structure(v) for k, v in sorted(value.items())}}
    if value is None:
        return None
    return [int(d) for d in value.shape]


def modelled(case: dict[str, Any], tokens: list[int]) -> dict[str, Any]:
    """Paddle-free: what the cost model says PaddleSlim's network of `tokens` is."""
    from sanas.spaces import CombinedSpace
    from sanas.spaces.cost import architecture_cost, classifier_cost

    channels, size = case["input"][0], case["input"][1]
    space = CombinedSpace.from_configs([space_config(case)])
    (arch,) = space.decode(tokens, channels)
    cost, out = architecture_cost(arch, size)
    shape: Any = [-1, arch.out_channels, out, out]
    if arch.call == "darts":
        cost = cost + classifier_cost(arch.out_channels, DARTS_CLASSES, out)
        train = case["call"] == "darts_train"
        shape = {"tuple": [[-1, DARTS_CLASSES], [-1, DARTS_CLASSES] if train else None]}
    elif arch.call == "block":
        shape = {"tuple": [shape]}
    return {"flops": cost.conv_flops, "param_count": cost.params, "output": shape}


def built(case: dict[str, Any], tokens: list[int]) -> dict[str, Any]:
    """Built by sanas in a static program of the current mode, measured as the oracle
    measures PaddleSlim's."""
    import paddle

    from sanas.analysis import flops
    from sanas.nets import build_archs
    from sanas.spaces import CombinedSpace

    space = CombinedSpace.from_configs([space_config(case)])
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("input", [None, *case["input"]], "float32")
        (arch,) = build_archs(space, tokens, 3)  # channels come from the input
        if case["call"] == "plain":
            out = arch(x)
        else:
            prob = paddle.static.data("drop_path_prob", [None, 1], "float32")
            mask = paddle.static.data("drop_path_mask", [None, 20, 4, 2], "float32")
            out = arch(x, prob, mask, case["call"] == "darts_train", DARTS_CLASSES)
    params = [[p.name, [int(d) for d in p.shape]] for p in main.global_block().all_parameters()]
    if paddle.framework.use_pir_api():
        params.reverse()  # PIR lists a program's parameters newest first
    return {
        "digest": digest(params),
        "param_count": sum(int(_prod(shape)) for _, shape in params),
        "output": structure(out),
        "flops": int(flops(main)),
        "flops_all": int(flops(main, only_conv=False)),
        "params": params,
    }


def _prod(shape: list[int]) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


def measure_built(oracle: dict[str, Any], per_case: int) -> list[list[dict[str, Any]]]:
    """`built` for the first `per_case` vectors of every case (and for the vectors PaddleSlim
    itself failed to build), in this process's static mode."""
    import paddle

    paddle.enable_static()
    try:
        out = []
        for case in oracle["cases"]:
            rows = []
            for v in case["vectors"][:per_case] + case["failures"][:per_case]:
                rows.append(built(case, v["tokens"]))
            out.append(rows)
        return out
    finally:
        paddle.disable_static()


def measure_built_legacy(per_case: int) -> list[list[dict[str, Any]]]:
    """`measure_built` in a legacy-mode Python (the mode is chosen before paddle loads)."""
    env = {**os.environ, "FLAGS_enable_pir_api": "0"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__)), "--measure-built", str(per_case)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        raise RuntimeError(f"legacy-mode measurement failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def differences(expected: dict[str, Any], got: dict[str, Any], keys: list[str]) -> list[str]:
    return [
        f"{k}: PaddleSlim {expected[k]!r}, sanas {got[k]!r}" for k in keys if expected[k] != got[k]
    ]


BUILT_KEYS = ["digest", "param_count", "output", "flops", "flops_all"]


def verdict(expected: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """'k/n identical' for built networks against the oracle's."""
    bad = sum(bool(differences(v, r, BUILT_KEYS)) for v, r in zip(expected, rows, strict=False))
    return f"{len(expected) - bad}/{len(expected)} identical"


def case_label(case: dict[str, Any]) -> str:
    config = case["config"]
    text = ", ".join(f"{k}={v}" for k, v in config.items()) if config else ""
    call = {"plain": "", "darts_eval": ", is_train=False", "darts_train": ", is_train=True"}
    return f"{case['space']}({text}) on {'x'.join(map(str, case['input']))}{call[case['call']]}"


def write_page(path: Path, oracle: dict[str, Any], per_case: int) -> None:
    """The differential table: every case, modelled for every vector, built for `per_case`
    vectors in PIR and in legacy mode."""
    started = time.perf_counter()
    pir = measure_built(oracle, per_case)
    legacy = measure_built_legacy(per_case)
    lines = [
        "# Same tokens, same network: sanas against PaddleSlim 2.6.0",
        "",
        "Generated by `python bench/fidelity.py` from the oracle "
        f"`tests/data/paddleslim_spaces_oracle.json` (PaddleSlim {oracle['meta']['paddleslim']} "
        f"on Paddle {oracle['meta']['paddle']}, {oracle['meta']['mode']}).",
        "",
        "For every space and config, random token vectors were built by PaddleSlim's own "
        "builders. sanas matches when, for the same tokens and input:",
        "- **model**: its paddle-free decode + cost model gives PaddleSlim's FLOPs "
        "(`paddleslim.analysis.flops`, only_conv), parameter count and output shape "
        "(every vector);",
        "- **built**: the network sanas builds in a static program has the same parameters "
        "(names and shapes, in creation order: one digest), the same output structure and "
        "shapes, and `sanas.analysis.flops` equals PaddleSlim's, with only_conv True and "
        f"False (the first {per_case} vectors of each case, in PIR and in legacy mode).",
        "",
        "| space, config, input | vectors | model: FLOPs, params, output | built PIR | "
        "built legacy | PaddleSlim failed |",
        "|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for case, pir_rows, legacy_rows in zip(oracle["cases"], pir, legacy, strict=True):
        model_bad = 0
        for v in case["vectors"]:
            got = modelled(case, v["tokens"])
            if differences(v, got, ["flops", "param_count", "output"]):
                model_bad += 1
        shown = case["vectors"][:per_case]
        n = len(case["vectors"])
        failed = len(case["failures"])
        if n:
            cells = [
                f"{n - model_bad}/{n} identical",
                verdict(shown, pir_rows),
                verdict(shown, legacy_rows),
            ]
        else:
            cells = ["- (PaddleSlim built none)"] * 3
        lines.append(f"| {case_label(case)} | {n} | {' | '.join(cells)} | {failed} |")
        if failed:
            error = " ".join(case["failures"][0]["error"].split())[:160]
            notes.append(
                f"- {case_label(case)}: PaddleSlim failed on all {failed} vectors tried "
                f"(`{error}`); sanas builds them (output {pir_rows[-1]['output']}, in PIR "
                f"and legacy mode). Its parameters are the evaluation network's plus the "
                "auxiliary head's, which the evaluation rows compare."
            )
    lines += ["", "## Where PaddleSlim could not be compared", ""] + (notes or ["- none"])
    lines += ["", f"Measured in {time.perf_counter() - started:.0f} s.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--built", type=int, default=10, help="vectors built per case")
    parser.add_argument("--out", default=str(ROOT / "docs" / "fidelity.md"))
    parser.add_argument("--measure-built", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_built is not None:  # the legacy-mode child of measure_built_legacy
        rows = measure_built(load_oracle(), args.measure_built)
        print(json.dumps(rows, separators=(",", ":")))
        return
    write_page(Path(args.out), load_oracle(), args.built)
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
