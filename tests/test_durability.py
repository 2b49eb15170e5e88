"""Real crashes: `kill -9` of the controller mid-search, restart, nothing acknowledged lost."""

from __future__ import annotations

import random
import threading
import time

import grpc
from helpers import custom_config
from trainer import reward_of

from sanas import Client, ControllerUnavailableError, SearchFinished
from sanas.v1 import sanas_pb2 as pb


def retrying(call, deadline: float):
    """Retry through a controller restart; bounded by `deadline`."""
    while True:
        try:
            return call()
        except ControllerUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_kill_9_during_a_search_loses_no_acknowledged_result(server_process, tmp_path):
    server = server_process()
    port = int(server.address.rsplit(":", 1)[1])
    steps, workers = 2000, 4
    with Client(server.address, timeout=5) as setup:
        setup.wait_ready()
        setup.create_study("crash", custom_config([9] * 6, search_steps=steps, seed=9))
    acked_results: dict[int, float] = {}
    acked_trials: set[int] = set()
    lock = threading.Lock()
    deadline = time.monotonic() + 240
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with Client(server.address, client_id=f"w{n}", timeout=5) as c:
                while time.monotonic() < deadline:
                    try:
                        trial = retrying(lambda: c.suggest_trial("crash"), deadline)
                    except SearchFinished:
                        return
                    with lock:
                        acked_trials.add(trial.trial_id)
                    time.sleep(random.uniform(0, 0.01))  # "training"
                    reward = reward_of(list(trial.tokens))
                    retrying(
                        lambda t=trial, r=reward: c.complete_trial("crash", t.trial_id, r), deadline
                    )
                    with lock:
                        acked_results[trial.trial_id] = reward
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    rng = random.Random(1)
    kills = 0
    for _ in range(5):
        time.sleep(rng.uniform(0.1, 0.4))
        with lock:
            if len(acked_results) >= steps - 50:
                break
        server.kill9()
        kills += 1
        server = server_process(port=port)  # same checkpoint folder, same port
    for t in threads:
        t.join(timeout=max(1, deadline - time.monotonic()))
    assert not errors, errors
    assert kills >= 3, f"only {kills} kills landed before the search ended"

    server.kill9()  # one last crash, after the run
    server = server_process(port=port)
    with Client(server.address, timeout=5) as c:
        c.wait_ready()
        trials = {t.trial_id: t for t in c.list_trials("crash")}
        study = c.get_study("crash")
    for trial_id, reward in acked_results.items():
        assert trials[trial_id].state == pb.TRIAL_STATE_SUCCEEDED
        assert trials[trial_id].reward == reward
    assert acked_trials <= set(trials)
    # Without leases (a later issue), a trial issued at the instant of a crash whose
    # answer never reached its trainer stays ACTIVE: it is the only kind left open.
    orphans = {i for i, t in trials.items() if t.state == pb.TRIAL_STATE_ACTIVE}
    assert not orphans & acked_trials
    assert study.trial_counts.succeeded == len(acked_results)
    assert len(trials) == steps and study.budget_remaining == 0
    assert len({tuple(t.tokens) for t in trials.values()}) == steps


def test_sigterm_drains_and_exits_cleanly(server_process):
    server = server_process()
    with Client(server.address, timeout=5) as c:
        c.wait_ready()
        c.create_study("t", custom_config([9] * 4, search_steps=50, seed=1))
        done = []
        stop = threading.Event()

        def work() -> None:
            try:
                while not stop.is_set():
                    t = c.suggest_trial("t")
                    c.complete_trial("t", t.trial_id, 1.0)
                    done.append(t.trial_id)
            except (ControllerUnavailableError, SearchFinished, grpc.RpcError):
                return

        worker = threading.Thread(target=work)
        worker.start()
        time.sleep(0.3)
        code = server.terminate()
        stop.set()
        worker.join(10)
    assert code == 0
    assert "sanas-server stopped" in server.proc.stdout.read()
    restarted = server_process(server.checkpoint_dir)
    with Client(restarted.address, timeout=5) as c:
        c.wait_ready()
        succeeded = {t.trial_id for t in c.list_trials("t") if t.state == pb.TRIAL_STATE_SUCCEEDED}
    assert set(done) <= succeeded and done
