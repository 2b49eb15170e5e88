"""`sanas port`: the import rewrite and the report, on PaddleSlim's own patterns (the
scripts of tests/paddleslim/, whose full ports tests/test_paddleslim_files.py runs), on
every import form, and on files it must refuse."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import CHECKOUT_ENV
from test_paddleslim_files import FILES, SCRIPTS, port

from sanas.cli import main
from sanas.port import LEGACY_LINES, port_source, report_lines

SANAS_BIN = str(Path(sys.executable).parent / "sanas")
REPORT_LINE = re.compile(r"^(.+):(\d+): \[([\w-]+)\] (.+) \(docs/porting\.md#([\w-]+)\)$")
# Each PaddleSlim file's script(s) in tests/paddleslim/.
SCRIPT_OF = {
    "demo/nas/block_sa_nas_mobilenetv2.py": ["block_sa_nas_mobilenetv2.py"],
    "demo/nas/sa_nas_mobilenetv2.py": ["sa_nas_mobilenetv2.py"],
    "demo/nas/sanas_darts_space.py": ["sanas_darts_space.py"],
    "docs/zh_cn/quick_start/static/nas_tutorial.md": ["nas_tutorial.py"],
    "docs/zh_cn/api_cn/static/nas/early_stop.rst": [
        "early_stop_example_init.py",
        "early_stop_example_get_status.py",
    ],
    "tests/test_sa_nas.py": ["sa_nas_unittest.py"],
    "tests/test_seach_space.py": ["search_space_unittest.py"],
    "tests/test_earlystop.py": ["earlystop_unittest.py"],
}
CASES = [
    (script, mode)
    for name, modes in FILES.items()
    for script in SCRIPT_OF[name]
    for mode, edits in modes.items()
    if edits is not None
]


def reported(stderr: str) -> set[tuple[str, int]]:
    """(change, line) of every report line; each names its section of docs/porting.md."""
    out = set()
    for line in stderr.splitlines():
        m = REPORT_LINE.match(line)
        if m:
            assert m[3] == m[5], line
            out.add((m[3], int(m[2])))
    return out


def sanas_port(*args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it."""
    done = subprocess.run(
        [SANAS_BIN, "port", *args], capture_output=True, text=True, timeout=60, env=CHECKOUT_ENV
    )
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


def test_every_paddleslim_script_every_mode(tmp_path, capsys):
    """The command's output is the rewrite the ports of test_paddleslim_files.py start
    from, and its report names exactly the lines their edits change (plus the notes)."""
    scripts = {p.name for p in SCRIPTS.glob("*.py")} - {"digits_reader.py"}
    assert {s for s, _ in CASES} == scripts
    for script, mode in CASES:
        edits = FILES[next(n for n, s in SCRIPT_OF.items() if script in s)][mode]
        out = tmp_path / f"{mode}-{script}"
        legacy = ["--legacy"] if mode == "legacy" else []
        assert main(["port", str(SCRIPTS / script), "-o", str(out), *legacy]) == 0
        err = capsys.readouterr().err
        result = port_source((SCRIPTS / script).read_text(), legacy=bool(legacy))
        assert out.read_text() == result.text
        assert reported(err) == port(script, mode, edits).expected, (script, mode)
        assert f"wrote {out}" in err
        assert port_source(out.read_text()).rewritten == []  # no paddleslim import left


def test_the_command_writes_to_stdout_and_reports_on_stderr():
    script = SCRIPTS / "nas_tutorial.py"
    source = script.read_text()
    done = sanas_port(str(script))
    assert done.stdout == port_source(source).text
    lines = done.stderr.splitlines()
    imports = [
        n
        for n, line in enumerate(source.splitlines(), 1)
        if re.match(r"(import|from) paddleslim", line)
    ]
    assert lines[0].endswith(f"on line(s) {', '.join(map(str, imports))}")
    clone = source[: source.index("clone(for_test=True)")].count("\n") + 1
    assert ("clone-for-test", clone) in reported(done.stderr)
    # One report line per line and change: the three .name of one fetch list together.
    assert sum("[fetch-by-name] loss.name, top1.name, top5.name:" in x for x in lines) == 2
    left = len(lines) - 2
    assert lines[-1].startswith(f"sanas port: {left} change(s) left for you in PIR")


