"""`sanas port`: the one rewrite that ports a PaddleSlim NAS script, and a report of the
Paddle 3 changes left to make by hand.

The rewrite touches import statements only (found with `ast`, replaced within their own
line spans, so every other line, and every line number, stays as it was):

    from paddleslim.nas import SANAS               -> from sanas import SANAS
    from paddleslim.nas.early_stop import MedianStop -> from sanas.early_stop import ...
    from paddleslim.analysis import flops          -> from sanas.analysis import flops
    from paddleslim.common import get_logger       -> from sanas.common import get_logger
    import paddleslim as slim                      -> import sanas as slim

An import of something sanas has no equivalent for is left as it is and reported.
`legacy=True` also inserts the two lines that select Paddle's legacy static mode before
the first import that may load Paddle, and reports only what legacy mode still needs.

The report names, with line numbers of the rewritten script, each Paddle 3 change the
tool can recognise but cannot make (it would have to understand the program): each with
the one-line advice of docs/porting.md, whose section it names (`docs/porting.md#ID`).
It recognises patterns, not meaning: docs/porting.md lists what it misses.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

DOC = "docs/porting.md"
LEGACY_FLAG = "FLAGS_enable_pir_api"
LEGACY_LINES = (
    "import os\n",
    f'os.environ["{LEGACY_FLAG}"] = "0"  # legacy static mode: set before Paddle is imported\n',
)


@dataclass(frozen=True)
class Change:
    """One kind of change a script may need; `pir` / `legacy`: needed in that mode."""

    id: str
    advice: str
    pir: bool = True
    legacy: bool = True


CHANGES = {
    c.id: c
    for c in (
        Change(
            "fluid",
            "paddle.fluid is gone in Paddle 3: use paddle.static (Program, program_guard, "
            "data, Executor), paddle.nn and paddle.optimizer",
        ),
        Change(
            "static-nn-layers",
            "under PIR paddle.static.nn builds only fc (conv2d, batch_norm, layer_norm, "
            "embedding, ... fail): use the paddle.nn layer (Conv2D, BatchNorm, ...) with "
            "the same ParamAttr names",
            legacy=False,
        ),
        Change(
            "clone-for-test",
            "clone(for_test=True) is gone under PIR: before minimize, "
            "test = program.clone(value_map) with value_map = paddle.pir.IrMapping(), then "
            "test.set_is_test_attr(), and fetch value_map.look_up(v) from it",
            legacy=False,
        ),
        Change(
            "fetch-by-name",
            "under PIR only data and parameter values have a .name: fetch the values "
            "themselves (fetch_list=[avg_cost])",
            legacy=False,
        ),
        Change(
            "compiled-program",
            "CompiledProgram does not take PIR programs: run the program itself",
            legacy=False,
        ),
        Change(
            "with-data-parallel",
            "CompiledProgram.with_data_parallel is gone in Paddle 3: run the program itself "
            "(legacy mode: CompiledProgram(program, build_strategy=...)); several devices: "
            "paddle.distributed",
        ),
        Change(
            "zero-d",
            "losses and accuracies are fetched as 0-D arrays in Paddle 3: [0] and "
            "np.mean(np.array(fetched), axis=1) fail; use the value itself (float(v), "
            "np.array(fetched))",
        ),
        Change(
            "param-order",
            "under PIR Block.all_parameters() lists parameters in reverse order of "
            "creation: where the order matters, iterate reversed(...)",
            legacy=False,
        ),
        Change(
            "fc-names",
            "under PIR paddle.static.nn.fc does not restart its names under "
            "unique_name.guard(): built again for evaluation it gets new, untrained "
            "parameters and reward() raises sanas.EvaluationProgramError; name them "
            "(weight_attr/bias_attr=paddle.ParamAttr(name=...)) or evaluate a clone",
            legacy=False,
        ),
        Change(
            "data-feeders",
            "paddle.io.DataLoader.from_generator and its set_*_generator methods are gone "
            "in Paddle 3: use paddle.io.DataLoader(dataset, feed_list=[...], "
            "return_list=False) over a paddle.io.Dataset, or feed dicts of numpy arrays",
        ),
        Change(
            "global-norm-clip",
            "in legacy static mode Paddle 3.3's ClipGradByGlobalNorm fails (paddle.sqrt "
            "takes no legacy Variable): use paddle.nn.ClipGradByNorm, or PIR mode",
            pir=False,
        ),
        Change(
            "search-finished",
            "sanas: search_steps is one budget for the whole study: when this loop runs in "
            "more than one trainer, next_archs() raises sanas.SearchFinished once it is "
            "spent; catch it to end the loop",
        ),
        Change(
            "no-equivalent",
            "sanas keeps PaddleSlim's SANAS (sanas), MedianStop (sanas.early_stop), flops "
            "(sanas.analysis) and get_logger (sanas.common) only: left unchanged",
        ),
    )
}

# PaddleSlim module -> (sanas module, names it provides there; None: any of sanas's).
MODULES: dict[str, tuple[str, frozenset[str] | None]] = {
    "paddleslim": ("sanas", frozenset({"nas", "analysis", "common"})),
    "paddleslim.nas": ("sanas", frozenset({"SANAS", "early_stop"})),
    "paddleslim.nas.sa_nas": ("sanas", frozenset({"SANAS"})),
    "paddleslim.nas.early_stop": ("sanas.early_stop", frozenset({"MedianStop"})),
    "paddleslim.nas.early_stop.median_stop": ("sanas.early_stop", frozenset({"MedianStop"})),
    "paddleslim.analysis": ("sanas.analysis", frozenset({"flops"})),
    "paddleslim.analysis.flops": ("sanas.analysis", frozenset({"flops"})),
    "paddleslim.common": ("sanas.common", frozenset({"get_logger"})),
    "paddleslim.common.log_helper": ("sanas.common", frozenset({"get_logger"})),
}
# paddle.static.nn layer functions that fail to build under PIR (Paddle 3.3, measured):
# every one but fc and spectral_norm.
PIR_FAILING_STATIC_NN = frozenset(
    {
        "conv2d",
        "conv2d_transpose",
        "conv3d",
        "conv3d_transpose",
        "batch_norm",
        "layer_norm",
        "group_norm",
        "instance_norm",
        "prelu",
        "embedding",
        "sparse_embedding",
        "bilinear_tensor_product",
        "deform_conv2d",
        "row_conv",
        "nce",
        "data_norm",
    }
)
FEEDER_METHODS = frozenset(
    {"from_generator", "set_batch_generator", "set_sample_list_generator", "set_sample_generator"}
)


class PortError(ValueError):
    """The input is not a Python script sanas port can read."""


@dataclass(frozen=True, order=True)
class Finding:
    """A change left to make at `line` (1-based, in the rewritten script)."""

    line: int
    id: str
    detail: str = ""

    def advice(self) -> str:
        text = CHANGES[self.id].advice
        return f"{self.detail}: {text}" if self.detail else text


@dataclass
class PortResult:
    text: str
    rewritten: list[int] = field(default_factory=list)  # lines whose imports changed
    findings: list[Finding] = field(default_factory=list)
    inserted_at: int | None = None  # line of the legacy-mode lines (legacy=True)
    legacy: bool = False


def port_source(source: str, *, legacy: bool = False) -> PortResult:
    """Rewrite `source`'s PaddleSlim imports and find what else Paddle 3 needs changed.
    Raises PortError when `source` is not Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise PortError(f"line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # null bytes: a binary file
        raise PortError(str(exc)) from None
    lines = source.splitlines(keepends=True)
    # The script's own line ending, for the lines this adds (Windows scripts stay CRLF).
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    rewritten: list[int] = []
    findings: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            _port_import(node, lines, rewritten, findings)
    findings.extend(_Detector(tree).run())
    inserted_at = None
    if legacy and LEGACY_FLAG not in source:
        inserted_at = _legacy_insert_line(tree)
    if inserted_at is not None:
        lines[inserted_at - 1 : inserted_at - 1] = [x[:-1] + newline for x in LEGACY_LINES]
        shift = len(LEGACY_LINES)
        findings = [
            Finding(f.line + shift if f.line >= inserted_at else f.line, f.id, f.detail)
            for f in findings
        ]
        rewritten = [n + shift if n >= inserted_at else n for n in rewritten]
    # The report holds what the chosen mode needs, one finding per line and change.
    merged: dict[tuple[int, str], list[str]] = {}
    for f in sorted(set(findings)):
        if CHANGES[f.id].legacy if legacy else CHANGES[f.id].pir:
            details = merged.setdefault((f.line, f.id), [])
            if f.detail and f.detail not in details:
                details.append(f.detail)
    wanted = [Finding(line, change, ", ".join(d)) for (line, change), d in merged.items()]
    return PortResult("".join(lines), sorted(set(rewritten)), wanted, inserted_at, legacy)


# -- imports ---------------------------------------------------------------------------
def _column(line: str, byte_offset: int) -> int:
    """ast's column offsets count UTF-8 bytes; str indexes count characters."""
    return len(line.encode()[:byte_offset].decode(errors="replace"))


def _replace_span(lines: list[str], node: ast.stmt, new: str) -> None:
    """Replace the text of `node` (its own span only) with the one-line `new`, keeping
    the text before it on its first line and after it on its last. A statement that
    spanned several lines (backslash continuations) leaves empty lines behind, so that
    every later line keeps its number."""
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[operator]
    start = _column(lines[first], node.col_offset)
    end = _column(lines[last], node.end_col_offset)  # type: ignore[arg-type]
    merged = lines[first][:start] + new + lines[last][end:]
    lines[first : last + 1] = _split_like(merged, last - first + 1)


def _split_like(text: str, count: int) -> list[str]:
    """`text` as exactly `count` lines (padded with empty ones)."""
    parts = text.splitlines(keepends=True)
    return parts + ["\r\n" if text.endswith("\r\n") else "\n"] * (count - len(parts))


def _is_paddleslim(module: str | None) -> bool:
    return module is not None and (module == "paddleslim" or module.startswith("paddleslim."))


def _port_import(
    node: ast.Import | ast.ImportFrom,
    lines: list[str],
    rewritten: list[int],
    findings: list[Finding],
) -> None:
    if isinstance(node, ast.ImportFrom):
        if node.level or not _is_paddleslim(node.module):
            return
        target = MODULES.get(node.module or "")
        names = {a.name for a in node.names}
        missing = set() if target is None or target[1] is None else names - target[1] - {"*"}
        if target is None or missing:
            what = node.module if target is None else f"{node.module}.{', '.join(sorted(missing))}"
            detail = f"import of {what}"
            kept = sorted(names - missing - {"*"}) if target is not None else []
            if kept:  # the line is left whole: say that its other names were not ported
                detail += (
                    f" (the line is left as it was, {', '.join(kept)} included: import "
                    f"{'it' if len(kept) == 1 else 'them'} from {target[0]} on a line of "
                    "its own)"
                )
            findings.append(Finding(node.lineno, "no-equivalent", detail))
            return
        first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[operator]
        segment = "".join(lines[first : last + 1])
        start = _column(lines[first], node.col_offset)
        match = re.compile(r"from\s+([\w.\s]+?)\s+import\b").match(segment, start)
        if match is None:  # `from paddleslim . nas import` with odd spacing: say so
            findings.append(Finding(node.lineno, "no-equivalent", "an import it cannot read"))
            return
        segment = segment[: match.start(1)] + target[0] + segment[match.end(1) :]
        lines[first : last + 1] = _split_like(segment, last - first + 1)
        rewritten.append(node.lineno)
        return
    if not any(_is_paddleslim(a.name) for a in node.names):
        return
    parts = []
    for alias in node.names:
        if not _is_paddleslim(alias.name):
            parts.append(alias.name + (f" as {alias.asname}" if alias.asname else ""))
            continue
        target = MODULES.get(alias.name)
        if target is None:
            findings.append(Finding(node.lineno, "no-equivalent", f"import of {alias.name}"))
            return
        # `import paddleslim[.x]` binds `paddleslim`: keep that name bound, to sanas,
        # whose submodules load on first use (paddleslim.nas.SANAS, .analysis.flops).
        bound = alias.asname or "paddleslim"
        module = target[0] if alias.asname else "sanas"
        parts.append(f"{module} as {bound}")
    _replace_span(lines, node, "import " + ", ".join(parts))
    rewritten.append(node.lineno)


def _legacy_insert_line(tree: ast.Module) -> int | None:
    """Line before which to select legacy mode: the first top-level statement that
    imports, anywhere inside it, a module outside the standard library (paddle,
    paddleslim, or one that may import paddle itself), after the docstring and
    `from __future__` imports. None when the script imports nothing of the kind."""
    for stmt in tree.body:
        for node in ast.walk(stmt):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
            if any(m.split(".")[0] not in sys.stdlib_module_names for m in modules):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    continue
                decorators = getattr(stmt, "decorator_list", [])
                return min([stmt.lineno, *(d.lineno for d in decorators)])
    return None


# -- patterns of code that Paddle 3 changed ------------------------------------------------
def dotted(node: ast.AST) -> str | None:
    """`a.b.c` of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _call_name(node: ast.Call) -> str:
    """The called name's last part: `CompiledProgram` of static.CompiledProgram(...)."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_run_with_fetches(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and _call_name(node) == "run"
        and any(k.arg == "fetch_list" for k in node.keywords)
    )


