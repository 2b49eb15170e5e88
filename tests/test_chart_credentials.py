"""The Helm chart's credentials (chart 0.4): Secrets the controller reloads in place
rather than restarting for, the tokens file with roles, the trainers' trainer-role token,
the audit log on the checkpoint volume; checked on renders (`helm template`, the Go
checker's strict decode) without a cluster. The rendering helpers are tests/test_deploy.py's.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import pytest
from certs import make_certs
from helpers import ServerProcess, custom_config, wait_until
from test_deploy import (
    CHART,
    CHECK,
    CONTROLLER,
    NAMESPACE,
    OWN_SECRETS,
    RELEASE,
    VALUES_03,
    VALUES_ALL,
    VALUES_GPU,
    VALUES_INSECURE,
    arg_after,
    build_checker,
    by_kind,
    decode,
    env_of,
    helm_binary,
    local_args,
    mounted_files,
    mounts_of,
    pod_specs,
    released_chart,
    run,
    template,
    template_of,
    upgrade_problems,
)

from sanas import Client, errors
from sanas_server.audit import read_audit_log
from sanas_server.credentials import parse_tokens_file


@pytest.fixture(scope="module")
def checker(tmp_path_factory) -> Path:
    return build_checker(tmp_path_factory.mktemp("check"))


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


@pytest.fixture(scope="module")
def default_docs(helm, checker) -> dict[str, list[dict]]:
    return by_kind(decode(checker, template(helm)))


def controller_template(docs: dict) -> dict:
    (sts,) = docs["StatefulSet"]
    return sts["spec"]["template"]


def test_no_mount_uses_subpath(helm, checker):
    """Kubernetes updates a Secret volume in place, except where it is mounted with subPath;
    every reload the server does depends on it."""
    for values in ((), *(("-f", v) for v in (VALUES_ALL, VALUES_GPU, VALUES_INSECURE, VALUES_03))):
        docs = by_kind(decode(checker, template(helm, *values)))
        specs = pod_specs(docs)
        specs.update({f"Pod/{p['metadata']['name']}": p["spec"] for p in docs["Pod"]})
        for where, spec in specs.items():
            for c in spec["containers"]:
                for m in c.get("volumeMounts", []):
                    assert "subPath" not in m and "subPathExpr" not in m, (values, where, m)


def test_new_secrets_keep_the_controller_and_roll_the_trainers(helm, checker):
    """Two renders with generated Secrets hold a new CA, certificate and token each: as
    after a rotation. The controller's pod template is the same (no restart: it reloads
    the files), the trainers' Job is new (a client reads its CA and token once)."""
    one = by_kind(decode(checker, template(helm)))
    two = by_kind(decode(checker, template(helm)))
    secrets = [{s["metadata"]["name"]: s["data"] for s in d["Secret"]} for d in (one, two)]
    assert secrets[0].keys() == secrets[1].keys()
    assert all(secrets[0][name] != secrets[1][name] for name in secrets[0])
    assert controller_template(one) == controller_template(two)
    assert one["Job"][0]["metadata"]["name"] != two["Job"][0]["metadata"]["name"]
    annotations = controller_template(one)["metadata"]["annotations"]
    assert "checksum/secrets" not in annotations and "checksum/config" in annotations


# sanas.secretsChecksum over stand-in data for the generated TLS Secret: a new server
# certificate under the same CA, then a new CA.
CHECKSUM_TEMPLATE = """{{- $name := "nas-sanas-tls" }}
{{- define "tls" }}{{ toYaml (dict "ca.crt" .ca "tls.crt" .crt "tls.key" .key) }}{{ end }}
{{- define "set" }}{{ $_ := set .ctx.Values "_sanasGenerated"
    (dict "nas-sanas-tls" (include "tls" .tls)) }}{{ end }}
{{- include "set" (dict "ctx" . "tls" (dict "ca" "CA1" "crt" "C1" "key" "K1")) }}
ca1: {{ include "sanas.secretsChecksum" (dict "ctx" . "names" (list "nas-sanas-tls/ca.crt")) }}
whole1: {{ include "sanas.secretsChecksum" (dict "ctx" . "names" (list $name)) }}
{{- include "set" (dict "ctx" . "tls" (dict "ca" "CA1" "crt" "C2" "key" "K2")) }}
ca2: {{ include "sanas.secretsChecksum" (dict "ctx" . "names" (list "nas-sanas-tls/ca.crt")) }}
whole2: {{ include "sanas.secretsChecksum" (dict "ctx" . "names" (list $name)) }}
{{- include "set" (dict "ctx" . "tls" (dict "ca" "CA2" "crt" "C2" "key" "K2")) }}
ca3: {{ include "sanas.secretsChecksum" (dict "ctx" . "names" (list "nas-sanas-tls/ca.crt")) }}
"""


