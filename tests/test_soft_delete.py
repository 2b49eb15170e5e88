"""Soft deletes (AIP-164): DeleteStudy keeps the study, UndeleteStudy restores it as it was,
a purge is explicit, a retention purges the rest. Real `sanas-server` processes over
loopback sockets, the `sanas` command, tokens with roles, the audit log and `kill -9`."""

from __future__ import annotations

import datetime
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from helpers import custom_config, run_sanas, wait_until

from sanas import errors
from sanas.client import Client
from sanas.v1 import sanas_pb2 as pb
from sanas.v1 import sanas_pb2_grpc
from sanas_server.audit import read_audit_log

ADMIN_TOKEN = "admin-token-0123456789abcdef"
TRAINER_TOKEN = "trainer-token-0123456789abcdef"
CONFIG = custom_config([5, 5, 5], search_steps=20, seed=7)


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, Path]:
    store = tmp_path / "tokens"
    store.write_text(f"admin {ADMIN_TOKEN} ops\ntrainer {TRAINER_TOKEN} fleet\n")
    admin = tmp_path / "admin.token"
    admin.write_text(ADMIN_TOKEN)
    return {"store": store, "admin": admin}


def sanas(address: str, token_file: Path, *args: str, check: bool = True):
    return run_sanas(address, "--token-file", str(token_file), *args, check=check)


def seconds(ts) -> float:
    return ts.ToNanoseconds() / 1e9


def run_some_trials(trainer: Client, study_id: str, results: int) -> pb.Trial:
    """`results` completed trials, then one left running with a progress report: the
    trial a trainer holds when its study is deleted."""
    for n in range(results):
        trial = trainer.suggest_trial(study_id)
        trainer.complete_trial(study_id, trial, 0.1 + n / 10)
    held = trainer.suggest_trial(study_id)
    trainer.report_progress(study_id, held, 1, 0.3)
    return held


def without_leases(trials: list[pb.Trial]) -> list[bytes]:
    """Trials as bytes, the lease left out: an undelete renews running trials' leases."""
    out = []
    for t in trials:
        t = pb.Trial.FromString(t.SerializeToString())
        t.ClearField("lease_expire_time")
        out.append(t.SerializeToString(deterministic=True))
    return out


def trial_calls(client: Client, study_id: str, held: pb.Trial) -> dict[str, object]:
    """Every trial call once, with what it raised (or returned)."""
    calls = {
        "suggest": lambda: client.suggest_trial(study_id),
        "complete": lambda: client.complete_trial(study_id, held, 0.9),
        "report": lambda: client.report_progress(study_id, held, 2, 0.4),
        "heartbeat": lambda: client.heartbeat_trial(study_id, held),
        "skip": lambda: client.skip_trial(study_id, held, "deleted?"),
        "watch": lambda: next(iter(client.watch_study(study_id))),
    }
    out: dict[str, object] = {}
    for name, call in calls.items():
        try:
            out[name] = call()
        except Exception as exc:  # collected, then asserted one by one
            out[name] = exc
    return out


