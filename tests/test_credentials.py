"""Day-2 credentials: TLS certificates and tokens rotated under live trainers (SIGHUP and
file changes, on a real server process), roles (a trainer token may not create, delete
or import), the audit log, and bad files at reload keeping the old credentials."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from certs import make_certs, reissue_server_cert
from helpers import CHECKOUT_ENV, SERVER_BIN, ServerProcess, custom_config, wait_until

from sanas import Client, SearchFinished, errors
from sanas.v1 import sanas_pb2 as pb
from sanas_server.audit import read_audit_log
from sanas_server.credentials import CredentialError, parse_tokens_file
from sanas_server.server import TlsFiles, start_server

ADMIN_TOKEN = "admin-token-0123456789"
OLD_TOKEN = "trainer-token-old-0123456789"
NEW_TOKEN = "trainer-token-new-0123456789"


def replace(path: Path, data: bytes | str) -> None:
    """Write aside and rename over, as a deploy tool (or a Kubernetes secret) does."""
    aside = path.with_name(path.name + ".new")
    aside.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(aside, path)


def served_certificate(port: int, ca: Path) -> bytes:
    """The DER certificate a new TLS connection to the server is shown."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(pem_path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_path.read_text())


class Trainer(threading.Thread):
    """Completes trials until the study is done, its token is refused, or a deadline;
    keeps every result the controller acknowledged."""

    def __init__(self, address: str, ca: Path, token: str, name: str, deadline: float) -> None:
        super().__init__(name=name, daemon=True)
        self.client = Client(address, tls_ca_file=ca, auth_token=token, client_id=name, timeout=10)
        self.deadline = deadline
        self.acknowledged: dict[int, float] = {}
        self.refused: errors.UnauthenticatedError | None = None
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline and not self.stop.is_set():
                try:
                    trial = self.client.next_trial("s", max_poll=0.5)
                except SearchFinished:
                    return
                reward = round(sum(trial.tokens) / 10 + trial.trial_id / 1000, 6)
                time.sleep(0.1)  # "training"
                self.client.complete_trial("s", trial, reward)
                self.acknowledged[trial.trial_id] = reward
        except errors.UnauthenticatedError as exc:
            self.refused = exc
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.client.close()