def test_a_new_server_certificate_under_the_same_ca_keeps_the_trainers(helm, tmp_path):
    """Trainers mount only the CA of the server's Secret, and their checksum hashes only
    that key: renewing the server certificate (cert-manager, every few weeks) does not
    make the next `helm upgrade` replace them; a new CA does."""
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "checksums.yaml").write_text(CHECKSUM_TEMPLATE)
    res = run(helm, "template", RELEASE, chart, "-n", NAMESPACE,
              "--show-only", "templates/checksums.yaml")  # fmt: skip
    assert res.returncode == 0, res.stderr
    sums = dict(line.split(": ") for line in res.stdout.splitlines() if ": " in line)
    assert sums["ca1"] == sums["ca2"] != sums["ca3"]
    assert sums["whole1"] != sums["whole2"]


def test_own_secrets_leave_the_controller_alone(helm, checker):
    """With your own Secrets, the controller's pod template does not depend on them at
    all (no `lookup` in it): what `kubectl apply` of a rotated Secret does reaches it
    through the volume only."""
    base = controller_template(by_kind(decode(checker, template(helm, *OWN_SECRETS))))
    text = (CHART / "templates" / "statefulset.yaml").read_text()
    assert "secretsChecksum" not in text and "lookup" not in text
    assert base["metadata"]["annotations"].keys() == {
        "prometheus.io/scrape",
        "prometheus.io/port",
        "checksum/config",
    }


# -- tokens with roles ----------------------------------------------------------------------

VALUES_TOKENS = CHECK / "testdata" / "values-tokens.yaml"
ADMIN, FLEET_A, FLEET_B = (
    "3f1c0b8e9a2d4c6b8e0f1a2b3c4d5e6f",
    "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
)  # as in values-tokens.yaml