def _catches_search_finished(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    for name in names:
        text = dotted(name) if name is not None else "BaseException"
        last = (text or "").rsplit(".", 1)[-1]
        if last in {"SearchFinished", "BudgetExhaustedError", "SanasError", "Exception"}:
            return True
        if last == "BaseException":
            return True
    return False


class _Detector:
    """Walks the tree once with parent links, then looks for each pattern."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def run(self) -> list[Finding]:
        found: list[Finding] = []
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call)]
        for node in ast.walk(self.tree):
            found.extend(self._fluid(node))
        for call in calls:
            found.extend(self._call(call))
        found.extend(self._fetch_by_name(calls))
        found.extend(self._zero_d())
        found.extend(self._fc_names(calls))
        return found

    def _fluid(self, node: ast.AST) -> Iterator[Finding]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "paddle.fluid" or alias.name.startswith("paddle.fluid."):
                    yield Finding(node.lineno, "fluid", f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            if module == "paddle.fluid" or module.startswith("paddle.fluid."):
                yield Finding(node.lineno, "fluid", f"from {module} import")
            elif module == "paddle" and any(a.name == "fluid" for a in node.names):
                yield Finding(node.lineno, "fluid", "from paddle import fluid")
        elif isinstance(node, ast.Attribute) and dotted(node) == "paddle.fluid":
            if not isinstance(self.parents.get(node), ast.Attribute):
                yield Finding(node.lineno, "fluid", "paddle.fluid")
            elif dotted(self.parents[node]) is not None:
                yield Finding(node.lineno, "fluid", dotted(self.parents[node]) or "")

    def _call(self, call: ast.Call) -> Iterator[Finding]:
        name = _call_name(call)
        full = dotted(call.func) or ""
        if name == "clone" and any(k.arg == "for_test" for k in call.keywords):
            yield Finding(call.lineno, "clone-for-test", f"{full}(for_test=...)")
        if name == "CompiledProgram":
            yield Finding(call.lineno, "compiled-program", full)
        if name == "with_data_parallel":
            yield Finding(call.func.end_lineno or call.lineno, "with-data-parallel")
        if (full.startswith("static.nn.") or ".static.nn." in full) and (
            name in PIR_FAILING_STATIC_NN
        ):
            yield Finding(call.lineno, "static-nn-layers", full)
        if name == "all_parameters":
            yield Finding(call.lineno, "param-order", f"{full}()")
        if name in FEEDER_METHODS:
            yield Finding(call.lineno, "data-feeders", full)
        if name == "ClipGradByGlobalNorm":
            yield Finding(call.lineno, "global-norm-clip", full)
        if name == "next_archs" and self._in_loop_without_catch(call):
            yield Finding(call.lineno, "search-finished")

    def _in_loop_without_catch(self, call: ast.Call) -> bool:
        in_loop = False
        for node in self.ancestors(call):
            if isinstance(node, ast.Try) and any(
                _catches_search_finished(h) for h in node.handlers
            ):
                return False
            if isinstance(node, ast.For | ast.While):
                in_loop = True
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                break
        return in_loop

    def _fetch_by_name(self, calls: list[ast.Call]) -> Iterator[Finding]:
        """`.name` in a fetch list: given directly, or a list assigned to a name that is
        given (fetches = [avg_cost.name]; exe.run(..., fetch_list=fetches))."""
        fetched_names = set()
        for call in calls:
            for keyword in call.keywords:
                if keyword.arg != "fetch_list":
                    continue
                if isinstance(keyword.value, ast.Name):
                    fetched_names.add(keyword.value.id)
                else:
                    yield from self._names_in(keyword.value)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in fetched_names for t in node.targets
            ):
                yield from self._names_in(node.value)

    @staticmethod
    def _names_in(value: ast.AST) -> Iterator[Finding]:
        if not isinstance(value, ast.List | ast.Tuple | ast.ListComp | ast.GeneratorExp):
            return
        for node in ast.walk(value):
            if isinstance(node, ast.Attribute) and node.attr == "name":
                yield Finding(node.lineno, "fetch-by-name", f"{dotted(node) or '.name'}")

    def _zero_d(self) -> Iterator[Finding]:
        """Names bound to what an Executor fetched, used as 1-D arrays: `outs[0]` of
        `outs = exe.run(...)[0]` (or of a name unpacked from exe.run), and
        `np.mean(np.array(values), axis=1)` of `values = exe.run(...)`."""
        values: set[str] = set()  # one fetched array each
        lists: set[str] = set()  # the list exe.run returns
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign):
                continue
            value = node.value
            indexed = isinstance(value, ast.Subscript) and _is_run_with_fetches(value.value)
            for target in node.targets:
                if isinstance(target, ast.Name) and indexed:
                    values.add(target.id)
                elif isinstance(target, ast.Name) and _is_run_with_fetches(value):
                    lists.add(target.id)
                elif isinstance(target, ast.Tuple | ast.List) and _is_run_with_fetches(value):
                    values.update(e.id for e in target.elts if isinstance(e, ast.Name))
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.ctx, ast.Load)
            ):
                inner = node.value
                if isinstance(inner, ast.Name) and inner.id in values:
                    yield Finding(node.lineno, "zero-d", f"{inner.id}[{node.slice.value!r}]")
                elif (  # outs[0][0] of outs = exe.run(...): index into one fetched value
                    isinstance(inner, ast.Subscript)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id in lists
                    and isinstance(inner.slice, ast.Constant)
                ):
                    yield Finding(node.lineno, "zero-d", f"{inner.value.id}[...][...]")
            if isinstance(node, ast.Call) and _call_name(node) == "mean" and node.args:
                axis = next((k.value for k in node.keywords if k.arg == "axis"), None)
                inner = node.args[0]
                if (
                    isinstance(axis, ast.Constant)
                    and axis.value == 1
                    and isinstance(inner, ast.Call)
                    and _call_name(inner) in {"array", "asarray"}
                    and inner.args
                    and isinstance(inner.args[0], ast.Name)
                    and inner.args[0].id in lists
                ):
                    yield Finding(node.lineno, "zero-d", f"mean of {inner.args[0].id}, axis=1")

    def _fc_names(self, calls: list[ast.Call]) -> Iterator[Finding]:
        """static.nn.fc with generated names in a program built twice: inside a
        `unique_name.guard()` block, or in a function the script calls more than once."""
        called: dict[str, int] = {}
        for call in calls:
            if isinstance(call.func, ast.Name):
                called[call.func.id] = called.get(call.func.id, 0) + 1
        for call in calls:
            full = dotted(call.func) or ""
            if not (full == "static.nn.fc" or full.endswith(".static.nn.fc")):
                continue
            if any(k.arg in ("weight_attr", "param_attr") for k in call.keywords):
                continue
            twice = False
            for node in self.ancestors(call):
                if isinstance(node, ast.With) and any(
                    "unique_name.guard" in (dotted(getattr(i.context_expr, "func", None)) or "")
                    for i in node.items
                ):
                    twice = True
                if isinstance(node, ast.FunctionDef) and called.get(node.name, 0) > 1:
                    twice = True
            if twice:
                yield Finding(call.lineno, "fc-names", full)


def report_lines(result: PortResult, filename: str) -> list[str]:
    """The report: one line per finding, `FILE:LINE: [id] advice (docs/porting.md#id)`."""
    out = []
    mode = "legacy static mode" if result.legacy else "PIR (Paddle 3's default static mode)"
    if result.rewritten:
        lines = ", ".join(map(str, result.rewritten))
        out.append(f"sanas port: rewrote the imports of {filename} on line(s) {lines}")
    else:
        out.append(f"sanas port: {filename} imports nothing of paddleslim's to rewrite")
    if result.inserted_at is not None:
        out.append(
            f"sanas port: selected legacy static mode ({LEGACY_FLAG}=0) on lines "
            f"{result.inserted_at}-{result.inserted_at + len(LEGACY_LINES) - 1}"
        )
    elif result.legacy and LEGACY_FLAG in result.text:
        # The script chooses its mode itself: inserting a second choice could contradict
        # it, so the user is told to check that it chooses legacy mode.
        line = result.text.count("\n", 0, result.text.index(LEGACY_FLAG)) + 1
        out.append(
            f"{filename}:{line}: sanas port: the script sets {LEGACY_FLAG} itself, so "
            f'nothing was inserted: make sure it is "0" before Paddle is imported, or the '
            "script runs in PIR mode and the PIR changes apply (run sanas port without "
            "--legacy to list them)"
        )
    for f in result.findings:
        out.append(f"{filename}:{f.line}: [{f.id}] {f.advice()} ({DOC}#{f.id})")
    left = len(result.findings)
    out.append(
        f"sanas port: {left} change(s) left for you in {mode}" + ("; see " + DOC if left else "")
    )
    return out