def test_certificate_and_token_rotated_under_live_trainers(tmp_path, server_process):
    certs = make_certs(tmp_path / "certs")
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "server.pem", live / "server.key"
    replace(cert, certs.server_cert.read_bytes())
    replace(key, certs.server_key.read_bytes())
    tokens = live / "tokens"
    replace(tokens, f"admin {ADMIN_TOKEN} ops\ntrainer {OLD_TOKEN} fleet-old\n")
    server = server_process(
        extra=(
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--tokens-file",
            str(tokens),
            # Only SIGHUP reloads within this test's time: the signal does the work.
            "--credentials-poll-seconds",
            "3600",
        )
    )
    port = int(server.address.rsplit(":", 1)[1])
    assert served_certificate(port, certs.ca) == der(certs.server_cert)
    budget = 150
    with Client(server.address, tls_ca_file=certs.ca, auth_token=ADMIN_TOKEN) as admin:
        admin.create_study("s", custom_config([8, 8, 8], search_steps=budget, lease_seconds=2))
    deadline = time.monotonic() + 90
    old = [Trainer(server.address, certs.ca, OLD_TOKEN, f"old-{i}", deadline) for i in range(3)]
    for t in old:
        t.start()

    def done() -> int:
        return sum(len(t.acknowledged) for t in old)

    wait_until(lambda: done() >= 8 or any(t.error or t.refused for t in old), timeout=30)
    assert not [t.error or t.refused for t in old if t.error or t.refused]

    # 1. A new certificate (same CA), swapped in under the running trainers.
    new_cert, new_key = reissue_server_cert(certs, tmp_path / "rotated")
    replace(key, new_key.read_bytes())
    replace(cert, new_cert.read_bytes())
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: served_certificate(port, certs.ca) == der(new_cert), timeout=10)
    at_cert_rotation = done()
    wait_until(lambda: done() >= at_cert_rotation + 8, timeout=30)  # they carry on

    # 2. A new trainer token next to the old one: both work; new trainers join.
    replace(
        tokens,
        f"admin {ADMIN_TOKEN} ops\ntrainer {OLD_TOKEN} fleet-old\ntrainer {NEW_TOKEN} fleet-new\n",
    )
    server.proc.send_signal(signal.SIGHUP)

    def new_token_works() -> bool:
        with Client(server.address, tls_ca_file=certs.ca, auth_token=NEW_TOKEN) as c:
            try:
                c.get_study("s")
                return True
            except errors.UnauthenticatedError:
                return False

    wait_until(new_token_works, timeout=10)
    new = [Trainer(server.address, certs.ca, NEW_TOKEN, f"new-{i}", deadline) for i in range(2)]
    for t in new:
        t.start()
    assert all(t.is_alive() and t.refused is None for t in old)

    # 3. The old token removed: its trainers are refused, saying so; the new ones finish.
    replace(tokens, f"admin {ADMIN_TOKEN} ops\ntrainer {NEW_TOKEN} fleet-new\n")
    server.proc.send_signal(signal.SIGHUP)
    for t in old:
        t.join(timeout=30)
        assert not t.is_alive()
        assert t.error is None, t.error
        assert t.refused is not None, "the removed token went on working"
        assert t.refused.code == "UNAUTHENTICATED"
        assert "removed" in str(t.refused) and "fleet-old" in str(t.refused)
        assert OLD_TOKEN not in str(t.refused)
    for t in new:
        t.join(timeout=60)
        assert not t.is_alive() and t.error is None and t.refused is None, t.error

    assert server.proc.poll() is None, "a SIGHUP ended the server"
    with Client(server.address, tls_ca_file=certs.ca, auth_token=ADMIN_TOKEN) as admin:
        study = admin.get_study("s")
        trials = {t.trial_id: t for t in admin.list_trials("s")}
    acknowledged = {k: v for t in old + new for k, v in t.acknowledged.items()}
    assert study.trial_counts.succeeded == budget == len(acknowledged)
    for trial_id, reward in acknowledged.items():
        assert trials[trial_id].state == pb.TRIAL_STATE_SUCCEEDED
        assert trials[trial_id].reward == pytest.approx(reward)
    assert sum(len(t.acknowledged) for t in new) > 0
    assert server.terminate() == 0
    audit = read_audit_log(server.checkpoint_dir / "audit.log")
    reloads = [e for e in audit if e["action"] in ("reload_tls", "reload_tokens")]
    assert [e["outcome"] for e in reloads if e["action"] == "reload_tls"].count("ok") >= 1
    removed = [e for e in reloads if e["action"] == "reload_tokens" and e.get("removed")]
    assert removed and removed[-1]["removed"][0]["label"] == "fleet-old"
    text = (server.checkpoint_dir / "audit.log").read_text()
    assert OLD_TOKEN not in text and NEW_TOKEN not in text and ADMIN_TOKEN not in text


