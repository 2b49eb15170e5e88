"""Study life cycle under races and damage: a call that found a study before it was
deleted never touches the study created next under the same id; a study whose checkpoint
cannot be loaded is listed as broken while the others are served; a second server on the
same folder is refused; file work on one study never holds up calls on the others."""

from __future__ import annotations

import os
import threading
import time

import grpc
import pytest
from helpers import custom_config
from test_controller import drive, request, reward_of

from sanas import Client, errors
from sanas.v1 import sanas_pb2 as pb
from sanas_server import errors as server_errors
from sanas_server.controller import BrokenStudy, Controller
from sanas_server.server import start_server
from sanas_server.storage import JOURNAL, FileStorage


def folder_of(root, study_id):
    (folder,) = (root / "studies").glob(f"{study_id}@*")
    return folder


def test_a_suggestion_delayed_across_delete_and_create_gets_not_found(tmp_path, monkeypatch):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(seed=1))
    drive(c, "s", 5)
    looked_up, go_on = threading.Event(), threading.Event()
    real_entry = Controller._entry

    def slow_entry(self, study_id):
        entry = real_entry(self, study_id)
        if threading.current_thread().name == "stale":
            looked_up.set()
            go_on.wait(5)
        return entry

    monkeypatch.setattr(Controller, "_entry", slow_entry)
    outcome: list[BaseException | object] = []

    def stale_call() -> None:
        try:
            outcome.append(c.suggest_trial("s", "w"))
        except Exception as exc:
            outcome.append(exc)

    stale = threading.Thread(target=stale_call, name="stale")
    stale.start()
    assert looked_up.wait(5)
    c.delete_study("s", purge=True)
    c.create_study("s", request(seed=2))
    go_on.set()
    stale.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], server_errors.StudyNotFound)
    assert c.get_study("s").counts == {k: 0 for k in c.get_study("s").counts}
    c.close()
    resumed = Controller(FileStorage(tmp_path))  # loads: nothing stale in the new journal
    summary = resumed.get_study("s")
    assert not isinstance(summary, BrokenStudy) and summary.spec.seed == 2
    assert len(resumed.list_trials("s", 100, "", None)[0]) == 0
    resumed.close()


