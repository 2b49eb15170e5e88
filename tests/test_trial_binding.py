"""Every call about a trial is bound to the study incarnation and the tokens it was issued
with: a trainer that outlived its study (deleted and created again) or whose controller's
folder was restored from a backup is refused (FAILED_PRECONDITION, STALE_TRIAL) and
nothing is written; a call that sends no binding gets the documented INVALID_ARGUMENT.
Real servers on loopback sockets, in this process and as processes of their own."""

from __future__ import annotations

import json
import logging
import shutil
import uuid

import grpc
import pytest
from helpers import ROOT, custom_config, wait_until

from sanas import SANAS, Client, InvalidArgumentError, StaleTrialError
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server.controller import Controller
from sanas_server.server import start_server
from sanas_server.spec import StudyRequest
from sanas_server.storage import FileStorage

TABLE = [9, 9, 9, 9]
FORMAT1 = ROOT / "tests" / "data" / "format1"
CUSTOM = StudyRequest(search_spaces=(SpaceConfig("custom", range_table=tuple(TABLE)),))


def state_of(client: Client, study_id: str) -> tuple[bytes, list[bytes]]:
    """The study and its trials as bytes (the temperature included): equal before and
    after a refused call means nothing was written."""
    study = client.get_study(study_id).SerializeToString(deterministic=True)
    trials = [t.SerializeToString(deterministic=True) for t in client.list_trials(study_id)]
    return study, trials


def every_trial_call(client: Client, study_id: str, trial: pb.Trial | int) -> dict[str, object]:
    """Each trial-scoped call once, with what it raised (or returned)."""
    calls = {
        "complete": lambda: client.complete_trial(study_id, trial, 0.99),
        "report": lambda: client.report_progress(study_id, trial, 1, 0.5),
        "heartbeat": lambda: client.heartbeat_trial(study_id, trial),
        "skip": lambda: client.skip_trial(study_id, trial, "stale"),
    }
    out: dict[str, object] = {}
    for name, call in calls.items():
        try:
            out[name] = call()
        except Exception as exc:  # collected, then asserted one by one
            out[name] = exc
    return out


def test_a_trainer_across_a_delete_and_create_is_refused_for_every_trial_call(server, caplog):
    config = custom_config(TABLE, search_steps=5, seed=11)
    with (
        Client(server.address, client_id="stale") as stale,
        Client(server.address, client_id="fresh") as fresh,
    ):
        stale.create_study("s", config)
        old = stale.suggest_trial("s")
        stale.report_progress("s", old.trial_id, 1, 0.4)
        keeper = stale.keep_alive("s", old.trial_id, interval=0.05)  # bound to `old`
        try:
            fresh.delete_study("s", purge=True)
            fresh.create_study("s", config)
            new = fresh.suggest_trial("s")
            # The same config and seed issue the same tokens under the same id: only the
            # study's uid tells the two trials apart.
            assert (new.trial_id, list(new.tokens)) == (old.trial_id, list(old.tokens))
            assert new.fingerprint == old.fingerprint and new.study_uid != old.study_uid
            assert fresh.get_study("s").uid == new.study_uid
            # The old trainer's keeper does not renew the new trial: told it is stale,
            # it stops.
            with caplog.at_level(logging.WARNING, logger="sanas.client"):
                wait_until(lambda: "stopped renewing trial 0" in caplog.text)
        finally:
            keeper.stop()
        before = state_of(fresh, "s")
        # The stale trainer names its trial by id: the client binds it to the Trial it
        # was handed, the one of the deleted study.
        outcomes = every_trial_call(stale, "s", old.trial_id)
        for name, outcome in outcomes.items():
            assert isinstance(outcome, StaleTrialError), (name, outcome)
            assert (outcome.code, outcome.reason) == (
                "FAILED_PRECONDITION",
                "ERROR_REASON_STALE_TRIAL",
            )
            assert "study 's' was created again since trial 0 was issued" in str(outcome)
            assert "drop this trial" in str(outcome) and "ask for a new trial" in str(outcome)
        assert state_of(fresh, "s") == before  # nothing was written
        trial = next(iter(fresh.list_trials("s")))
        assert (trial.state, trial.client_id, list(trial.measurements)) == (
            pb.TRIAL_STATE_ACTIVE,
            "fresh",
            [],
        )
        # The fresh trainer's own calls, bound to the new trial, go through.
        fresh.report_progress("s", new.trial_id, 1, 0.7)
        assert fresh.complete_trial("s", new.trial_id, 0.7).trial.reward == 0.7