def test_soft_delete_then_undelete_restores_everything(server_process, tokens, tmp_path):
    tokens_file, retention = ("--tokens-file", str(tokens["store"])), ("--deleted-retention", "2h")
    server = server_process(extra=(*tokens_file, *retention, "--metrics-port", "0"))
    with (
        Client(server.address, auth_token=ADMIN_TOKEN, client_id="operator") as admin,
        Client(server.address, auth_token=TRAINER_TOKEN, client_id="trainer-1") as trainer,
    ):
        admin.create_study("s", CONFIG)
        admin.create_study("other", CONFIG)
        held = run_some_trials(trainer, "s", 5)
        before = admin.get_study("s")
        trials_before = list(admin.list_trials("s"))

        refused = sanas(server.address, tokens["admin"], "delete", "s", check=False)
        assert refused.returncode == 2 and "add --yes" in refused.stderr
        assert admin.get_study("s").state == pb.STUDY_STATE_ACTIVE
        out = sanas(server.address, tokens["admin"], "delete", "s", "--yes").stdout
        assert "deleted study 's' (6 trials" in out and "is purged at" in out
        assert "sanas undelete s" in out and "sanas delete s --purge --yes" in out

        # Get answers with the deleted state and its times (AIP-164).
        deleted = admin.get_study("s")
        assert deleted.state == pb.STUDY_STATE_DELETED
        assert seconds(deleted.expire_time) - seconds(deleted.delete_time) == pytest.approx(7200)
        assert (deleted.uid, deleted.trial_counts) == (before.uid, before.trial_counts)
        # Its trials can still be read (what to look at before an undelete or a purge).
        assert list(admin.list_trials("s")) == trials_before

        # Every trial call is refused, precisely, and changes nothing.
        for name, outcome in trial_calls(trainer, "s", held).items():
            assert isinstance(outcome, errors.StudyDeletedError), (name, outcome)
            assert (outcome.code, outcome.reason) == (
                "FAILED_PRECONDITION",
                "ERROR_REASON_STUDY_DELETED",
            ), name
            assert "sanas undelete s" in str(outcome), name
        assert admin.get_study("s") == deleted
        assert list(admin.list_trials("s")) == trials_before

        # Creating over its id, with any config and any token, is refused and says how.
        for who in (admin, trainer):
            with pytest.raises(errors.StudyExistsError) as exists:
                who.create_study("s", CONFIG)
            assert exists.value.code == "ALREADY_EXISTS"
            assert "sanas undelete s" in str(exists.value)
            assert "sanas delete s --purge --yes" in str(exists.value)

        # Listed only when asked for.
        assert [s.study_id for s in admin.list_studies()] == ["other"]
        listed = {s.study_id: s.state for s in admin.list_studies(show_deleted=True)}
        assert listed == {"other": pb.STUDY_STATE_ACTIVE, "s": pb.STUDY_STATE_DELETED}
        plain = sanas(server.address, tokens["admin"], "studies").stdout
        assert "other" in plain and "\ns " not in plain
        shown = sanas(server.address, tokens["admin"], "studies", "--deleted").stdout
        row = next(line for line in shown.splitlines() if line.startswith("s "))
        assert "deleted" in row and "purged at" in shown.splitlines()[0]

        # Counted in the metrics as deleted, with no series of its own.
        with urllib.request.urlopen(server.metrics_url, timeout=10) as r:
            metrics = r.read().decode()
        assert 'sanas_studies{status="deleted"} 1.0' in metrics
        trial_series = [line for line in metrics.splitlines() if line.startswith("sanas_trials{")]
        assert any('study="other"' in line for line in trial_series)
        assert not any('study="s"' in line for line in trial_series)

        # A trainer token may neither undelete nor purge.
        with pytest.raises(errors.PermissionDeniedError, match="UndeleteStudy needs an admin"):
            trainer.undelete_study("s")
        with pytest.raises(errors.PermissionDeniedError, match="DeleteStudy needs an admin"):
            trainer.delete_study("s", purge=True)
        assert admin.get_study("s") == deleted

        out = sanas(server.address, tokens["admin"], "undelete", "s").stdout
        assert "undeleted study 's': active, 6/20 trials used, best reward 0.5" in out
        assert f"uid {before.uid} (the same" in out
        # Exactly as it was: the same incarnation, trials, best, budget, temperature.
        assert admin.get_study("s") == before
        assert without_leases(list(admin.list_trials("s"))) == without_leases(trials_before)
        with pytest.raises(errors.StudyExistsError, match="not deleted"):
            admin.undelete_study("s")
        # The trainer's trial is still its own: bound to the same uid, it completes.
        done = trainer.complete_trial("s", held, 0.8, suggest_next=True)
        assert done.trial.state == pb.TRIAL_STATE_SUCCEEDED
        assert done.next_trial.study_uid == before.uid

        # A purge is explicit, and for good.
        refused = sanas(server.address, tokens["admin"], "delete", "s", "--purge", check=False)
        assert refused.returncode == 2 and "for good" in refused.stderr
        out = sanas(server.address, tokens["admin"], "delete", "s", "--purge", "--yes").stdout
        assert "purged study 's'" in out
        with pytest.raises(errors.StudyNotFoundError):
            admin.get_study("s")
        with pytest.raises(errors.StudyNotFoundError):
            admin.undelete_study("s")
        assert not list((server.checkpoint_dir / "studies").glob("s@*"))
        assert not list((server.checkpoint_dir / "deleted").glob("s@*"))
        admin.create_study("s", CONFIG)  # the id is free again: a new incarnation
        assert admin.get_study("s").uid != before.uid

    audit = read_audit_log(server.checkpoint_dir / "audit.log")
    lines = [(e["action"], e["study_id"], e["outcome"], e["role"]) for e in audit]
    assert lines == [
        ("create_study", "s", "ok", "admin"),
        ("create_study", "other", "ok", "admin"),
        ("delete_study", "s", "ok", "admin"),
        ("create_study", "s", "failed", "admin"),
        ("create_study", "s", "failed", "trainer"),
        ("undelete_study", "s", "denied", "trainer"),
        ("purge_study", "s", "denied", "trainer"),
        ("undelete_study", "s", "ok", "admin"),
        ("undelete_study", "s", "failed", "admin"),
        ("purge_study", "s", "ok", "admin"),
        ("undelete_study", "s", "failed", "admin"),
        ("create_study", "s", "ok", "admin"),
    ]
    soft, purge = audit[2], audit[9]
    expires = datetime.datetime.fromisoformat(soft["expire_time"]).timestamp()
    assert expires == pytest.approx(seconds(deleted.expire_time), abs=1)
    assert "purged" not in soft and purge["purged"] is True
    assert audit[3]["code"] == "ALREADY_EXISTS" and audit[8]["code"] == "ALREADY_EXISTS"
    assert audit[10]["code"] == "NOT_FOUND"