@pytest.fixture
def role_server(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(
        "# who may do what\n"
        f"admin {ADMIN_TOKEN} ops\n"
        f"trainer {OLD_TOKEN} fleet-a\n"
        f"trainer {NEW_TOKEN}\n"  # no label: named by its fingerprint
    )
    running = start_server("127.0.0.1", 0, tmp_path / "ck", tokens_files=[tokens])
    yield running
    running.stop(1)


def test_a_trainer_token_may_not_create_delete_or_import(role_server, tmp_path):
    address = role_server.address
    config = custom_config([3, 3], search_steps=10)
    with Client(address, auth_token=ADMIN_TOKEN, client_id="operator") as admin:
        admin.create_study("s", config)
        first = admin.suggest_trial("s")
        admin.complete_trial("s", first, 0.25)
        before = admin.get_study("s")
        trials_before = list(admin.list_trials("s"))
    with Client(address, auth_token=OLD_TOKEN, client_id="trainer-7") as trainer:
        with pytest.raises(
            errors.PermissionDeniedError, match="DeleteStudy needs an admin"
        ) as info:
            trainer.delete_study("s")
        assert info.value.code == "PERMISSION_DENIED"
        assert info.value.reason == "ERROR_REASON_PERMISSION_DENIED"
        with pytest.raises(errors.PermissionDeniedError, match="needs an admin token"):
            trainer.create_study("other", config)
        with pytest.raises(errors.PermissionDeniedError):
            trainer.create_study("s", custom_config([3, 3], search_steps=11))  # other config
        with pytest.raises(errors.PermissionDeniedError):
            trainer.import_paddleslim_checkpoint("imported", '{"_iter": 0}', config)
        # What a trainer may do: join the study as created, train, read.
        assert trainer.create_study("s", config).study_id == "s"
        trial = trainer.suggest_trial("s")
        trainer.report_progress("s", trial, 1, 0.1)
        trainer.heartbeat_trial("s", trial)
        trainer.complete_trial("s", trial, 0.5)
        assert [s.study_id for s in list(trainer.list_studies())] == ["s"]
    with Client(address, auth_token=ADMIN_TOKEN) as admin:
        after = admin.get_study("s")
        assert after.uid == before.uid  # not deleted and created again
        assert after.trial_counts.succeeded == before.trial_counts.succeeded + 1
        assert [t.trial_id for t in admin.list_trials("s")][: len(trials_before)] == [
            t.trial_id for t in trials_before
        ]
        with pytest.raises(errors.StudyNotFoundError):
            admin.get_study("other")
        admin.delete_study("s")
    audit = read_audit_log(tmp_path / "ck" / "audit.log")
    summary = [(e["action"], e["study_id"], e["outcome"], e["role"], e["token"]) for e in audit]
    assert summary == [
        ("create_study", "s", "ok", "admin", "ops"),
        ("delete_study", "s", "denied", "trainer", "fleet-a"),
        ("create_study", "other", "denied", "trainer", "fleet-a"),
        ("create_study", "s", "denied", "trainer", "fleet-a"),
        ("import_study", "imported", "denied", "trainer", "fleet-a"),
        ("create_study", "s", "joined", "trainer", "fleet-a"),
        ("delete_study", "s", "ok", "admin", "ops"),
    ]
    denied_delete = audit[1]
    assert denied_delete["client_id"] == "trainer-7"
    assert denied_delete["peer"].startswith("ipv4:127.0.0.1:")
    assert denied_delete["token_fingerprint"].startswith("sha256:")
    assert denied_delete["time"].endswith("+00:00")
    text = (tmp_path / "ck" / "audit.log").read_text()
    assert ADMIN_TOKEN not in text and OLD_TOKEN not in text


def test_unauthenticated_admin_calls_are_audited_and_the_token_not_logged(role_server, tmp_path):
    with Client(role_server.address, auth_token="not-a-token-at-all") as stranger:
        with pytest.raises(errors.UnauthenticatedError, match="missing or wrong bearer token"):
            stranger.delete_study("s")
    (line,) = read_audit_log(tmp_path / "ck" / "audit.log")
    assert (line["action"], line["outcome"], line["role"]) == (
        "delete_study",
        "unauthenticated",
        None,
    )
    assert "not-a-token-at-all" not in (tmp_path / "ck" / "audit.log").read_text()


def test_a_changed_tokens_file_is_picked_up_without_a_signal(tmp_path):
    single = tmp_path / "token"
    single.write_text("first-admin-token\n")
    running = start_server(
        "127.0.0.1", 0, tmp_path / "ck", auth_token_file=single, credentials_poll_seconds=0.2
    )
    try:
        with Client(running.address, auth_token="first-admin-token") as c:
            c.create_study("s", custom_config([3]))  # a single token is an admin, as before
        replace(single, "second-admin-token\n")

        def rotated() -> bool:
            with Client(running.address, auth_token="second-admin-token") as c:
                try:
                    return c.get_study("s").study_id == "s"
                except errors.UnauthenticatedError:
                    return False

        wait_until(rotated, timeout=10)
        with Client(running.address, auth_token="first-admin-token") as c:
            with pytest.raises(errors.UnauthenticatedError, match=r"was removed .* \(rotated\)"):
                c.get_study("s")
    finally:
        running.stop(1)


def test_bad_files_at_reload_keep_the_old_credentials(tmp_path):
    certs = make_certs(tmp_path / "certs")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    replace(cert, certs.server_cert.read_bytes())
    replace(key, certs.server_key.read_bytes())
    tokens = tmp_path / "tokens"
    replace(tokens, f"admin {ADMIN_TOKEN}\ntrainer {OLD_TOKEN} fleet-a\n")
    server = ServerProcess(
        tmp_path / "ck",
        extra=(
            "--tls-cert", str(cert), "--tls-key", str(key), "--tokens-file", str(tokens),
            "--credentials-poll-seconds", "3600",
        ),
    )  # fmt: skip
    try:
        port = int(server.address.rsplit(":", 1)[1])
        # Malformed: an unknown role, and a new token that must not become valid.
        replace(tokens, f"admin {ADMIN_TOKEN}\nsuperuser {NEW_TOKEN}\n")
        # A certificate that is not PEM.
        replace(cert, b"-----BEGIN CERTIFICATE-----\nnot a certificate\n")
        for _ in range(3):  # SIGHUP again and again never ends it
            server.proc.send_signal(signal.SIGHUP)
        audit_path = tmp_path / "ck" / "audit.log"

        def failures() -> set[str]:
            if not audit_path.exists():
                return set()
            return {e["action"] for e in read_audit_log(audit_path) if e.get("outcome") == "failed"}

        wait_until(lambda: failures() == {"reload_tokens", "reload_tls"}, timeout=10)
        assert served_certificate(port, certs.ca) == der(certs.server_cert)  # the old one
        with Client(server.address, tls_ca_file=certs.ca, auth_token=OLD_TOKEN) as c:
            assert list(c.list_studies()) == []  # the old trainer token still works
        with Client(server.address, tls_ca_file=certs.ca, auth_token=NEW_TOKEN) as c:
            with pytest.raises(errors.UnauthenticatedError):
                list(c.list_studies())
        # A certificate whose key is not its key: refused too.
        other_cert, _ = reissue_server_cert(certs, tmp_path / "other")
        replace(cert, other_cert.read_bytes())
        server.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: (
                sum(
                    e.get("outcome") == "failed" and e["action"] == "reload_tls"
                    for e in read_audit_log(audit_path)
                )
                >= 2
            ),
            timeout=10,
        )
        assert served_certificate(port, certs.ca) == der(certs.server_cert)
        # Repaired: the next reload takes them.
        replace(cert, certs.server_cert.read_bytes())
        replace(tokens, f"admin {ADMIN_TOKEN}\ntrainer {NEW_TOKEN} fleet-b\n")
        server.proc.send_signal(signal.SIGHUP)

        def new_token_works() -> bool:
            with Client(server.address, tls_ca_file=certs.ca, auth_token=NEW_TOKEN) as c:
                try:
                    return list(c.list_studies()) == []
                except errors.UnauthenticatedError:
                    return False

        wait_until(new_token_works, timeout=10)
        assert server.proc.poll() is None
        assert server.terminate() == 0
        stderr = server.proc.stderr.read()
        assert "tokens not reloaded, keeping the 2 loaded before" in stderr
        assert "unknown role" in stderr and "line 2" in stderr
        assert "TLS certificate not reloaded, keeping the one loaded before" in stderr
        assert NEW_TOKEN not in stderr and OLD_TOKEN not in stderr
    finally:
        server.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no token"),
        ("# only a comment\n\n", "holds no token"),
        ("secret-alone-on-its-line\n", "line 1: 1 fields"),
        ("root secret-x\n", "line 1: unknown role"),
        ("admin secret-x a b\n", "line 1: 4 fields"),
        ("admin secret-x\ntrainer secret-x\n", "line 2: the same token as line 1"),
    ],
)
def test_malformed_tokens_files_are_refused_without_echoing_the_token(text, message):
    with pytest.raises(CredentialError, match=message) as info:
        parse_tokens_file(text, "tokens")
    assert "secret" not in str(info.value)