def test_the_refusal_is_failed_precondition_with_the_stale_reason_on_the_wire(server, client):
    client.create_study("w", custom_config(TABLE, search_steps=3))
    trial = client.suggest_trial("w")
    client.delete_study("w", purge=True)
    client.create_study("w", custom_config(TABLE, search_steps=3))
    channel = grpc.insecure_channel(server.address)
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    request = pb.CompleteTrialRequest(
        study_id="w",
        trial_id=0,
        reward=0.99,
        study_uid=trial.study_uid,
        trial_fingerprint=trial.fingerprint,
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CompleteTrial(request, timeout=10)
    channel.close()
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "was created again" in caught.value.details()
    assert list(client.list_trials("w")) == []  # the new study has no trial 0 either


def test_a_trainer_across_a_restore_of_the_folder_is_refused_where_the_tokens_changed(
    server_process, tmp_path
):
    """The folder is copied while trainers run, they go on, the controller stops, the
    copy is put back and the controller restarts on the same port: trials issued after
    the copy are gone or have other tokens now, and their results are refused."""
    server = server_process()
    port = int(server.address.rsplit(":", 1)[1])
    folder, backup = server.checkpoint_dir, tmp_path / "backup"
    a = SANAS(
        [("custom", {"range_table": TABLE})],
        server_addr=server.address,
        is_server=False,
        study_id="r",
        client_id="A",
        seed=7,
        search_steps=20,
    )
    with (
        Client(server.address, client_id="F") as f,
        Client(server.address, client_id="D") as d,
        Client(server.address, client_id="B") as b,
    ):
        a.next_archs()
        a.reward(0.1)  # trial 0
        kept = f.suggest_trial("r")  # trial 1: issued before the copy, unchanged by it
        a.next_archs()  # trial 2, running when the folder is copied
        shutil.copytree(folder, backup)
        a.reward(0.2)  # acknowledged, then lost with the restore
        a.next_archs()
        trained = a.current_tokens()  # trial 3, tokens X
        gone = d.suggest_trial("r")  # trial 4
        assert (a.current_trial_id(), gone.trial_id) == (3, 4)
        server.terminate()
        shutil.rmtree(folder)
        shutil.copytree(backup, folder)
        server = server_process(port=port)  # the same folder (restored), the same port
        restored = b.get_study("r")
        assert restored.uid == kept.study_uid  # a restore keeps the study's uid
        assert (restored.trial_counts.active, restored.trial_counts.succeeded) == (2, 1)
        # Trial 4 is gone: the study has trials 0 to 2.
        with pytest.raises(StaleTrialError, match=r"trial 4 of study 'r' no longer exists"):
            d.heartbeat_trial("r", gone.trial_id)
        # Another trainer is issued trial 3 again, drawn without trial 2's lost result.
        other = b.suggest_trial("r")
        assert other.trial_id == 3 and list(other.tokens) != trained
        before = state_of(b, "r")
        with pytest.raises(StaleTrialError) as refused:
            a.reward(0.3)
        message = str(refused.value)
        assert refused.value.reason == "ERROR_REASON_STALE_TRIAL"
        assert f"reward() for trial 3 (tokens {trained}) of study 'r'" in message
        assert "trial 3 of study 'r' now has other tokens than the ones you trained" in message
        assert "restored from a backup" in message and "call next_archs()" in message
        with pytest.raises(StaleTrialError, match="no longer exists"):
            d.complete_trial("r", gone, 0.4)
        assert state_of(b, "r") == before  # neither refusal wrote anything
        held = b.list_trials("r", state=pb.TRIAL_STATE_ACTIVE)
        assert {t.trial_id: t.client_id for t in held} == {1: "F", 2: "A", 3: "B"}
        # A trial the restore did not change still takes its trainer's result.
        assert f.complete_trial("r", kept, 0.5).trial.state == pb.TRIAL_STATE_SUCCEEDED
        # The refused trainer simply goes on with a new trial.
        a.next_archs()
        assert a.current_trial_id() == 4 and a.reward(0.6) is True
    a.close()


def test_calls_without_a_binding_get_invalid_argument_and_change_nothing(server, client):
    client.create_study("u", custom_config(TABLE, search_steps=4))
    trial = client.suggest_trial("u")
    before = state_of(client, "u")
    channel = grpc.insecure_channel(server.address)
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    # What a client older than the binding sends.
    old_style = {
        "CompleteTrial": pb.CompleteTrialRequest(study_id="u", trial_id=0, reward=0.9),
        "ReportTrialProgress": pb.ReportTrialProgressRequest(
            study_id="u", trial_id=0, step=1, value=0.5
        ),
        "HeartbeatTrial": pb.HeartbeatTrialRequest(study_id="u", trial_id=0),
        "SkipTrial": pb.SkipTrialRequest(study_id="u", trial_id=0),
    }
    for method, request in old_style.items():
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, method)(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
        assert caught.value.details().startswith(
            f"{method} for trial 0 of study 'u' names no study_uid and no trial_fingerprint, "
            "so the controller cannot tell that it is for the trial it issued"
        )
        assert "Send the study_uid and fingerprint of the Trial" in caught.value.details()
        # Half a binding is refused too, naming what is missing.
        request.study_uid = trial.study_uid
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, method)(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
        assert "names no trial_fingerprint, so" in caught.value.details()
    channel.close()
    # A Client that was never handed the trial has no binding for its id.
    with Client(server.address, client_id="elsewhere") as other:
        with pytest.raises(InvalidArgumentError, match="names no study_uid"):
            other.complete_trial("u", trial.trial_id, 0.9)
    assert state_of(client, "u") == before


def test_with_allow_unbound_trial_calls_old_clients_are_accepted_but_stale_ones_refused(
    server_process,
):
    server = server_process(extra=("--allow-unbound-trial-calls",))
    with Client(server.address, client_id="old") as c:
        c.create_study("o", custom_config(TABLE, search_steps=4))
        first = c.suggest_trial("o")
        c.suggest_trial("o")
    channel = grpc.insecure_channel(server.address)
    stub = sanas_pb2_grpc.ControllerServiceStub(channel)
    answer = stub.CompleteTrial(
        pb.CompleteTrialRequest(study_id="o", trial_id=0, reward=0.9), timeout=10
    )
    assert answer.trial.state == pb.TRIAL_STATE_SUCCEEDED  # as before the binding
    # A binding that is sent is still checked.
    with pytest.raises(grpc.RpcError) as caught:
        stub.CompleteTrial(
            pb.CompleteTrialRequest(
                study_id="o", trial_id=1, reward=0.9, study_uid=str(uuid.uuid4())
            ),
            timeout=10,
        )
    channel.close()
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "was created again" in caught.value.details()
    assert first.study_uid  # handed out all the same, for clients that send it
    assert server.terminate() == 0
    assert "--allow-unbound-trial-calls" in server.proc.stderr.read()  # warned at start


def test_a_study_keeps_its_uid_across_restarts_and_a_new_one_gets_another(tmp_path):
    c = Controller(FileStorage(tmp_path / "ckpt"))
    summary, _ = c.create_study("k", CUSTOM)
    first = summary.uid
    assert uuid.UUID(first).version == 4
    c.close()
    c = Controller(FileStorage(tmp_path / "ckpt"))
    assert c.get_study("k").uid == first
    c.delete_study("k", purge=True)
    again, _ = c.create_study("k", CUSTOM)
    assert again.uid != first
    c.close()


def test_a_folder_from_before_uids_gets_a_derived_uid_the_same_on_every_start(tmp_path):
    from sanas_server.journal import LEGACY_UID_NAMESPACE, derived_study_uid

    folder = tmp_path / "ckpt"
    shutil.copytree(FORMAT1 / "checkpoints", folder)
    headers = {
        json.loads(p.read_text())["study_id"]: json.loads(p.read_text())
        for p in folder.glob("studies/*/study.json")
    }
    assert all("uid" not in h for h in headers.values())
    uids = []
    for _ in range(2):
        running = start_server("127.0.0.1", 0, folder)
        with Client(running.address) as c:
            uids.append({s.study_id: s.uid for s in c.list_studies()})
            if len(uids) == 1:
                trial = c.suggest_trial("custom")
                assert trial.study_uid == uids[0]["custom"]
        running.stop(1)
    assert uids[0] == uids[1]  # derived, not minted: the same after a restart
    for study_id, header in headers.items():
        seed = header["spec"]["seed"]
        expected = derived_study_uid(study_id, header["create_time"], seed)
        assert uids[0][study_id] == expected
        assert expected == str(
            uuid.uuid5(LEGACY_UID_NAMESPACE, f"{study_id}\n{header['create_time']!r}\n{seed}")
        )
    assert len(set(uids[0].values())) == len(headers)
    # A trainer holding a trial across the restart is still bound to it.
    running = start_server("127.0.0.1", 0, folder)
    with Client(running.address) as c:
        assert c.complete_trial("custom", trial, 0.5).trial.state == pb.TRIAL_STATE_SUCCEEDED
    running.stop(1)