def test_a_syntax_error_or_a_file_that_is_not_python_is_refused(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from paddleslim.nas import SANAS\ndef f(:\n")
    done = sanas_port(str(broken), "-o", str(tmp_path / "out.py"), check=1)
    assert "is not a Python script it can read: syntax error at line 2" in done.stderr
    assert done.stdout == "" and not (tmp_path / "out.py").exists()
    assert broken.read_text().startswith("from paddleslim")  # left alone
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff")
    assert "not UTF-8 text" in sanas_port(str(binary), check=1).stderr
    markdown = tmp_path / "nas_tutorial.md"
    markdown.write_text("# 网络结构搜索\n\n```python\nimport paddleslim as slim\n```\n")
    assert "syntax error at line 3" in sanas_port(str(markdown), check=1).stderr
    assert "cannot read" in sanas_port(str(tmp_path / "missing.py"), check=1).stderr
    # -o and --in-place together: argparse's usage error.
    assert sanas_port(str(broken), "-o", "x.py", "--in-place", check=2).stderr


def test_in_place_rewrites_the_script_once(tmp_path):
    script = tmp_path / "search.py"
    source = (SCRIPTS / "sa_nas_unittest.py").read_text().replace("\n", "\r\n")
    script.write_bytes(source.encode())  # Windows line endings survive too
    done = sanas_port(str(script), "--in-place", "--legacy")
    assert done.stdout == "" and f"wrote {script}" in done.stderr
    text = script.read_bytes().decode()
    assert "from sanas import SANAS\r\n" in text and "from sanas.analysis import flops" in text
    assert text.count("FLAGS_enable_pir_api") == 1 and text.count("\r\n") == text.count("\n")
    assert ("fluid", 14) in reported(done.stderr)  # import paddle.fluid, 2 lines further down
    again = sanas_port(str(script), "--in-place", "--legacy")
    assert script.read_bytes().decode() == text  # nothing left to rewrite or insert
    assert "imports nothing of paddleslim's to rewrite" in again.stderr


IMPORT_FORMS = [
    ("import paddleslim as slim", "import sanas as slim"),
    ("import paddleslim", "import sanas as paddleslim"),
    ("import paddleslim.nas", "import sanas as paddleslim"),
    ("import paddleslim.nas as nas", "import sanas as nas"),
    ("import paddleslim.analysis as an", "import sanas.analysis as an"),
    ("import os, paddleslim as slim  # both", "import os, sanas as slim  # both"),
    ("from paddleslim.nas import SANAS", "from sanas import SANAS"),
    ("from paddleslim.nas import *", "from sanas import *"),
    ("from paddleslim.nas.sa_nas import SANAS", "from sanas import SANAS"),
    ("from paddleslim.nas.early_stop import MedianStop", "from sanas.early_stop import MedianStop"),
    ("from paddleslim.analysis import flops", "from sanas.analysis import flops"),
    ("from paddleslim.common import get_logger", "from sanas.common import get_logger"),
    ("from paddleslim import nas, analysis", "from sanas import nas, analysis"),
    (
        "from paddleslim.nas import (  # the API\n    SANAS,\n)",
        "from sanas import (  # the API\n    SANAS,\n)",
    ),
    ("def f():\n    from paddleslim.nas import SANAS", "def f():\n    from sanas import SANAS"),
    ("import paddleslim.nas as \\\n    nas\nx = 1", "import sanas as nas\n\nx = 1"),
]


@pytest.mark.parametrize(("before", "after"), IMPORT_FORMS)
def test_each_import_form(before, after):
    result = port_source(f'"""Ünïcode docstring."""\n{before}\n')
    assert result.text == f'"""Ünïcode docstring."""\n{after}\n'
    starts = [n for n, line in enumerate(before.splitlines(), 2) if "paddleslim" in line]
    assert result.rewritten == starts[:1]


def test_the_rewritten_imports_give_paddleslims_names():
    """What the rewrite binds is what the scripts then use: slim.nas.SANAS,
    slim.analysis.flops, paddleslim.nas.SANAS, MedianStop, get_logger."""
    import sanas
    from sanas.analysis import flops
    from sanas.early_stop import MedianStop

    source = "\n".join(before for before, _ in IMPORT_FORMS if "def f" not in before)
    names: dict = {}
    exec(port_source(source + "\n").text, names)  # the rewritten import lines only
    assert names["slim"].nas.SANAS is sanas.SANAS and names["slim"].analysis.flops is flops
    assert names["paddleslim"].nas.SANAS is sanas.SANAS
    assert names["nas"].SANAS is sanas.SANAS and names["an"].flops is flops
    assert names["MedianStop"] is MedianStop and callable(names["get_logger"])
    assert isinstance(names["analysis"], types.ModuleType)


@pytest.mark.parametrize(
    "line",
    [
        "from paddleslim.nas import SANAS, RLNAS",
        "from paddleslim.prune import Pruner",
        "from paddleslim.nas.search_space.search_space_factory import SearchSpaceFactory",
        "import paddleslim.dist as dist",
        "from paddleslim import prune",
    ],
)
def test_an_import_sanas_has_no_equivalent_for_is_left_and_reported(line):
    result = port_source(f"import paddle\n{line}\n")
    assert result.text == f"import paddle\n{line}\n" and result.rewritten == []
    (finding,) = result.findings
    assert (finding.id, finding.line) == ("no-equivalent", 2)


def test_legacy_lines_go_before_the_first_import_that_may_load_paddle():
    source = (
        '"""doc"""\nfrom __future__ import annotations\n\nimport os\nimport sys\n'
        "# the reader imports paddle itself\nimport my_reader\nimport paddle\n"
    )
    result = port_source(source, legacy=True)
    lines = result.text.splitlines(keepends=True)
    assert result.inserted_at == 7 and lines[6:8] == list(LEGACY_LINES)
    assert lines[8] == "import my_reader\n"
    decorated = "import sys\n\n@decorator\ndef f():\n    import paddle\n"
    assert port_source(decorated, legacy=True).inserted_at == 3
    # Nothing that loads Paddle, or the flag already set: nothing inserted.
    assert port_source("import os\nprint(1)\n", legacy=True).inserted_at is None
    chosen = 'import os\nos.environ["FLAGS_enable_pir_api"] = "0"\nimport paddle\n'
    assert port_source(chosen, legacy=True).text == chosen


PATTERNS = """\
import numpy as np
import paddle
from paddle import fluid
from sanas import SANAS, SearchFinished

def build(main, startup):
    with paddle.static.program_guard(main, startup), paddle.utils.unique_name.guard():
        y = paddle.static.nn.fc(x, 10)
        z = paddle.static.nn.fc(x, 10, weight_attr=paddle.ParamAttr(name="w"))
        c = paddle.static.nn.conv2d(x, 4, 3)
    return y

loss_v, acc_v = exe.run(main, feed=feed, fetch_list=[loss.name, acc])
print(loss_v[0], acc_v)
fetched = exe.run(main, feed=feed, fetch_list=outputs)
means = np.mean(np.array(fetched), axis=1)
clip = paddle.nn.ClipGradByGlobalNorm(5.0)
w = paddle.fluid.layers.fc(x, 10)
while True:
    try:
        archs = nas.next_archs()
    except SearchFinished:
        break
for step in range(3):
    archs = nas.next_archs()
"""
PIR_FINDINGS = {
    ("fluid", 3),
    ("fc-names", 8),
    ("static-nn-layers", 10),
    ("fetch-by-name", 13),
    ("zero-d", 14),
    ("zero-d", 16),
    ("fluid", 18),
    ("search-finished", 25),
}


def test_each_pattern_is_reported_in_the_modes_that_need_it():
    pir = port_source(PATTERNS)
    assert {(f.id, f.line) for f in pir.findings} == PIR_FINDINGS
    legacy = port_source(PATTERNS, legacy=True)
    shifted = {(c, n + 2) for c, n in PIR_FINDINGS if c not in ("fc-names", "static-nn-layers")}
    fetch_by_name = ("fetch-by-name", 15)  # PIR only
    assert {(f.id, f.line) for f in legacy.findings} == (shifted - {fetch_by_name}) | {
        ("global-norm-clip", 19)
    }
    assert legacy.inserted_at == 1  # before `import numpy`


def test_legacy_on_a_script_that_sets_the_flag_itself_says_to_check_it():
    source = 'import os\nos.environ["FLAGS_enable_pir_api"] = "1"\nimport paddle\n'
    result = port_source(source, legacy=True)
    assert result.inserted_at is None and result.text == source
    (note,) = [line for line in report_lines(result, "s.py") if "itself" in line]
    assert note.startswith("s.py:2: ") and 'make sure it is "0"' in note


def test_a_line_left_whole_names_what_else_it_imports():
    (finding,) = port_source("from paddleslim.nas import SANAS, RLNAS\n").findings
    assert "paddleslim.nas.RLNAS" in finding.detail
    assert "SANAS included: import it from sanas on a line of its own" in finding.detail