def test_a_soft_delete_an_undelete_and_a_purge_each_survive_kill_9(server_process, tmp_path):
    server = server_process()
    port = int(server.address.rsplit(":", 1)[1])
    with Client(server.address, client_id="trainer-1", timeout=10) as c:
        c.create_study("s", CONFIG)
        c.create_study("p", CONFIG)
        held = run_some_trials(c, "s", 4)
        before = c.get_study("s")
        deleted = c.delete_study("s")
        assert deleted is not None and deleted.state == pb.STUDY_STATE_DELETED
        assert c.delete_study("p", purge=True) is None
    server.kill9()  # right after both were acknowledged

    server = server_process(port=port)
    with Client(server.address, client_id="trainer-1", timeout=10) as c:
        assert c.get_study("s") == deleted  # the same delete and expire times
        with pytest.raises(errors.StudyDeletedError):
            c.complete_trial("s", held, 0.9)
        with pytest.raises(errors.StudyNotFoundError):
            c.get_study("p")
        assert c.undelete_study("s") == before
    server.kill9()

    server = server_process(port=port)
    with Client(server.address, client_id="trainer-1", timeout=10) as c:
        assert c.get_study("s") == before
        assert [s.study_id for s in c.list_studies(show_deleted=True)] == ["s"]
        # A restart renews the lease of the trial held through it all: it completes.
        assert c.complete_trial("s", held, 0.9).trial.state == pb.TRIAL_STATE_SUCCEEDED
    assert not list((server.checkpoint_dir / "deleted").iterdir())


