"""Early stopping over real gRPC: a PaddleSlim MedianStop script with only its imports
changed, progress reports that survive kill -9, watch events and metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import pytest
from helpers import ROOT, custom_config

from sanas import (
    Client,
    ControllerUnavailableError,
    InvalidArgumentError,
    TrialAlreadyCompletedError,
    TrialNotHeldError,
)
from sanas.cli.views import trial_record
from sanas.dashboard.index import TrialIndex
from sanas.study_config import median_stopping, successive_halving
from sanas.v1 import sanas_pb2 as pb
from sanas_server.server import start_server

PADDLESLIM_SCRIPT = """
import json, sys
from paddleslim.nas import SANAS
from paddleslim.nas.early_stop import MedianStop

config = [("MobileNetV2BlockSpace", {"input_size": 8, "output_size": 2, "block_num": 2})]
sanas = SANAS(config, server_addr=("127.0.0.1", 0), search_steps=6, save_checkpoint=sys.argv[1])
earlystop = MedianStop(sanas, start_epoch=1)
epochs = 4
quality = [0.9, 0.8, 0.85, 0.2, 0.95, 0.3]  # the trials' final accuracies, in order
statuses = []
for step in range(6):
    archs = sanas.next_archs()
    for epoch in range(epochs):
        acc = quality[step] * (1 - 0.5 ** (epoch + 1))
        status = earlystop.get_status(step, acc, epochs)
        statuses.append([step, epoch, status])
        if status == "BAD":
            break
    sanas.reward(acc)
