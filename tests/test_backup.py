"""Day-2 operations: online backup and restore (BackupStudy, RestoreStudy and `sanas
backup` / `sanas restore`) under live trainers, and studies of a newer release's
format: refused, not served, and left as they are. Real gRPC over loopback, real files."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import custom_config, run_sanas

from sanas import errors
from sanas.client import Client
from sanas.spaces import SpaceConfig
from sanas.v1 import sanas_pb2 as pb
from sanas_server.controller import BrokenStudy, Controller
from sanas_server.errors import InvalidArgument, StudyExists, StudyNotFound
from sanas_server.journal import FORMAT_VERSION
from sanas_server.server import start_server
from sanas_server.spec import StudyRequest
from sanas_server.storage import FileStorage

ADMIN_TOKEN = "admin-token-0123456789abcdef"
TRAINER_TOKEN = "trainer-token-0123456789abcdef"
TRAINERS = 3
TRIALS_EACH = 40  # bounded: each trainer completes at most this many


def sanas(address: str, token_file: Path, *args: str, check: bool = True):
    return run_sanas(address, "--token-file", str(token_file), *args, check=check)


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, Path]:
    store = tmp_path / "tokens"
    store.write_text(f"admin {ADMIN_TOKEN} ops\ntrainer {TRAINER_TOKEN} fleet\n")
    admin = tmp_path / "admin.token"
    admin.write_text(ADMIN_TOKEN)
    trainer = tmp_path / "trainer.token"
    trainer.write_text(TRAINER_TOKEN)
    return {"store": store, "admin": admin, "trainer": trainer}


class Trainer(threading.Thread):
    """Completes trials in a bounded loop, recording each acknowledged result (trial id,
    reward) with the time it was acknowledged."""

    def __init__(self, address: str, name: str, acked: list, lock: threading.Lock) -> None:
        super().__init__(name=name, daemon=True)
        self.address, self.acked, self.lock = address, acked, lock
        self.error: BaseException | None = None
        self.held: pb.Trial | None = None  # the trial it holds when it stops

    def run(self) -> None:
        try:
            with Client(self.address, auth_token=TRAINER_TOKEN, client_id=self.name) as c:
                for _ in range(TRIALS_EACH):
                    try:
                        trial = c.suggest_trial("s")
                    except errors.SearchFinished:
                        return
                    reward = round(sum(trial.tokens) / 10 + trial.trial_id / 1000, 6)
                    c.complete_trial("s", trial, reward)
                    with self.lock:
                        self.acked.append((time.monotonic(), trial.trial_id, reward))
                self.held = c.suggest_trial("s")  # left running: an "old trainer"'s trial
        except BaseException as exc:
            self.error = exc


def restored_results(client: Client, study_id: str) -> dict[int, float]:
    return {
        t.trial_id: t.reward
        for t in client.list_trials(study_id)
        if t.state == pb.TRIAL_STATE_SUCCEEDED
    }


def test_backup_mid_run_restores_every_acknowledged_result_as_a_new_incarnation(tmp_path, tokens):
    running = start_server("127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens["store"]])
    fresh = start_server("127.0.0.1", 0, tmp_path / "ck2", tokens_files=[tokens["store"]])
    try:
        # Snapshots every 25 events: the drill crosses several rotations.
        running.controller._snapshot_every = 25
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            old = admin.create_study("s", custom_config([6, 6, 6, 6], search_steps=1000))
        acked: list = []
        lock = threading.Lock()
        trainers = [Trainer(running.address, f"t{i}", acked, lock) for i in range(TRAINERS)]
        for t in trainers:
            t.start()
        while len(acked) < 20:  # mid-run
            time.sleep(0.01)
        with lock:
            before = {trial_id: reward for _, trial_id, reward in acked}
        out = sanas(running.address, tokens["admin"], "backup", "s", "--to", str(tmp_path / "b"))
        assert "backed up study 's'" in out.stdout
        during = len(acked)
        for t in trainers:
            t.join(timeout=120)
            assert not t.is_alive() and t.error is None, t.error
        assert len(acked) > during or len(acked) == TRAINERS * TRIALS_EACH  # kept running
        # The drill crossed snapshot rotations (every max(25, trials) events).
        assert list((tmp_path / "ck" / "studies").glob("s@*/snapshot.json"))
        folder = tmp_path / "b" / "s"
        assert sorted(p.name for p in folder.iterdir()) == [
            "backup.json",
            "journal.log",
            "snapshot.json",
            "study.json",
        ]
        manifest = json.loads((folder / "backup.json").read_text())
        assert manifest["uid"] == old.uid and manifest["format"] == FORMAT_VERSION
        assert manifest["trials"] >= len(before)

        # Into a fresh server under the same id: a new incarnation.
        out = sanas(fresh.address, tokens["admin"], "restore", str(folder))
        assert "restored study 's'" in out.stdout
        with Client(fresh.address, auth_token=ADMIN_TOKEN) as admin:
            restored = admin.get_study("s")
            assert restored.uid and restored.uid != old.uid
            results = restored_results(admin, "s")
        for trial_id, reward in before.items():  # every result acknowledged before
            assert results.get(trial_id) == pytest.approx(reward), trial_id
        assert len(results) <= manifest["trials"]

        # An old trainer's result for the old incarnation's trial is refused as stale.
        held = next(t.held for t in trainers if t.held is not None)
        with Client(fresh.address, auth_token=TRAINER_TOKEN) as old_trainer:
            with pytest.raises(errors.StaleTrialError):
                old_trainer.complete_trial("s", held, 0.5)
            # ... and nothing was written: the restored study goes on for new trainers.
            trial = old_trainer.suggest_trial("s")
            assert trial.study_uid == restored.uid
            old_trainer.complete_trial("s", trial, 0.25)

        # Over an existing id: refused; --as another id, or after a delete: a new uid.
        refused = sanas(running.address, tokens["admin"], "restore", str(folder), check=False)
        assert refused.returncode == 1 and "already exists" in refused.stderr
        sanas(running.address, tokens["admin"], "restore", str(folder), "--as", "s-copy")
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            copy = admin.get_study("s-copy")
            assert copy.uid not in (old.uid, restored.uid)
            assert restored_results(admin, "s-copy") == results  # the same copy
            admin.delete_study("s", purge=True)  # a soft-deleted one still holds the id
        sanas(running.address, tokens["admin"], "restore", str(folder))
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            again = admin.get_study("s")
            assert again.uid not in (old.uid, restored.uid, copy.uid)
            assert restored_results(admin, "s") == results
        # On the same controller too: the old incarnation's trainers are stale.
        for trainer in trainers:
            with Client(running.address, auth_token=TRAINER_TOKEN) as old_trainer:
                with pytest.raises(errors.StaleTrialError):
                    old_trainer.complete_trial("s", trainer.held, 0.5)
    finally:
        running.stop(1)
        fresh.stop(1)


def test_backup_all_restores_a_whole_folder(tmp_path, tokens):
    running = start_server("127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens["store"]])
    fresh = start_server("127.0.0.1", 0, tmp_path / "ck2", tokens_files=[tokens["store"]])
    try:
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            for study_id in ("a", "b"):
                admin.create_study(study_id, custom_config([4, 4], search_steps=10))
                trial = admin.suggest_trial(study_id)
                admin.complete_trial(study_id, trial, 0.5)
        sanas(running.address, tokens["admin"], "backup", "--all", "--to", str(tmp_path / "b"))
        again = sanas(
            running.address,
            tokens["admin"],
            "backup",
            "a",
            "--to",
            str(tmp_path / "b"),
            check=False,
        )
        assert again.returncode == 2 and "exists" in again.stderr  # never overwritten
        sanas(fresh.address, tokens["admin"], "restore", str(tmp_path / "b"))
        with Client(fresh.address, auth_token=ADMIN_TOKEN) as admin:
            assert sorted(s.study_id for s in admin.list_studies()) == ["a", "b"]
            assert all(s.trial_counts.succeeded == 1 for s in admin.list_studies())
    finally:
        running.stop(1)
        fresh.stop(1)


def test_a_trainer_token_may_not_back_up_or_restore(tmp_path, tokens):
    running = start_server(
        "127.0.0.1",
        0,
        tmp_path / "ck",
        tokens_files=[tokens["store"]],
        audit_log=tmp_path / "audit.log",
    )
    try:
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            admin.create_study("s", custom_config([4, 4], search_steps=10))
            header = next(iter(admin.backup_study("s"))).header
        with Client(running.address, auth_token=TRAINER_TOKEN) as trainer:
            with pytest.raises(errors.PermissionDeniedError, match="BackupStudy needs an admin"):
                list(trainer.backup_study("s"))
            with pytest.raises(errors.PermissionDeniedError, match="RestoreStudy needs an admin"):
                trainer.restore_study(header, [], "s2")
        out = sanas(
            running.address,
            tokens["trainer"],
            "backup",
            "s",
            "--to",
            str(tmp_path / "b"),
            check=False,
        )
        assert out.returncode == 1 and "BackupStudy needs an admin token" in out.stderr
        assert not (tmp_path / "b" / "s").exists()
        audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
        summary = [
            (e["action"], e["outcome"], e["role"])
            for e in audit
            if "backup" in e["action"] or "restore" in e["action"]
        ]
        assert ("backup_study", "ok", "admin") in summary
        assert ("backup_study", "denied", "trainer") in summary
        assert ("restore_study", "denied", "trainer") in summary
    finally:
        running.stop(1)


def write_newer_study(root: Path) -> Path:
    """A folder whose study's header has format 99 and whose journal ends in a torn
    record (which this release would cut from a study of its own format)."""
    c = Controller(FileStorage(root))
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(3, 3)),), seed=1))
    c.suggest_trial("s", "t")
    c.close()
    (folder,) = root.glob("studies/*")
    header = json.loads((folder / "study.json").read_text())
    header["format"] = 99
    (folder / "study.json").write_text(json.dumps(header))
    with open(folder / "journal.log", "ab") as f:
        f.write(b"0000 torn")
    return folder


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_study_of_a_newer_format_is_refused_kept_and_reported(tmp_path, tokens):
    folder = write_newer_study(tmp_path / "ck")
    kept = folder_bytes(folder)
    running = start_server(
        "127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens["store"]], metrics_port=0
    )
    try:
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            study = admin.get_study("s")
            assert study.state == pb.STUDY_STATE_BROKEN
            assert "format 99" in study.broken_reason
            assert f"formats 1 to {FORMAT_VERSION}" in study.broken_reason
            assert "delete" not in study.broken_reason.lower()
            with pytest.raises(errors.StudyBrokenError) as info:  # not served
                admin.suggest_trial("s")
            assert "format 99" in str(info.value) and "delete" not in str(info.value).lower()
            with pytest.raises(errors.StudyExistsError) as exists:
                admin.create_study("s", custom_config([3, 3]))
            assert "newer release" in str(exists.value)
            assert "delete it" not in str(exists.value)
            with pytest.raises(errors.StudyBrokenError, match="is not deleted"):
                admin.delete_study("s")
            # Its backup is refused too (it is not served), and a backup of format 99
            # is not restored.
            with pytest.raises(errors.StudyBrokenError):
                list(admin.backup_study("s"))
            header = json.dumps({**json.loads(kept["study.json"]), "study_id": "t"}).encode()
            with pytest.raises(errors.InvalidArgumentError) as refused:
                admin.restore_study(header, [b"{}"])
            assert "format 99" in str(refused.value)
            assert f"formats 1 to {FORMAT_VERSION}" in str(refused.value)
        with urllib.request.urlopen(running.metrics_url, timeout=10) as response:
            text = response.read().decode()
        assert 'sanas_studies{status="broken"} 1.0' in text
        assert 'sanas_study_broken{study="s"} 1.0' in text
    finally:
        running.stop(1)
    assert folder_bytes(folder) == kept  # not a byte changed: no torn tail cut


def test_a_newer_format_study_stays_out_of_the_way_of_the_others(tmp_path):
    write_newer_study(tmp_path)
    c = Controller(FileStorage(tmp_path))
    try:
        c.create_study("other", StudyRequest((SpaceConfig("custom", range_table=(3, 3)),)))
        broken = c.get_study("s")
        assert isinstance(broken, BrokenStudy) and broken.newer_format
        assert [type(s).__name__ for s in c.summaries()].count("BrokenStudy") == 1
    finally:
        c.close()


def make_controller(root: Path, snapshot_every: int = 10_000) -> Controller:
    return Controller(FileStorage(root), snapshot_every=snapshot_every)


def complete(c: Controller, study_id: str, n: int) -> None:
    for _ in range(n):
        trial = c.suggest_trial(study_id, "t")
        c.complete_trial(study_id, trial.trial_id, sum(trial.tokens) / 10, False)


def test_a_backup_is_the_state_at_its_call_whatever_rotations_follow(tmp_path):
    c = make_controller(tmp_path / "a", snapshot_every=5)
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(5, 5, 5)),), seed=3))
    complete(c, "s", 12)
    backup = c.backup_study("s")
    complete(c, "s", 30)  # several rotations before the copy is read
    (tmp_path / "snap").write_bytes(b"".join(backup.snapshot))
    (journal,) = (tmp_path / "a" / "studies").glob("s@*/journal*.log")
    assert journal.name != "journal.log"  # rotated since the backup's capture
    fresh = make_controller(tmp_path / "b")
    try:
        header = json.dumps(backup.header).encode()
        summary = fresh.restore_study("", header, tmp_path / "snap")
        assert summary.uid != backup.header["uid"]
        assert sum(summary.counts.values()) == backup.trial_count == 12
        # Restored as it was: the same trials and rewards, and it goes on the same way
        # (the generator's state came along).
        first = c.list_trials("s", 12, "", None)[0]
        again = fresh.list_trials("s", 12, "", None)[0]
        assert [(t.tokens, t.reward) for t in again] == [(t.tokens, t.reward) for t in first]
    finally:
        c.close()
        fresh.close()
    # A restart of the restored study's server serves it as restored.
    fresh = make_controller(tmp_path / "b")
    try:
        assert fresh.get_study("s").uid == summary.uid
        assert sum(fresh.get_study("s").counts.values()) == 12
    finally:
        fresh.close()


def test_a_damaged_backup_is_refused_and_creates_nothing(tmp_path):
    c = make_controller(tmp_path / "a")
    c.create_study("s", StudyRequest((SpaceConfig("custom", range_table=(5, 5)),), seed=3))
    complete(c, "s", 5)
    backup = c.backup_study("s")
    data = b"".join(backup.snapshot)
    header = json.dumps(backup.header).encode()
    for damaged in (data[: len(data) // 2], data.replace(b'"snapshot"', b'"complete"'), b""):
        (tmp_path / "snap").write_bytes(damaged)
        with pytest.raises(InvalidArgument):
            c.restore_study("t", header, tmp_path / "snap")
    (tmp_path / "snap").write_bytes(data)
    with pytest.raises(InvalidArgument, match="not JSON"):
        c.restore_study("t", b"{", tmp_path / "snap")
    with pytest.raises(StudyNotFound):
        c.get_study("t")
    with pytest.raises(StudyExists, match="delete it first"):
        c.restore_study("", header, tmp_path / "snap")
    assert c.restore_study("t", header, tmp_path / "snap").study_id == "t"
    c.close()


def test_export_is_the_study_and_every_trial_with_its_curve_in_the_public_schema(tmp_path, tokens):
    running = start_server("127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens["store"]])
    try:
        with Client(running.address, auth_token=ADMIN_TOKEN, client_id="t") as admin:
            admin.create_study("s", custom_config([4, 4, 4], search_steps=50))
            for i in range(6):
                trial = admin.suggest_trial("s")
                if i == 2:
                    admin.skip_trial("s", trial, "too big")
                    continue
                for step in (1, 2, 3):
                    admin.report_progress("s", trial, step, step / 10 + i, max_step=3)
                admin.complete_trial("s", trial, 0.3 + i)
            held = admin.suggest_trial("s")  # still running: exported as it is
            study = admin.get_study("s")
        out = tmp_path / "s.json"
        done = sanas(running.address, tokens["trainer"], "export", "s", "-o", str(out))
        assert "exported study 's' (7 trials)" in done.stderr  # a read: a trainer may
        document = json.loads(out.read_text())
        assert (document["format"], document["version"]) == ("sanas.v1.StudyExport", 1)
        # Every field through the schema's own JSON mapping: it parses back losslessly.
        from google.protobuf import json_format

        again = json_format.ParseDict(document["study"], pb.Study())
        assert again.config == study.config and again.uid == study.uid
        trials = [json_format.ParseDict(t, pb.Trial()) for t in document["trials"]]
        states = [t.state for t in trials]
        assert states.count(pb.TRIAL_STATE_SUCCEEDED) == 5
        assert states.count(pb.TRIAL_STATE_SKIPPED) == 1 and trials[-1].trial_id == held.trial_id
        curves = [[m.value for m in t.measurements] for t in trials]
        assert curves[0] == pytest.approx([0.1, 0.2, 0.3]) and curves[5] == pytest.approx(
            [5.1, 5.2, 5.3]
        )
        stdout = sanas(running.address, tokens["trainer"], "export", "s")
        assert json.loads(stdout.stdout)["trials"] == document["trials"]
        missing = sanas(running.address, tokens["trainer"], "export", "nope", check=False)
        assert missing.returncode == 1 and "nope" in missing.stderr
        assert not list(tmp_path.glob(".*partial*"))
    finally:
        running.stop(1)


def test_an_export_under_live_trainers_is_one_state_of_the_study(tmp_path, tokens):
    running = start_server("127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens["store"]])
    acked: list = []
    lock = threading.Lock()
    try:
        with Client(running.address, auth_token=ADMIN_TOKEN) as admin:
            admin.create_study("s", custom_config([9, 9, 9], search_steps=500))
        trainers = [Trainer(running.address, f"t{i}", acked, lock) for i in range(2)]
        for t in trainers:
            t.start()
        documents = []
        for _ in range(3):  # bounded: three exports while the trainers run
            result = sanas(running.address, tokens["admin"], "export", "s", check=False)
            if result.returncode == 0:
                documents.append(json.loads(result.stdout))
            else:  # refused only for a study that never held still, and says what to do
                assert "sanas backup" in result.stderr
        for t in trainers:
            t.join(60)
            assert t.error is None
        assert documents
        for document in documents:
            counts = document["study"].get("trial_counts", {})
            issued = sum(int(v) for v in counts.values())
            assert len(document["trials"]) == issued  # the listing matches the counts
    finally:
        running.stop(1)