def container(docs: dict, kind: str) -> tuple[dict, dict]:
    """The pod spec and its one container, of the one object of this kind."""
    (d,) = docs[kind]
    spec = d["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    return spec, c


def tokens_of(docs: dict, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """The controller's tokens, as the server reads them from the rendered files: {token:
    (role, label)}, from --tokens-file and --auth-token-file."""
    spec, c = container(docs, "StatefulSet")
    files = mounted_files(docs, spec, c, tmp_path / "controller")
    out = {}
    cmd = c["command"]
    for i, flag in enumerate(cmd):
        if flag == "--tokens-file":
            text = files[cmd[i + 1]].read_text()
            for line in text.splitlines():
                if line.strip() and not line.startswith("#"):
                    role, token, label = line.split()
                    out[token] = (role, label)
            assert parse_tokens_file(text, "rendered")  # the server's own parser takes it
        if flag == "--auth-token-file" and cmd[i + 1] in files:
            out[files[cmd[i + 1]].read_text().strip()] = ("admin", "auth-token-file")
    return out


def trainer_token(docs: dict, tmp_path: Path) -> str:
    """The token a trainer pod sends: the file SANAS_TOKEN_FILE names, as mounted."""
    spec, c = container(docs, "Job")
    files = mounted_files(docs, spec, c, tmp_path / "trainer")
    return files[env_of(c)["SANAS_TOKEN_FILE"]].read_text().strip()


def test_tokens_values_render_a_tokens_file_and_a_trainer_token(helm, checker, tmp_path):
    docs = by_kind(decode(checker, template(helm, "-f", VALUES_TOKENS)))
    secrets = {s["metadata"]["name"] for s in docs["Secret"]}
    assert secrets == {f"{CONTROLLER}-tokens", f"{CONTROLLER}-trainer-token"}  # TLS: yours
    spec, c = container(docs, "StatefulSet")
    assert arg_after(c["command"], "--tokens-file") == "/etc/sanas/tokens/tokens"
    assert "--auth-token-file" not in c["command"]  # no single admin token any more
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["tokens"]["secret"]["secretName"] == f"{CONTROLLER}-tokens"
    assert mounts_of(c)["tokens"] == "/etc/sanas/tokens"
    assert tokens_of(docs, tmp_path) == {
        ADMIN: ("admin", "ops-2025-06"),
        FLEET_A: ("trainer", "fleet-a"),
        FLEET_B: ("trainer", "fleet-b"),
    }
    # The trainers: fleet-b's token (auth.trainerToken), a trainer's.
    assert trainer_token(docs, tmp_path) == FLEET_B
    # The trainers' Secret holds nothing else: they never see the admin token.
    (trainer_secret,) = [s for s in docs["Secret"] if "trainer" in s["metadata"]["name"]]
    assert list(trainer_secret["data"]) == ["token"]
    # The dashboard: its own Secret (auth.dashboardSecretName).
    dspec, d = container(docs, "Deployment")
    dvolumes = {v["name"]: v for v in dspec["volumes"]}
    assert dvolumes["token"]["secret"]["secretName"] == "sanas-dashboard-grpc-token"
    assert arg_after(d["command"], "--token-file") == "/etc/sanas/token/token"
    # The `helm test` pod asks the health service, which needs no token: it mounts none.
    (pod,) = docs["Pod"]
    assert not any("token" in v["name"] for v in pod["spec"].get("volumes", []))


def test_the_first_trainer_entry_is_the_default_and_the_dashboard_shares_it(
    helm, checker, tmp_path
):
    unset = ("--set", "auth.trainerToken=", "--set", "auth.dashboardSecretName=")
    docs = by_kind(decode(checker, template(helm, "-f", VALUES_TOKENS, *unset)))
    assert trainer_token(docs, tmp_path) == FLEET_A
    dspec, _ = container(docs, "Deployment")
    dvolumes = {v["name"]: v for v in dspec["volumes"]}
    assert dvolumes["token"]["secret"]["secretName"] == f"{CONTROLLER}-trainer-token"


def test_the_default_gives_the_trainers_a_generated_trainer_token(default_docs, tmp_path):
    """Nothing named: the admin token as before (the CLI's, NOTES.txt says where) and a
    generated trainer token for the trainers, listed in the tokens file."""
    tokens = tokens_of(default_docs, tmp_path)
    assert sorted(role for role, _ in tokens.values()) == ["admin", "trainer"]
    token = trainer_token(default_docs, tmp_path)
    assert tokens[token] == ("trainer", "trainers")
    assert len(token) == 48 and token.isalnum()


def test_an_existing_tokens_secret_and_the_trainers_own(helm, checker):
    docs = by_kind(decode(checker, template(helm, *OWN_SECRETS_TOKENS)))
    assert "Secret" not in docs  # all yours
    spec, c = container(docs, "StatefulSet")
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["tokens"]["secret"] == {
        "secretName": "own-tokens",
        "defaultMode": 0o400,
        "items": [{"key": "file", "path": "file"}],
    }
    assert arg_after(c["command"], "--tokens-file") == "/etc/sanas/tokens/file"
    assert "--auth-token-file" not in c["command"]
    tspec, t = container(docs, "Job")
    tvolumes = {v["name"]: v for v in tspec["volumes"]}
    assert tvolumes["token"]["secret"]["secretName"] == "own-trainer-token"
    assert env_of(t)["SANAS_TOKEN_FILE"] == "/etc/sanas/token/token"


OWN_SECRETS_TOKENS = (
    "--set", "tls.secretName=own-tls",
    "--set", "auth.existingSecret=own-tokens",
    "--set", "auth.existingSecretKey=file",
    "--set", "auth.trainerSecretName=own-trainer-token",
)  # fmt: skip


def test_the_single_token_values_of_chart_0_3_still_render(helm, checker, tmp_path):
    """auth.secretName alone: the one admin token, passed and mounted as in chart 0.3 (the
    trainers hold it: NOTES.txt says to move to a tokens file)."""
    for values in (("-f", VALUES_03), ("-f", VALUES_ALL), OWN_SECRETS):
        docs = by_kind(decode(checker, template(helm, *values)))
        _, c = container(docs, "StatefulSet")
        assert "--tokens-file" not in c["command"], values
        assert arg_after(c["command"], "--auth-token-file") == "/etc/sanas/token/token"
        assert not any(s["metadata"]["name"].endswith("tokens") for s in docs.get("Secret", []))
    # With a tokens file too, that token stays valid beside it (the way to migrate).
    docs = by_kind(decode(checker, template(helm, "-f", VALUES_TOKENS,
                                            "--set", "auth.secretName=sanas-token")))  # fmt: skip
    _, c = container(docs, "StatefulSet")
    assert arg_after(c["command"], "--auth-token-file") == "/etc/sanas/token/token"
    assert arg_after(c["command"], "--tokens-file") == "/etc/sanas/tokens/tokens"
    assert trainer_token(docs, tmp_path) == FLEET_B  # still a trainer's, not that admin token


def test_bad_token_values_fail_the_render_with_a_message(helm, tmp_path):
    def entry(i: int, name: str, role: str, token: str) -> tuple[str, ...]:
        return ("--set", f"auth.tokens[{i}].name={name}", "--set", f"auth.tokens[{i}].role={role}",
                "--set-string", f"auth.tokens[{i}].token={token}")  # fmt: skip

    admin = entry(0, "ops", "admin", ADMIN)
    for values, message in [
        (entry(0, "ops", "root", ADMIN),
         'auth.tokens[0] (ops): role "root": want admin or trainer'),
        (entry(0, "ops", "trainer", ""), "auth.tokens[0] (ops): the token must be 16 or more"),
        (entry(0, "ops", "trainer", "short"), "the token must be 16 or more"),
        (entry(0, "ops", "trainer", "with space 0123456789"), "without spaces"),
        (entry(0, "bad name", "trainer", FLEET_A), "auth.tokens[0] (bad name): want a name"),
        (admin, "auth.tokens has no trainer token for the trainers"),
        (admin + entry(1, "ops", "trainer", FLEET_A), 'the name "ops" is given twice'),
        (admin + entry(1, "fleet", "trainer", ADMIN), "ops and fleet hold the same token"),
        (admin + entry(1, "fleet", "trainer", FLEET_A) + ("--set", "auth.trainerToken=ops"),
         'auth.trainerToken "ops" has role admin: trainers get a trainer token, never an admin'),
        (admin + entry(1, "fleet", "trainer", FLEET_A) + ("--set", "auth.trainerToken=nobody"),
         'auth.trainerToken "nobody": no entry of auth.tokens has that name'),
        ((*admin, "--set", "auth.existingSecret=own"), "both set"),
        (("--set", "auth.existingSecret=own"), "auth.existingSecret needs auth.trainerSecretName"),
        # A token of your own for the trainers is one the controller must know: a tokens file.
        (("--set", "auth.trainerSecretName=mine"),
         "auth.trainerSecretName needs auth.tokens or auth.existingSecret"),
        (("--set", "auth.secretName=one", "--set", "auth.dashboardSecretName=mine"),
         "auth.dashboardSecretName needs auth.tokens or auth.existingSecret"),
        (("--set", "auth.existingSecret=own", "--set", "trainers.enabled=false",
          "--set", "dashboard.enabled=true"),
         "auth.existingSecret needs auth.trainerSecretName for the dashboard"),
    ]:  # fmt: skip
        res = run(helm, "template", RELEASE, CHART, "-n", NAMESPACE, *values)
        assert res.returncode != 0 and message in res.stderr, (values, res.stderr)
        for secret in (ADMIN, FLEET_A):  # messages name entries, never their tokens
            assert secret not in res.stderr
    # A token YAML reads as a number would be written as another string: refused.
    numeric = tmp_path / "numeric.yaml"
    numeric.write_text(
        "auth:\n  tokens:\n    - {name: numbers, role: trainer, token: 12345678901234567}\n"
    )
    res = run(helm, "template", RELEASE, CHART, "-n", NAMESPACE, "-f", numeric)
    assert res.returncode != 0 and "the token must be a string: quote it" in res.stderr
    numeric.write_text(f"auth:\n  tokens:\n    - {{name: n, role: trainer, token: {FLEET_A}}}\n")
    res = run(helm, "template", RELEASE, CHART, "-n", NAMESPACE, "-f", numeric)
    assert res.returncode != 0 and "(false): the name must be a string" in res.stderr
    # Without trainers or a dashboard, an admin token alone is fine.
    res = run(helm, "template", RELEASE, CHART, "-n", NAMESPACE, *admin,
              "--set", "trainers.enabled=false")  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_helm_lint_with_tokens(helm):
    for values in (("-f", VALUES_TOKENS), OWN_SECRETS_TOKENS):
        res = run(helm, "lint", "--strict", CHART, *values)
        assert res.returncode == 0 and "0 chart(s) failed" in res.stdout, res.stdout + res.stderr


# -- a rotation, as Kubernetes does it, against a real controller ----------------------------


def kubelet_write(folder: Path, files: dict[str, bytes]) -> None:
    """Write a Secret volume the way the kubelet does (its AtomicWriter): the data in a new
    timestamped folder, `..data` renamed over to point at it, each key a symlink through
    `..data`; so a path keeps its name and its file is replaced in one step. A subPath
    mount would instead keep the first file for the container's life."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / f"..{time.time_ns()}"
    stamp.mkdir()
    for key, value in files.items():
        (stamp / key).write_bytes(value)
    data = folder / "..data"
    old = data.resolve() if data.is_symlink() else None
    (folder / "..data_tmp").symlink_to(stamp.name)
    os.replace(folder / "..data_tmp", data)
    for key in files:
        if not (folder / key).is_symlink():
            (folder / key).symlink_to(Path("..data") / key)
    if old is not None:
        shutil.rmtree(old)


def reloads(audit_log: Path) -> list[dict]:
    if not audit_log.exists():
        return []
    return [e for e in read_audit_log(audit_log) if e["action"] == "reload_tokens"]


def test_a_token_rotation_reloads_the_controller_in_place(helm, checker, tmp_path):
    """The runbook of docs/operations.md on a real server started with the rendered flags,
    its tokens Secret laid out as the kubelet does and updated in place: add a trainer
    token (both valid), move the trainers to it (their Job is replaced: new pods, new
    token), remove the old one; the controller process never restarts and its pod
    template never changes, and each reload is in the audit log."""
    certs = make_certs(tmp_path / "certs")
    tls = {
        "/etc/sanas/tls/tls.crt": certs.server_cert,
        "/etc/sanas/tls/tls.key": certs.server_key,
        "/etc/sanas/tls/ca.crt": certs.ca,
    }
    fleet_c = "c0ffee00c0ffee00c0ffee00c0ffee00"

    def render(tokens: list[tuple[str, str, str]], trainer: str) -> dict:
        values = tmp_path / "values.yaml"
        values.write_text(
            "auth:\n  tokens:\n"
            + "".join(f"    - {{name: {n}, role: {r}, token: '{t}'}}\n" for n, r, t in tokens)
            + f"  trainerToken: {trainer}\n"
        )
        return by_kind(decode(checker, template(helm, "-f", VALUES_TOKENS, "-f", values)))

    ops, a = ("ops", "admin", ADMIN), ("fleet-a", "trainer", FLEET_A)
    b, c = ("fleet-b", "trainer", FLEET_B), ("fleet-c", "trainer", fleet_c)
    steps = [
        render([ops, a, b], "fleet-b"),  # as installed
        render([ops, a, b, c], "fleet-b"),  # 1. add the new token: both valid
        render([ops, a, b, c], "fleet-c"),  # 2. move the trainers to it
        render([ops, a, c], "fleet-c"),  # 3. remove the old one
    ]
    # The controller's pod never changes; the trainers' Job changes with their token only.
    assert all(controller_template(s) == controller_template(steps[0]) for s in steps)
    jobs = [s["Job"][0]["metadata"]["name"] for s in steps]
    assert jobs[0] == jobs[1] != jobs[2] == jobs[3]
    assert [trainer_token(s, tmp_path / str(i)) for i, s in enumerate(steps)] == [
        FLEET_B,
        FLEET_B,
        fleet_c,
        fleet_c,
    ]

    def tokens_file(docs: dict) -> bytes:
        (secret,) = [s for s in docs["Secret"] if s["metadata"]["name"] == f"{CONTROLLER}-tokens"]
        return base64.b64decode(secret["data"]["tokens"])

    _, controller = container(steps[0], "StatefulSet")
    volume = tmp_path / "kubelet" / "tokens"
    kubelet_write(volume, {"tokens": tokens_file(steps[0])})
    files = {**tls, "/etc/sanas/tokens/tokens": volume / "tokens"}
    ckpt = tmp_path / "ckpt"  # the checkpoint volume, /var/lib/sanas
    server = ServerProcess(ckpt, extra=local_args(controller["command"], ckpt, files))
    assert arg_after(controller["command"], "--audit-log") == "/var/lib/sanas/audit.log"
    audit = ckpt / "audit.log"
    port = server.address.rsplit(":", 1)[1]

    def client(token: str, name: str) -> Client:
        return Client(f"localhost:{port}", tls_ca_file=certs.ca, auth_token=token,
                      client_id=name, timeout=10, retry_timeout=5)  # fmt: skip

    def reloaded(count: int, added: list[str], removed: list[str]) -> None:
        wait_until(lambda: len(reloads(audit)) >= count, timeout=20)  # polled every 5 s
        last = reloads(audit)[-1]
        assert last["outcome"] == "ok"
        assert [p["label"] for p in last["added"]] == added
        assert [p["label"] for p in last["removed"]] == removed

    config = custom_config([4, 4, 4], search_steps=50)
    try:
        with client(ADMIN, "ops") as ops, client(FLEET_B, "trainer-b") as old:
            ops.create_study("s", config)
            old.create_study("s", config)  # a trainer joins what exists
            trial = old.suggest_trial("s")
            with pytest.raises(errors.PermissionDeniedError):
                old.delete_study("s")
            # 1: fleet-c added; both trainer tokens work.
            kubelet_write(volume, {"tokens": tokens_file(steps[1])})
            reloaded(1, ["fleet-c"], [])
            old.complete_trial("s", trial, 0.5)
            with client(fleet_c, "trainer-c") as new:
                new.create_study("s", config)
                # 2: the trainers move (their Job is new); nothing changes for the controller.
                new_trial = new.suggest_trial("s")
                # 3: fleet-b removed; its holder is told it was rotated out.
                kubelet_write(volume, {"tokens": tokens_file(steps[3])})
                reloaded(2, [], ["fleet-b"])
                with pytest.raises(errors.UnauthenticatedError, match="removed"):
                    old.suggest_trial("s")
                new.complete_trial("s", new_trial, 0.7)
        assert server.proc.poll() is None  # the same process throughout
        assert not any(t in audit.read_text() for t in (ADMIN, FLEET_A, FLEET_B, fleet_c))
        # Who created and who was refused the delete, by label, on the volume.
        actions = [(e["action"], e["outcome"], e.get("token")) for e in read_audit_log(audit)]
        assert ("create_study", "ok", "ops") in actions
        assert ("create_study", "joined", "fleet-b") in actions
        assert ("delete_study", "denied", "fleet-b") in actions
    finally:
        server.close()


def test_the_audit_log_is_on_the_checkpoint_volume(helm, checker, default_docs):
    spec, c = container(default_docs, "StatefulSet")
    path = arg_after(c["command"], "--audit-log")
    assert path == "/var/lib/sanas/audit.log"  # where chart 0.3's server put it by default
    assert path.startswith(mounts_of(c)["checkpoints"] + "/")
    (claim,) = default_docs["StatefulSet"][0]["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "checkpoints"  # a PVC: it outlives the pod
    assert "checkpoints" not in {v["name"] for v in spec["volumes"]}
    docs = by_kind(
        decode(checker, template(helm, "--set", "controller.auditLogPath=/var/lib/sanas/a/b.log"))
    )
    _, c = container(docs, "StatefulSet")
    assert arg_after(c["command"], "--audit-log") == "/var/lib/sanas/a/b.log"
    for bad in ("/tmp/audit.log", "/var/lib/sanas/studies/audit.log", "/var/lib/sanas/../x",
                "/var/lib/sanas/sanas.lock", "audit.log"):  # fmt: skip
        res = run(helm, "template", RELEASE, CHART, "--set", f"controller.auditLogPath={bad}")
        assert res.returncode != 0, bad
        assert f'controller.auditLogPath "{bad}": want a file on the checkpoint volume' in (
            res.stderr
        )


def notes(helm, tmp_path: Path, *args: str | Path) -> str:
    """NOTES.txt as rendered (a copy of the chart renders it as an ordinary template)."""
    chart = tmp_path / "sanas"
    if not chart.exists():
        shutil.copytree(CHART, chart)
        text = (chart / "templates" / "NOTES.txt").read_text()
        (chart / "templates" / "_notes.tpl").write_text(
            '{{- define "notes" -}}' + text + "{{- end -}}"
        )
        (chart / "templates" / "notes.yaml").write_text(
            'notes: |\n  {{- include "notes" . | nindent 2 }}\n'
        )
    res = run(helm, "template", RELEASE, chart, "-n", NAMESPACE, *args,
              "--show-only", "templates/notes.yaml")  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_notes_say_where_the_tokens_are_and_warn_about_an_admin_token_in_trainers(helm, tmp_path):
    text = notes(helm, tmp_path, "-f", VALUES_TOKENS)
    assert f"Tokens: the tokens file in Secret {CONTROLLER}-tokens;" in text
    assert f"Secret {CONTROLLER}-trainer-token." in text
    assert "(token: an admin token of yours)" in text
    assert "get secret nas-sanas-token " not in text  # nothing generated to fetch
    legacy = notes(helm, tmp_path, "-f", VALUES_03)
    assert "NOTE: auth.secretName holds the only token, an admin's" in legacy
    default = notes(helm, tmp_path)
    assert "NOTE:" not in default
    assert f"get secret {CONTROLLER}-token -o jsonpath" in default  # the admin token, as before
    assert f"and the admin token in {CONTROLLER}-token" in default
    assert f"  kubectl -n nas exec {CONTROLLER}-0 -- tail /var/lib/sanas/audit.log\n" in default


def test_moving_from_the_single_token_to_a_tokens_file_is_a_valid_upgrade(helm, checker):
    """Chart 0.3's single token (its values-gpu.yaml) upgraded to this chart with a tokens
    file in the same step: Kubernetes accepts every change (the trainers' Job is a new
    one: a new token for them), and the controller keeps its StatefulSet and volume."""
    before = decode(checker, template_of(helm, released_chart(), "-f", VALUES_03))
    after = decode(checker, template(helm, "-f", VALUES_03, "-f", VALUES_TOKENS))
    assert upgrade_problems(before, after) == []
    names = [{(d["kind"], d["metadata"]["name"]) for d in docs} for docs in (before, after)]
    assert ("StatefulSet", CONTROLLER) in names[0] & names[1]
    (old_job,) = [n for k, n in names[0] if k == "Job"]
    (new_job,) = [n for k, n in names[1] if k == "Job"]
    assert old_job != new_job