print("ADDRESS", sanas.address, flush=True)
print(json.dumps(statuses), flush=True)
sys.stdin.readline()  # keep the controller up until the test has looked
"""


def dashboard_series(trials: list) -> dict:
    """The series the dashboard charts and `sanas plot` draws."""
    index = TrialIndex()
    index.load(trials)
    return index.series()


def ported(script: str) -> str:
    """The only change a PaddleSlim user makes: the imports."""
    for before, after in (
        ("from paddleslim.nas import SANAS", "from sanas import SANAS"),
        ("from paddleslim.nas.early_stop import", "from sanas.early_stop import"),
    ):
        script = script.replace(before, after)
    return script


def test_a_paddleslim_medianstop_script_runs_with_only_its_imports_changed(tmp_path):
    path = tmp_path / "search.py"
    path.write_text(ported(PADDLESLIM_SCRIPT))
    proc = subprocess.Popen(
        [sys.executable, str(path), str(tmp_path / "ckpt")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        address = statuses = None
        for _ in range(3):
            line = proc.stdout.readline()
            if line.startswith("ADDRESS"):
                address = line.split()[1]
            elif line.startswith("["):
                statuses = json.loads(line)
                break
        assert statuses is not None, proc.stderr.read()
        bad = [(s, e) for s, e, status in statuses if status == "BAD"]
        # Trials 0-2 fill the history (min_trials 3); 3 and 5 are worse from epoch 1 on.
        assert bad == [(3, 0), (5, 0)]
        assert [s for s, _, status in statuses if status == "GOOD"].count(4) == 4
        with Client(address) as c:
            trials = list(c.list_trials("sanas"))
            study = c.get_study("sanas")
        states = [t.state for t in trials]
        assert states == [pb.TRIAL_STATE_SUCCEEDED] * 3 + [
            pb.TRIAL_STATE_STOPPED,
            pb.TRIAL_STATE_SUCCEEDED,
            pb.TRIAL_STATE_STOPPED,
        ]
        assert [len(t.measurements) for t in trials] == [4, 4, 4, 1, 4, 1]
        assert study.trial_counts.stopped == 2 and study.steps_saved == 2 * 3
        assert study.best_reward == pytest.approx(0.95 * (1 - 0.5**4))
    finally:
        proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


@pytest.fixture
def median_study(client):
    config = custom_config([4, 4, 4], search_steps=40, seed=5)
    config.early_stopping.CopyFrom(median_stopping(start_step=1, min_trials=2))
    client.create_study("es", config)
    return "es"


def finish(client, study_id, values, max_step=5):
    trial = client.suggest_trial(study_id)
    for step, value in enumerate(values, 1):
        answer = client.report_progress(study_id, trial.trial_id, step, value, max_step=max_step)
        if answer.should_stop:
            return answer
    client.complete_trial(study_id, trial.trial_id, values[-1])
    return answer


def test_progress_over_grpc_stops_lists_and_streams(client, median_study):
    events = []
    watching = threading.Event()

    def watch():
        for event in client.watch_study(median_study):
            events.append(event)
            watching.set()
            if event.type == pb.STUDY_EVENT_TYPE_TRIAL_STOPPED:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert watching.wait(10)
    finish(client, median_study, [0.5, 0.6])
    finish(client, median_study, [0.7, 0.8])
    stopped = finish(client, median_study, [0.1, 0.9])
    assert stopped.should_stop and stopped.trial.state == pb.TRIAL_STATE_STOPPED
    assert "median rule at step 1" in stopped.trial.stop_reason
    # Reporting after the stop: told to stop again, nothing recorded.
    again = client.report_progress(median_study, stopped.trial.trial_id, 2, 0.9)
    assert again.should_stop and not again.trial.measurements  # answers carry no curve
    (held,) = [t for t in client.list_trials(median_study) if t.trial_id == 2]
    assert [m.value for m in held.measurements] == [0.1]
    # The trainer's reward() afterwards is accepted and changes nothing.
    done = client.complete_trial(median_study, stopped.trial.trial_id, 0.9)
    assert done.trial.state == pb.TRIAL_STATE_STOPPED and done.trial.reward == 0.1
    watcher.join(10)
    kinds = [e.type for e in events]
    progress = [e for e in events if e.type == pb.STUDY_EVENT_TYPE_TRIAL_PROGRESS]
    assert [(e.trial.trial_id, e.measurement.step) for e in progress] == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
        (2, 1),
    ]
    assert all(not e.trial.measurements for e in progress)  # only the new point
    assert kinds[-1] == pb.STUDY_EVENT_TYPE_TRIAL_STOPPED
    assert len(events[-1].trial.measurements) == 1
    listed = {t.trial_id: t for t in client.list_trials(median_study)}
    assert [m.value for m in listed[0].measurements] == [0.5, 0.6]
    assert listed[2].max_step == 5 and listed[2].stop_reason == stopped.trial.stop_reason
    stopped_only = list(client.list_trials(median_study, state=pb.TRIAL_STATE_STOPPED))
    assert [t.trial_id for t in stopped_only] == [2]
    study = client.get_study(median_study)
    assert study.trial_counts.stopped == 1 and study.steps_saved == 4
    assert study.config.early_stopping.median.min_trials == 2


def test_bad_progress_reports_get_precise_errors(client, median_study):
    trial = client.suggest_trial(median_study)
    client.report_progress(median_study, trial.trial_id, 2, 0.5)
    with pytest.raises(InvalidArgumentError, match="steps must increase"):
        client.report_progress(median_study, trial.trial_id, 1, 0.5)
    with pytest.raises(InvalidArgumentError, match="finite"):
        client.report_progress(median_study, trial.trial_id, 3, float("inf"))
    other = Client(client.address, client_id="someone-else")
    with pytest.raises(TrialNotHeldError, match="held by 'test-client'"):
        other.report_progress(median_study, trial, 3, 0.5)  # bound to the same Trial
    other.close()
    client.complete_trial(median_study, trial.trial_id, 0.5)
    with pytest.raises(TrialAlreadyCompletedError):
        client.report_progress(median_study, trial.trial_id, 3, 0.5)
    with pytest.raises(InvalidArgumentError, match="reduction_factor"):
        client.report_progress(
            median_study, trial.trial_id, 3, 0.5, early_stopping=successive_halving(1, 1)
        )
    config = custom_config([4, 4])
    config.early_stopping.goal = 7
    with pytest.raises(InvalidArgumentError, match="ObjectiveGoal"):
        client.create_study("bad-goal", config)


def test_kill_9_during_progress_reports_loses_no_acknowledged_report(server_process, tmp_path):
    server = server_process()
    with Client(server.address, client_id="boot") as c:
        c.wait_ready()
        c.create_study("crash", custom_config([8, 8, 8], search_steps=200, seed=1))
    acked: list[tuple[int, int, float]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def trainer(name: str) -> None:
        with Client(server.address, client_id=name, retry_timeout=0.5) as c:
            try:
                for _ in range(50):  # bounded: trials per trainer
                    trial = c.suggest_trial("crash")
                    for step in range(1, 21):
                        value = trial.trial_id + step / 100
                        c.report_progress("crash", trial.trial_id, step, value, max_step=20)
                        with lock:
                            acked.append((trial.trial_id, step, value))
                        if stop.is_set():
                            return
            except ControllerUnavailableError:
                return  # the controller was killed: what it acknowledged is checked below

    threads = [threading.Thread(target=trainer, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()
    stop.set()
    for t in threads:
        t.join(20)
    assert len(acked) >= 200
    restarted = server_process()
    with Client(restarted.address) as c:
        c.wait_ready()
        recorded = {
            (t.trial_id, m.step, m.value) for t in c.list_trials("crash") for m in t.measurements
        }
    missing = [a for a in acked if a not in recorded]
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {missing[:3]}"


def test_metrics_count_stopped_trials_and_steps_saved(tmp_path):
    running = start_server("127.0.0.1", 0, tmp_path / "ckpt", metrics_port=0)
    try:
        with Client(running.address, client_id="m") as c:
            c.wait_ready()
            config = custom_config([4, 4, 4], search_steps=10, seed=2)
            config.early_stopping.CopyFrom(median_stopping(min_trials=1))
            c.create_study("m", config)
            finish(c, "m", [0.9], max_step=10)
            assert finish(c, "m", [0.1], max_step=10).should_stop
        text = urllib.request.urlopen(running.metrics_url, timeout=10).read().decode()
    finally:
        running.stop(grace=1)
    assert 'sanas_trials{state="stopped",study="m"} 1.0' in text
    assert 'sanas_steps_saved_total{study="m"} 9.0' in text


def test_grpc_status_of_a_progress_report_for_a_trial_held_elsewhere(server):
    channel = grpc.insecure_channel(server.address)
    from sanas.v1 import sanas_pb2_grpc

    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    stub.CreateStudy(pb.CreateStudyRequest(study_id="g", config=custom_config([3, 3])))
    trial = stub.SuggestTrial(pb.SuggestTrialRequest(study_id="g", client_id="a")).trial
    with pytest.raises(grpc.RpcError) as caught:
        stub.ReportTrialProgress(
            pb.ReportTrialProgressRequest(
                study_id="g",
                trial_id=trial.trial_id,
                step=1,
                value=0.5,
                client_id="b",
                study_uid=trial.study_uid,
                trial_fingerprint=trial.fingerprint,
            )
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    channel.close()


def test_a_loss_goal_never_makes_a_stopped_loss_a_reward_in_any_view(client, tmp_path):
    """Losses reported as progress, accuracies as rewards: a diverging trial (loss 18.1)
    is stopped, and the study's best, the dashboard's and the plot's best so far and the
    CLI's rewards all stay the accuracies' (the dashboard showed 18.1 as the best)."""
    config = custom_config([4, 4, 4], search_steps=10, seed=5)
    config.early_stopping.CopyFrom(median_stopping(start_step=1, min_trials=2, minimize=True))
    client.create_study("loss", config)
    for loss, accuracy in ((0.4, 0.9), (0.6, 0.8)):
        t = client.suggest_trial("loss")
        for step in (1, 2, 3):
            client.report_progress("loss", t.trial_id, step, loss / step, max_step=3)
        client.complete_trial("loss", t.trial_id, accuracy)
    t = client.suggest_trial("loss")
    assert client.report_progress("loss", t.trial_id, 1, 18.1, max_step=3).should_stop
    client.complete_trial("loss", t.trial_id, 0.1)  # the script's score after the stop
    study = client.get_study("loss")
    assert study.best_reward == 0.9
    listed = list(client.list_trials("loss"))
    stopped = listed[2]
    assert stopped.state == pb.TRIAL_STATE_STOPPED and stopped.reward == 18.1
    assert not stopped.stopped_value_is_reward
    series = dashboard_series(listed)
    assert series["reward"] == [0.9, 0.8, None]  # no reward point for the stop
    assert series["best"] == [0.9, 0.9, 0.9]
    assert series["acceptance"][-1] < 1  # still the rejected move it was
    records = {r["trial_id"]: r for r in map(trial_record, listed)}
    assert records[2]["reward"] is None and records[2]["last_value"] == 18.1
    with pytest.raises(InvalidArgumentError, match="MINIMIZE"):
        config.early_stopping.stopped_values_as_rewards = True
        client.create_study("loss-as-rewards", config)


def test_a_stopped_value_judged_as_a_reward_counts_in_every_view(client):
    config = custom_config([4, 4, 4], search_steps=10, seed=5)
    config.early_stopping.CopyFrom(median_stopping(start_step=1, min_trials=1))
    config.early_stopping.stopped_values_as_rewards = True
    client.create_study("as-rewards", config)
    finish(client, "as-rewards", [0.5, 0.6], max_step=5)
    stopped = finish(client, "as-rewards", [0.3], max_step=5)
    assert stopped.should_stop and stopped.trial.stopped_value_is_reward
    listed = list(client.list_trials("as-rewards"))
    assert dashboard_series(listed)["reward"] == [0.6, 0.3]
    assert trial_record(listed[1])["reward"] == 0.3


def test_a_progress_answer_does_not_grow_with_the_curve(client):
    client.create_study("long", custom_config([4, 4, 4], search_steps=5))
    t = client.suggest_trial("long")
    sizes = {
        client.report_progress("long", t.trial_id, step, 0.5, max_step=300).ByteSize()
        for step in range(1, 301)
    }
    assert len(sizes) == 1 and max(sizes) < 200  # the decision and the bare trial
    (listed,) = client.list_trials("long")
    assert len(listed.measurements) == 300  # the curve is where it belongs


# Calls made with no trial held, and PaddleSlim 2.6.0's answers to them (recorded in its
# own environment: MedianStop(sanas, start_epoch=1, mode="minimize"), epochs=2). Curves
# end at `epochs`; the ones that end GOOD are what later values are compared with.
NO_TRIAL_CALLS = [
    (3, 0.48), (0, 0.07), (3, 0.55), (2, 0.8), (0, 0.22), (2, 0.28), (1, 0.83), (2, 0.21),
    (0, 0.83), (2, 0.8), (1, 0.16), (2, 0.63), (2, 0.09), (2, 0.67), (1, 0.18), (3, 0.28),
    (2, 0.01), (2, 0.57), (2, 0.85), (1, 0.41), (2, 0.43), (1, 0.23), (2, 0.81), (0, 0.08),
    (3, 0.63), (2, 0.52), (3, 0.7), (1, 1.0), (1, 0.07), (1, 0.64), (3, 0.28), (2, 0.44),
    (2, 0.63), (1, 0.9), (0, 0.84), (1, 0.28), (1, 0.12), (1, 0.29), (0, 0.04), (0, 0.9),
]  # fmt: skip
PADDLESLIM_ANSWERS = "GGGBGGBGBBGGGBGGGGBGGGBGBGBBGBGGGBBGGGGB"  # G: GOOD, B: BAD


def test_medianstop_without_a_trial_answers_as_paddleslim_does(server):
    from sanas import SANAS
    from sanas.early_stop import MedianStop

    host, port = server.address.rsplit(":", 1)
    space = [("custom", {"range_table": [4, 4]})]
    with SANAS(space, server_addr=(host, int(port)), is_server=False) as nas:
        stop = MedianStop(nas, start_epoch=1, mode="minimize")
        answers = [stop.get_status(step, value, 2) for step, value in NO_TRIAL_CALLS]
    assert "".join(a[0] for a in answers) == PADDLESLIM_ANSWERS
