"""deploy/monitoring: the Prometheus alert rules and the Grafana dashboard.

`promtool check rules` (Prometheus' own parser) on the rules and on every dashboard query,
`promtool test rules` with sanas-rules.test.yaml (alerts fire when they should and stay
quiet when they should not), `promtool check metrics` on a real controller's /metrics,
and every metric that a rule or a panel names is one that a real controller serves.

`make deploy-tools` extracts promtool from Debian's prometheus package into .tools/bin."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ROOT, ServerProcess, custom_config
from prometheus_client.parser import text_string_to_metric_families

from sanas import Client

MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "sanas-rules.yaml"
RULE_TESTS = MONITORING / "sanas-rules.test.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
PROMTOOL = ROOT / ".tools" / "bin" / "promtool"
# Series Prometheus makes itself, not the controller.
SYNTHETIC = {"up"}
KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan",
}  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.exists():
        pytest.fail(
            f"{PROMTOOL} is missing: `make deploy-tools` extracts it from Debian's "
            "prometheus package"
        )
    return PROMTOOL


def run(*cmd: str | Path, stdin: str | None = None, cwd: Path | None = None):
    return subprocess.run(
        [str(c) for c in cmd], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def rule_exprs() -> dict[str, str]:
    """Each rule's expr, by alert (or record) name. No YAML library here: a reader for the
    two forms the file uses, `expr: one line` and `expr: |` with an indented block.
    test_promtool_checks_the_rules checks it finds as many rules as Prometheus does."""
    out: dict[str, str] = {}
    lines = RULES.read_text().splitlines()
    name = None
    for i, line in enumerate(lines):
        if m := re.match(r"\s*- (?:alert|record): (\S+)", line):
            name = m.group(1)
        elif (m := re.match(r"(\s*)expr: (.*)$", line)) and name is not None:
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in ("|", "|-", ">", ">-"):
                block = []
                for following in lines[i + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(b for b in block if b)
            out[name] = value
            name = None
    return out


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panel_exprs() -> dict[str, str]:
    out = {}
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            out[f"{panel['title']} / {target['refId']}"] = target["expr"]
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (strings, label matchers, ranges,
    offsets and grouping clauses taken out first; what is left that is not a function or a
    keyword is a metric)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\boffset\s+\w+", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", e):
        if m.group(2) is None and m.group(1) not in KEYWORDS:
            names.add(m.group(1))
    return names


def test_metric_names_are_found_in_promql():
    expr = (
        'sum by (job, le) (rate(sanas_rpc_duration_seconds_bucket{code=~"A|B"}[5m])) '
        '/ on (job) group_left sanas_watch_streams_max > 0.8 and absent(up{job="x"} == 1) '
        "unless changes(process_start_time_seconds[30m] offset 5m) > 2"
    )
    assert metric_names(expr) == {
        "sanas_rpc_duration_seconds_bucket",
        "sanas_watch_streams_max",
        "up",
        "process_start_time_seconds",
    }


def test_promtool_checks_the_rules(promtool):
    res = run(promtool, "check", "rules", RULES)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(rule_exprs())} rules found" in res.stdout


def test_promtool_unit_tests_of_the_alerts(promtool):
    res = run(promtool, "test", "rules", RULE_TESTS.name, cwd=MONITORING)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout
    # Every alert has a case of its own.
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == set(rule_exprs())


def test_promtool_parses_every_dashboard_query(promtool, tmp_path):
    """Each panel's query as a recording rule, for Prometheus' parser (the $job-style
    variables sit inside label matchers, so they are plain strings to it)."""
    exprs = panel_exprs()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs.values())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    res = run(promtool, "check", "rules", path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_dashboard_is_well_formed():
    d = dashboard()
    assert d["uid"] == "sanas-controller"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in d["templating"]["list"]}
    assert variables == {"datasource", "job", "instance", "study"}
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p["targets"], p["title"]
            assert p["datasource"]["uid"] == "${datasource}"
            for t in p["targets"]:
                used = set(re.findall(r"\$(\w+)", t["expr"]))
                assert used <= variables, (p["title"], used)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> Iterator[str]:
    """A real `sanas-server` that has served calls, with a study that is broken."""
    folder = tmp_path_factory.mktemp("monitoring") / "ckpt"
    server = ServerProcess(folder, extra=("--metrics-port", "0", "--metrics-host", "127.0.0.1"))
    try:
        with Client(server.address, client_id="t", timeout=10) as c:
            c.create_study("bad", custom_config([3, 3]))
            c.create_study("run", custom_config([3, 3]))
            trial = c.suggest_trial("run")
            c.complete_trial("run", trial, 0.5)
            c.suggest_trial("run")  # one trial out
    finally:
        server.terminate()
    (study,) = folder.glob("studies/bad@*")
    (study / "study.json").write_text("{not json")
    server = ServerProcess(folder, extra=("--metrics-port", "0", "--metrics-host", "127.0.0.1"))
    try:
        with Client(server.address, client_id="t", timeout=10) as c:
            c.get_study("run")
        yield urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    finally:
        server.close()


def test_promtool_lints_the_real_metrics(promtool, scraped):
    res = run(promtool, "check", "metrics", stdin=scraped)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_metric_in_the_rules_and_the_dashboard_is_served(scraped):
    served = {s.name for f in text_string_to_metric_families(scraped) for s in f.samples}
    named = {where: metric_names(expr) for where, expr in {**rule_exprs(), **panel_exprs()}.items()}
    missing = {where: names - served - SYNTHETIC for where, names in named.items()}
    assert not {w: m for w, m in missing.items() if m}, missing
    everything = set().union(*named.values())
    # The extraction really finds them (an empty set would pass the check above).
    assert {
        "sanas_trials",
        "sanas_storage_errors_total",
        "sanas_studies_broken",
        "sanas_watch_streams",
        "sanas_watch_streams_max",
        "sanas_rpc_duration_seconds_count",
        "sanas_rpc_duration_seconds_bucket",
        "sanas_journal_fsync_seconds_bucket",
        "sanas_build_info",
        "process_start_time_seconds",
        "process_resident_memory_bytes",
    } <= everything
    # And the dashboard's variables ask for metrics that exist.
    for v in dashboard()["templating"]["list"]:
        if v["type"] == "query":
            (metric,) = re.findall(r"label_values\((\w+)", v["query"]["query"])
            assert metric in served, v["name"]