def test_delete_and_create_churn_gives_only_precise_errors(tmp_path):
    c = Controller(FileStorage(tmp_path))
    c.create_study("s", request(search_steps=10**6))
    deadline = time.monotonic() + 3.0
    unexpected: list[BaseException] = []
    allowed = (server_errors.StudyNotFound, server_errors.TrialNotFound)

    def trainer() -> None:
        for _ in range(5000):  # bounded in count and time
            if time.monotonic() > deadline:
                return
            try:
                t = c.suggest_trial("s", "w")
                c.complete_trial("s", t.trial_id, reward_of(t.tokens), False)
            except allowed:
                continue
            except Exception as exc:
                unexpected.append(exc)
                return

    def churn() -> None:
        for _ in range(300):
            if time.monotonic() > deadline:
                return
            try:
                c.delete_study("s", purge=True)
            except server_errors.StudyNotFound:
                pass
            c.create_study("s", request(search_steps=10**6))

    threads = [threading.Thread(target=trainer) for _ in range(4)] + [
        threading.Thread(target=churn)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert unexpected == []
    c.close()
    resumed = Controller(FileStorage(tmp_path))
    assert [type(s) for s in resumed.list_studies(0, "")[0]] != [BrokenStudy]
    assert len(list((tmp_path / "studies").iterdir())) == 1
    resumed.close()


def damage_a_middle_record(folder) -> None:
    path = folder / JOURNAL
    data = path.read_bytes()
    first_newline = data.index(b"\n")
    path.write_bytes(data[: first_newline - 3] + b"XYZ" + data[first_newline:])


def test_a_broken_study_is_listed_and_the_others_are_served(tmp_path):
    root = tmp_path / "ckpt"
    running = start_server("127.0.0.1", 0, root)
    with Client(running.address, timeout=10) as client:
        for study_id in ("good", "bad"):
            client.create_study(study_id, custom_config([5, 5, 5], search_steps=20))
            t = client.suggest_trial(study_id)
            client.complete_trial(study_id, t.trial_id, 0.5)
    running.stop(1)
    damage_a_middle_record(folder_of(root, "bad"))

    running = start_server("127.0.0.1", 0, root)  # starts, serving "good"
    try:
        with Client(running.address, timeout=10) as client:
            assert client.get_study("good").trial_counts.succeeded == 1
            listed = {s.study_id: s for s in client.list_studies()}
            assert listed["good"].state == pb.STUDY_STATE_ACTIVE
            assert listed["bad"].state == pb.STUDY_STATE_BROKEN
            assert "fails its checksum" in listed["bad"].broken_reason
            assert "journal.log" in listed["bad"].broken_reason
            with pytest.raises(errors.StudyBrokenError, match="could not be loaded"):
                client.suggest_trial("bad")
            channel = grpc.insecure_channel(running.address)
            stub_call = channel.unary_unary(
                "/sanas.v1.ControllerService/SuggestTrial",
                request_serializer=pb.SuggestTrialRequest.SerializeToString,
                response_deserializer=pb.SuggestTrialResponse.FromString,
            )
            with pytest.raises(grpc.RpcError) as info:
                stub_call(pb.SuggestTrialRequest(study_id="bad"), timeout=10)
            assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            channel.close()
            with pytest.raises(errors.StudyExistsError, match="delete it first"):
                client.create_study("bad", custom_config([5, 5, 5], search_steps=20))
            client.delete_study("bad")
            assert [s.study_id for s in client.list_studies()] == ["good"]
            client.create_study("bad", custom_config([5, 5, 5], search_steps=20))
    finally:
        running.stop(1)


def test_a_second_server_on_the_folder_is_refused_with_the_holder(server_process, tmp_path):
    first = server_process(tmp_path / "ckpt")
    with pytest.raises(RuntimeError) as info:
        server_process(tmp_path / "ckpt")
    message = str(info.value)
    assert "is in use by another sanas-server" in message
    assert f"pid {first.proc.pid} on host" in message
    first.kill9()  # the kernel releases the lock with the process
    again = server_process(tmp_path / "ckpt")
    with Client(again.address, timeout=10) as client:
        assert list(client.list_studies()) == []


class BlockingStorage(FileStorage):
    """File storage whose create / delete of one study id waits for a signal."""

    def __init__(self, root, slow_id: str) -> None:
        super().__init__(root)
        self.slow_id = slow_id
        self.inside, self.release = threading.Event(), threading.Event()

    def _hold(self, key: str) -> None:
        if key.startswith(f"{self.slow_id}@") or key == self.slow_id:
            self.inside.set()
            self.release.wait(10)

    def create(self, study_id, header, events):
        self._hold(f"{study_id}@")
        return super().create(study_id, header, events)

    def delete(self, key):
        self._hold(key)
        return super().delete(key)

    def soft_delete(self, key, deletion):
        self._hold(key)
        return super().soft_delete(key, deletion)


@pytest.mark.parametrize("slow_call", ["create", "purge", "soft-delete"])
def test_file_work_on_one_study_does_not_hold_up_the_others(tmp_path, slow_call):
    storage = BlockingStorage(tmp_path, "slow")
    c = Controller(storage)
    c.create_study("other", request(seed=1))
    if slow_call != "create":
        c.create_study("slow", request(seed=1))
    storage.release.clear()
    target = {
        "create": lambda: c.create_study("slow", request(seed=1)),
        "purge": lambda: c.delete_study("slow", purge=True),
        "soft-delete": lambda: c.delete_study("slow"),
    }
    worker = threading.Thread(target=target[slow_call])
    worker.start()
    assert storage.inside.wait(5)
    answers: list[object] = []

    def others() -> None:
        answers.append(c.get_study("other"))
        t = c.suggest_trial("other", "w")
        answers.append(c.complete_trial("other", t.trial_id, 1.0, False))
        answers.append(c.create_study("third", request(seed=1)))
        answers.append(c.list_studies(0, ""))

    probe = threading.Thread(target=others)
    probe.start()
    probe.join(3)
    blocked = probe.is_alive()
    storage.release.set()
    worker.join(10)
    probe.join(10)
    assert not blocked, f"calls on other studies waited for the {slow_call} of 'slow'"
    assert len(answers) == 4
    c.close()


def test_calls_on_a_study_being_created_wait_for_it_alone(tmp_path):
    storage = BlockingStorage(tmp_path, "slow")
    c = Controller(storage)
    creator = threading.Thread(target=lambda: c.create_study("slow", request(seed=1)))
    creator.start()
    assert storage.inside.wait(5)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(c.get_study("slow")))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive()  # waits for the folder to exist, never sees a half study
    storage.release.set()
    creator.join(10)
    reader.join(10)
    assert got and got[0].study_id == "slow"
    c.close()


def test_a_failed_create_leaves_no_study(tmp_path, monkeypatch):
    c = Controller(FileStorage(tmp_path))

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sanas_server.storage.write_file", full_disk)
    with pytest.raises(server_errors.StorageFailure, match="No space left"):
        c.create_study("s", request(seed=1))
    monkeypatch.undo()
    with pytest.raises(server_errors.StudyNotFound):
        c.get_study("s")
    assert os.listdir(tmp_path / "studies") == []
    c.create_study("s", request(seed=1))
    c.close()


def test_a_study_that_cannot_be_summarized_is_listed_and_scraped_as_broken(
    tmp_path, monkeypatch, caplog
):
    from prometheus_client import generate_latest

    from sanas_server.controller import BrokenStudy
    from sanas_server.metrics import Metrics
    from sanas_server.study import Study

    c = Controller(FileStorage(tmp_path))
    c.create_study("good", request(seed=1))
    c.create_study("poisoned", request(seed=1))
    real = Study.summary

    def summary(self):
        if self.study_id == "poisoned":
            raise OverflowError("int too large to convert to float")
        return real(self)

    monkeypatch.setattr(Study, "summary", summary)
    # Never silently left out: listed (and answered) as broken, with the reason.
    listed = c.list_studies(0, "")[0]
    assert [s.study_id for s in listed] == ["good", "poisoned"]
    assert isinstance(listed[1], BrokenStudy)
    assert "cannot be summarized: OverflowError" in listed[1].reason
    assert c.get_study("poisoned") == listed[1]
    metrics = Metrics()
    metrics.watch(c)
    scraped = generate_latest(metrics.registry).decode()
    assert 'sanas_budget_remaining{study="good"}' in scraped
    assert 'sanas_budget_remaining{study="poisoned"}' not in scraped
    assert 'sanas_study_broken{study="poisoned"} 1.0' in scraped
    assert "sanas_studies_broken 1.0" in scraped
    assert "'poisoned' cannot be summarized" in caplog.text
    c.close()