def test_an_expired_soft_delete_is_purged_and_audited_also_across_a_restart(
    server_process, tmp_path
):
    server = server_process(extra=("--deleted-retention", "1s"))
    with Client(server.address, timeout=10) as c:
        c.create_study("gone", CONFIG)
        c.create_study("kept", CONFIG)
        first = c.get_study("gone")
        c.delete_study("gone")

        def purged() -> bool:
            try:
                c.get_study("gone")
            except errors.StudyNotFoundError:
                return True
            return False

        wait_until(purged, timeout=30)
        assert [s.study_id for s in c.list_studies(show_deleted=True)] == ["kept"]
        c.create_study("gone", CONFIG)  # its id is free again
        # Deleted now, it expires while the controller is down; the restarted one purges it.
        second = c.get_study("gone")
        expires = seconds(c.delete_study("gone").expire_time)
    server.kill9()
    assert list((server.checkpoint_dir / "deleted").glob("gone@*"))
    wait_until(lambda: time.time() > expires + 0.1, timeout=30)  # nothing runs meanwhile
    server = server_process(port=0, extra=("--deleted-retention", "1s"))
    with Client(server.address, timeout=10) as c:
        wait_until(purged, timeout=30)
        assert [s.study_id for s in c.list_studies(show_deleted=True)] == ["kept"]
    assert not list((server.checkpoint_dir / "deleted").iterdir())
    audit = read_audit_log(server.checkpoint_dir / "audit.log")
    expired = [e for e in audit if e["action"] == "expire_study"]
    assert [(e["study_id"], e["uid"], e["outcome"]) for e in expired] == [
        ("gone", first.uid, "ok"),
        ("gone", second.uid, "ok"),
    ]
    assert all(e["trials"] == 0 and e["expire_time"] > e["delete_time"] for e in expired)


def test_a_retention_of_0_makes_every_delete_a_purge(server_process, tmp_path):
    server = server_process(extra=("--deleted-retention", "0"))
    with Client(server.address, timeout=10) as c:
        c.create_study("s", CONFIG)
        out = run_sanas(server.address, "delete", "s", "--yes").stdout
        assert "purged study 's'" in out
        with pytest.raises(errors.StudyNotFoundError):
            c.get_study("s")
        c.create_study("s", CONFIG)
    (line,) = [
        e for e in read_audit_log(server.checkpoint_dir / "audit.log") if "delete" in e["action"]
    ]
    assert (line["action"], line["outcome"], line["purged"]) == ("delete_study", "ok", True)


def test_listing_pages_leave_soft_deleted_studies_out_unless_asked(server, client):
    for n in range(7):
        client.create_study(f"s{n}", CONFIG)
    for n in (0, 3, 4, 6):
        client.delete_study(f"s{n}")
    stub = sanas_pb2_grpc.ControllerServiceStub(grpc.insecure_channel(server.address))

    def pages(show_deleted: bool) -> list[list[str]]:
        out, token = [], ""
        for _ in range(10):  # bounded
            response = stub.ListStudies(
                pb.ListStudiesRequest(page_size=2, page_token=token, show_deleted=show_deleted),
                timeout=10,
            )
            out.append([s.study_id for s in response.studies])
            token = response.next_page_token
            if not token:
                return out
        raise AssertionError("more pages than studies")

    live = [s for page in pages(False) for s in page]
    assert live == ["s1", "s2", "s5"]
    everything = [s for page in pages(True) for s in page]
    assert everything == [f"s{n}" for n in range(7)]
    assert [s.study_id for s in client.list_studies(show_deleted=True)] == everything


def test_a_sanas_trainer_is_stopped_precisely_and_never_recreates_a_deleted_study(server, client):
    from sanas import SANAS

    space = [("custom", {"range_table": [5, 5, 5]})]
    options = {"server_addr": server.address, "is_server": False, "save_checkpoint": None}
    nas = SANAS(space, study_id="s", search_steps=20, **options)
    try:
        nas.next_archs()
        client.delete_study("s")
        with pytest.raises(errors.StudyDeletedError, match="sanas undelete s"):
            nas.reward(0.5)
        # A trainer that starts meanwhile neither joins it nor creates it again.
        with pytest.raises(errors.StudyDeletedError, match="undelete it") as info:
            SANAS(space, study_id="s", search_steps=20, **options)
        assert info.value.reason == "ERROR_REASON_STUDY_DELETED"
        assert client.get_study("s").state == pb.STUDY_STATE_DELETED
        client.undelete_study("s")
        nas.reward(0.5)  # its trial is still its own
        assert client.get_study("s").trial_counts.succeeded == 1
    finally:
        nas.close()
