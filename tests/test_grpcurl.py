"""grpcurl (installed by `make tools`) against a running controller: what operators do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

GRPCURL = str(ROOT / ".tools" / "bin" / "grpcurl")
SERVICE = "sanas.v1.ControllerService"


def grpcurl(address: str, *args: str, data: dict | None = None) -> str:
    command = [GRPCURL, "-plaintext"]
    if data is not None:
        command += ["-d", json.dumps(data)]
    result = subprocess.run([*command, address, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_list_and_describe_through_reflection(server):
    services = grpcurl(server.address, "list").split()
    assert SERVICE in services and "grpc.health.v1.Health" in services
    methods = grpcurl(server.address, "list", SERVICE).split()
    assert f"{SERVICE}.SuggestTrial" in methods and f"{SERVICE}.CompleteTrial" in methods
    described = grpcurl(server.address, "describe", SERVICE)
    assert "rpc CompleteTrial ( .sanas.v1.CompleteTrialRequest )" in described
    message = grpcurl(server.address, "describe", "sanas.v1.Trial")
    assert "int64 trial_id = 2;" in message and "repeated int32 tokens = 3;" in message


def test_a_create_suggest_complete_cycle_in_json(server):
    created = json.loads(
        grpcurl(
            server.address,
            f"{SERVICE}/CreateStudy",
            data={
                "study_id": "cli",
                "config": {
                    "search_spaces": [{"key": "custom", "range_table": [9, 9, 9]}],
                    "search_steps": 5,
                    "seed": 3,
                },
            },
        )
    )
    assert created["created"] is True and created["study"]["config"]["search_steps"] == "5"
    trial = json.loads(
        grpcurl(
            server.address, f"{SERVICE}/SuggestTrial", data={"study_id": "cli", "client_id": "ops"}
        )
    )["trial"]
    assert trial["client_id"] == "ops" and len(trial["tokens"]) == 3
    done = json.loads(
        grpcurl(
            server.address,
            f"{SERVICE}/CompleteTrial",
            data={
                "study_id": "cli",
                "trial_id": trial.get("trial_id", "0"),
                "reward": 0.75,
                "suggest_next": True,
                "client_id": "ops",
                # The binding, copied from the SuggestTrial answer (as docs/operations.md shows).
                "study_uid": trial["study_uid"],
                "trial_fingerprint": trial["fingerprint"],
            },
        )
    )
    assert done["trial"]["reward"] == 0.75 and done["next_trial"]["trial_id"] == "1"
    study = json.loads(grpcurl(server.address, f"{SERVICE}/GetStudy", data={"study_id": "cli"}))
    assert study["study"]["best_reward"] == 0.75
    assert study["study"]["best_tokens"] == trial["tokens"]


def test_errors_show_their_status_in_grpcurl(server):
    result = subprocess.run(
        [
            GRPCURL,
            "-plaintext",
            "-d",
            '{"study_id": "nope"}',
            server.address,
            f"{SERVICE}/GetStudy",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "NotFound" in result.stderr and "no study 'nope'" in result.stderr


def test_health_check(server):
    reply = json.loads(grpcurl(server.address, "grpc.health.v1.Health/Check"))
    assert reply == {"status": "SERVING"}
    reply = json.loads(
        grpcurl(server.address, "grpc.health.v1.Health/Check", data={"service": SERVICE})
    )
    assert reply == {"status": "SERVING"}


def test_progress_reports_and_a_stop_in_json(server):
    config = {
        "search_spaces": [{"key": "custom", "range_table": [9, 9, 9]}],
        "search_steps": 5,
        "early_stopping": {
            "median": {"start_step": 1, "min_trials": 1},
            "goal": "OBJECTIVE_GOAL_MINIMIZE",
        },
    }
    grpcurl(server.address, f"{SERVICE}/CreateStudy", data={"study_id": "es", "config": config})
    answers = []
    for loss in (0.5, 0.9):  # a loss: the second trial is worse than the first
        trial = json.loads(
            grpcurl(server.address, f"{SERVICE}/SuggestTrial", data={"study_id": "es"})
        )["trial"]
        report = {
            "study_id": "es",
            "trial_id": trial.get("trial_id", "0"),
            "study_uid": trial["study_uid"],
            "trial_fingerprint": trial["fingerprint"],
        }
        answers.append(
            json.loads(
                grpcurl(
                    server.address,
                    f"{SERVICE}/ReportTrialProgress",
                    data={**report, "step": 1, "value": loss, "max_step": 4},
                )
            )
        )
        if not answers[-1].get("should_stop"):
            grpcurl(
                server.address,
                f"{SERVICE}/CompleteTrial",
                data={**report, "reward": -loss},
            )
    assert "should_stop" not in answers[0]  # proto3 JSON omits false
    assert answers[1]["should_stop"] is True
    assert answers[1]["trial"]["state"] == "TRIAL_STATE_STOPPED"
    # The answer carries no curve; a stopped loss is its last value, not a reward.
    assert "measurements" not in answers[1]["trial"]
    assert answers[1]["trial"]["reward"] == 0.9
    assert "stopped_value_is_reward" not in answers[1]["trial"]
    study = json.loads(grpcurl(server.address, f"{SERVICE}/GetStudy", data={"study_id": "es"}))
    assert study["study"]["trial_counts"]["stopped"] == "1"
    assert study["study"]["steps_saved"] == "3"


def test_the_documented_grpcurl_block_runs_as_written(server):
    """docs/operations.md's grpcurl examples, run by bash against a live server (its address
    for 127.0.0.1:8881, this venv's buf): the binding they copy with jq is accepted."""
    page = (ROOT / "docs" / "operations.md").read_text()
    section = page.split("## Running the controller; grpcurl", 1)[1]
    block = next(
        b.split("\n", 1)[1]
        for b in section.split("```sh\n")[1:]
        if b.startswith("grpcurl -plaintext 127.0.0.1:8881 list")
    ).split("```", 1)[0]
    script = block.replace("127.0.0.1:8881", server.address).replace(
        ".venv/bin/buf", str(Path(sys.executable).parent / "buf")
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{ROOT / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    study = json.loads(grpcurl(server.address, f"{SERVICE}/GetStudy", data={"study_id": "s1"}))
    assert study["study"]["trial_counts"]["succeeded"] == "1"
    assert study["study"]["best_reward"] == 0.7