def test_tokens_file_roles_and_labels():
    parsed = parse_tokens_file("ADMIN a1 ops\n  trainer t1  \n", "tokens")
    principals = sorted((p.role, p.label.split(":")[0]) for p in parsed.values())
    assert principals == [("admin", "ops"), ("trainer", "sha256")]


def test_server_cli_documents_the_new_flags():
    import subprocess

    shown = subprocess.run(
        [str(SERVER_BIN), "--help"], capture_output=True, text=True, timeout=30, env=CHECKOUT_ENV
    )
    for flag in ("--tokens-file", "--audit-log", "--credentials-poll-seconds"):
        assert flag in shown.stdout
    assert TlsFiles  # the TLS files are the same flags as before


def test_sighup_reopens_a_rotated_audit_log(role_server, tmp_path):
    audit = tmp_path / "ck" / "audit.log"
    with Client(role_server.address, auth_token=ADMIN_TOKEN) as admin:
        admin.create_study("before", custom_config([3]))
        audit.rename(tmp_path / "audit.log.1")  # what logrotate does
        role_server.reload_credentials()  # what SIGHUP calls
        wait_until(audit.exists, timeout=10)
        admin.create_study("after", custom_config([3]))
    for path, studies in ((tmp_path / "audit.log.1", ["before"]), (audit, ["after"])):
        lines = read_audit_log(path)
        assert [e["study_id"] for e in lines if e["action"] == "create_study"] == studies
