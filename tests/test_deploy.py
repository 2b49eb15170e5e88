"""The Kubernetes deployment, checked without a cluster: `helm lint`, `helm template` with
the default values (TLS and a token, generated), with everything on and with
`insecure: true`, every rendered manifest strict-decoded into the real k8s.io/api types
(deploy/check, in Go), BuildKit's Dockerfile lint on the two images, and the TLS health
probe the chart uses run against a real TLS server, with the generated certificate too.

`make test` installs the pinned helm and builds the checker first (`make deploy-tools`);
here the checker is rebuilt from source with `go build` (a relink on a warm cache)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from certs import make_certs
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import ROOT, ServerProcess

CHART = ROOT / "deploy" / "chart" / "sanas"
CHECK = ROOT / "deploy" / "check"
VALUES_ALL = CHECK / "testdata" / "values-all.yaml"
VALUES_GPU = ROOT / "deploy" / "examples" / "values-gpu.yaml"
VALUES_03 = CHECK / "testdata" / "values-0.3.yaml"  # values-gpu.yaml as chart 0.3.0 had it
VALUES_INSECURE = CHECK / "testdata" / "values-insecure.yaml"
HELM = ROOT / ".tools" / "bin" / "helm"
DOCKERFILES = [
    ROOT / "deploy" / "images" / "controller" / "Dockerfile",
    ROOT / "deploy" / "images" / "trainer" / "Dockerfile",
]
RELEASE, NAMESPACE = "nas", "nas"
CONTROLLER = "nas-sanas"


def build_checker(folder: Path) -> Path:
    if shutil.which("go") is None:
        pytest.fail("go is not installed (see tools/system_deps.sh)")
    out = folder / "sanas-deploy-check"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=CHECK, check=True, timeout=900)
    return out


def helm_binary() -> Path:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: `make deploy-tools` installs it (pinned)")
    return HELM


@pytest.fixture(scope="module")
def checker(tmp_path_factory) -> Path:
    return build_checker(tmp_path_factory.mktemp("check"))


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


def run(*cmd: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd], input=stdin, capture_output=True, text=True, timeout=120
    )


def template(helm: Path, *args: str | Path) -> str:
    return template_of(helm, CHART, *args)


def template_of(helm: Path, chart: Path, *args: str | Path) -> str:
    res = run(helm, "template", RELEASE, chart, "--namespace", NAMESPACE, *args)
    assert res.returncode == 0, res.stderr
    return res.stdout


def decode(checker: Path, manifests: str) -> list[dict]:
    """The checker's strict decode; returns the documents as JSON."""
    res = run(checker, "manifests", "-", stdin=manifests)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def mounts_of(container: dict) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}


def arg_after(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


@pytest.fixture(scope="module")
def default_docs(helm, checker) -> dict[str, list[dict]]:
    return by_kind(decode(checker, template(helm)))


@pytest.fixture(scope="module")
def all_docs(helm, checker) -> dict[str, list[dict]]:
    return by_kind(decode(checker, template(helm, "-f", VALUES_ALL)))


@pytest.fixture(scope="module")
def insecure_docs(helm, checker) -> dict[str, list[dict]]:
    return by_kind(decode(checker, template(helm, "-f", VALUES_INSECURE)))


def secret_data(docs: dict[str, list[dict]], name: str) -> dict[str, bytes]:
    (secret,) = [s for s in docs["Secret"] if s["metadata"]["name"] == name]
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


def pod_specs(docs: dict[str, list[dict]]) -> dict[str, dict]:
    """Every pod template's spec, by "<Kind>/<name>"."""
    out = {}
    for kind in ("StatefulSet", "Deployment", "Job"):
        for d in docs.get(kind, []):
            out[f"{kind}/{d['metadata']['name']}"] = d["spec"]["template"]["spec"]
    for d in docs.get("PaddleJob", []):
        for replica, spec in d["spec"]["paddleReplicaSpecs"].items():
            out[f"PaddleJob/{d['metadata']['name']}/{replica}"] = spec["template"]["spec"]
    return out


def mounted_files(docs: dict, spec: dict, container: dict, folder: Path) -> dict[str, Path]:
    """The files a container of a pod spec sees from the Secrets and ConfigMaps of the
    render it mounts (with their `items`), written under `folder`: {path in the pod: local
    path}. Secrets the render does not hold (yours) are skipped."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    rendered = {(d["kind"], d["metadata"]["name"]): d for ds in docs.values() for d in ds}
    out: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})  # none: a volumeClaimTemplate
        if "secret" in volume:
            source = volume["secret"]
            found = rendered.get(("Secret", source["secretName"]))
            data = {k: base64.b64decode(v) for k, v in (found or {}).get("data", {}).items()}
        elif "configMap" in volume:
            source = volume["configMap"]
            found = rendered.get(("ConfigMap", source["name"]))
            data = {k: v.encode() for k, v in (found or {}).get("data", {}).items()}
        else:
            continue
        if found is None:
            continue
        if source.get("items"):
            data = {item["path"]: data[item["key"]] for item in source["items"]}
        for key, value in data.items():
            local = folder / mount["name"] / key
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(value)
            out[f"{mount['mountPath']}/{key}"] = local
    return out


@pytest.mark.parametrize(
    "values",
    [None, VALUES_ALL, VALUES_GPU, VALUES_INSECURE, VALUES_03],
    ids=["default", "all", "gpu", "insecure", "0.3"],
)
def test_helm_lint_strict(helm, values):
    res = run(helm, "lint", "--strict", CHART, *(["-f", values] if values else []))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 chart(s) failed" in res.stdout


def test_default_controller_is_one_statefulset_with_tls_and_a_token(default_docs):
    # Before: no TLS and no token on 0.0.0.0 by default, so any pod could delete studies.
    assert sorted(default_docs) == [
        "ConfigMap",
        "Job",
        "NetworkPolicy",
        "Pod",  # the `helm test` hook
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "StatefulSet",
    ]
    (sts,) = default_docs["StatefulSet"]
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["serviceName"] == f"{CONTROLLER}-headless"
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == [
        "sanas-server",
        "--host",
        "0.0.0.0",
        "--port",
        "8881",
        "--checkpoint-dir",
        "/var/lib/sanas",
        "--metrics-port",
        "9090",
        "--metrics-host",
        "0.0.0.0",
        "--grace",
        "10",
        "--log-level",
        "INFO",
        "--log-format",
        "text",
        "--metrics-study-labels",
        "100",
        "--max-watchers",
        "64",
        "--audit-log",  # on the checkpoint volume (chart 0.4)
        "/var/lib/sanas/audit.log",
        "--tls-cert",
        "/etc/sanas/tls/tls.crt",
        "--tls-key",
        "/etc/sanas/tls/tls.key",
        "--auth-token-file",
        "/etc/sanas/token/token",
        "--tokens-file",  # the generated trainer token (chart 0.4)
        "/etc/sanas/tokens/tokens",
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == f"{CONTROLLER}-tls"
    assert volumes["token"]["secret"]["secretName"] == f"{CONTROLLER}-token"
    assert volumes["tokens"]["secret"]["secretName"] == f"{CONTROLLER}-tokens"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["exec"]["command"][:2] == ["python", "/etc/sanas/probe/health_probe.py"]
        assert arg_after(c[probe]["exec"]["command"], "--server-name") == (
            f"{CONTROLLER}.{NAMESPACE}.svc"
        )
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "checkpoints"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert mounts_of(c)["checkpoints"] == "/var/lib/sanas"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(c["resources"]) == {"requests", "limits"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 8881, "metrics": 9090}


def test_the_generated_secrets_are_a_working_ca_certificate_and_token(default_docs):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding

    tls = secret_data(default_docs, f"{CONTROLLER}-tls")
    assert set(tls) == {"tls.crt", "tls.key", "ca.crt"}
    ca = x509.load_pem_x509_certificate(tls["ca.crt"])
    cert = x509.load_pem_x509_certificate(tls["tls.crt"])
    assert cert.issuer == ca.subject
    ca.public_key().verify(  # type: ignore[union-attr, call-arg]
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        cert.signature_hash_algorithm,
    )
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = names.get_values_for_type(x509.DNSName)
    assert {
        CONTROLLER,
        f"{CONTROLLER}.{NAMESPACE}.svc",
        f"{CONTROLLER}.{NAMESPACE}.svc.cluster.local",
        "localhost",
    } <= set(dns)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    (token,) = secret_data(default_docs, f"{CONTROLLER}-token").values()
    assert len(token) == 48 and token.isalnum()


# sanas.keptSecretData given a Secret with both keys, with one, and none.
KEPT_TEMPLATE = """{{- $fresh := dict "a" "NEW" "b" "NEW" }}
whole: '{{ include "sanas.keptSecretData" (dict
  "old" (dict "data" (dict "a" "OLD" "b" "OLD")) "keys" (list "a" "b") "fresh" $fresh)
  | fromYaml | toJson }}'
partial: '{{ include "sanas.keptSecretData" (dict
  "old" (dict "data" (dict "a" "OLD")) "keys" (list "a" "b") "fresh" $fresh)
  | fromYaml | toJson }}'
none: '{{ include "sanas.keptSecretData" (dict "old" (dict) "keys" (list "a" "b") "fresh" $fresh)
  | fromYaml | toJson }}'
"""


def test_a_generated_secret_is_kept_on_upgrade(helm, tmp_path):
    """`lookup` sees no cluster under `helm template`, so the helper that chooses between
    the Secret the cluster holds and fresh values is rendered alone, with stand-ins."""
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "kept.yaml").write_text(KEPT_TEMPLATE)
    res = run(
        helm, "template", RELEASE, chart, "-n", NAMESPACE, "--show-only", "templates/kept.yaml"
    )
    assert res.returncode == 0, res.stderr
    lines = {
        key: value.strip().strip("'")
        for key, _, value in (line.partition(": ") for line in res.stdout.splitlines())
        if key in ("whole", "partial", "none")
    }
    assert json.loads(lines["whole"]) == {"a": "OLD", "b": "OLD"}  # what the cluster holds
    assert json.loads(lines["partial"]) == {"a": "NEW", "b": "NEW"}  # never half old, half new
    assert json.loads(lines["none"]) == {"a": "NEW", "b": "NEW"}
    # And the chart asks the cluster for exactly the Secrets it mounts, through the
    # helper that works each one out once per render (the checksums hash the same data).
    secrets = (CHART / "templates" / "secrets.yaml").read_text()
    assert secrets.count('include "sanas.generatedSecretData" (dict "ctx" . "name" $name') == 4
    assert secrets.count('include "sanas.generatedSecretData" (dict "ctx" . "name" $trainer') == 1
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret" $.Release.Namespace .name' in helpers


def test_the_network_policy_lets_only_trainers_and_the_dashboard_in(default_docs, all_docs):
    # Before: no NetworkPolicy, so any pod in the cluster reached the controller.
    for docs, peers in [
        (default_docs, {"trainer", "test"}),  # test: the `helm test` pod
        (all_docs, {"trainer", "dashboard", "test"}),
    ]:
        (policy,) = docs["NetworkPolicy"]
        spec = policy["spec"]
        (sts,) = docs["StatefulSet"]
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= labels.items()
        assert spec["policyTypes"] == ["Ingress"]
        (rule,) = spec["ingress"]  # one rule: nothing reaches the metrics port
        assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
        components = {
            p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]
        }
        assert components == peers
        assert all(set(p) == {"podSelector"} for p in rule["from"])  # this namespace only
        # Each peer is the chart's own pods: their labels match.
        templates = [s for s in pod_specs(docs)]
        assert templates
        for p in rule["from"]:
            wanted = p["podSelector"]["matchLabels"]
            assert (
                any(
                    wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()
                    for kind in ("Job", "Deployment")
                    for d in docs.get(kind, [])
                )
                or any(
                    wanted.items() <= r["template"]["metadata"]["labels"].items()
                    for d in docs.get("PaddleJob", [])
                    for r in d["spec"]["paddleReplicaSpecs"].values()
                )
                or any(wanted.items() <= d["metadata"]["labels"].items() for d in docs["Pod"])
            ), wanted


def test_the_checker_refuses_a_network_policy_that_selects_nothing(helm, checker):
    rendered = template(helm)
    policy = rendered[rendered.index("kind: NetworkPolicy") :]
    for good, bad, message in [
        ("component: trainer", "component: trainr", "selects no rendered pod"),
        ("- port: grpc", "- port: grcp", 'port "grcp" is not declared'),
    ]:
        broken = rendered.replace(policy, policy.replace(good, bad, 1))
        assert broken != rendered
        res = run(checker, "manifests", "-", stdin=broken)
        assert res.returncode == 1 and message in res.stderr, res.stderr


def test_probes_and_service_account_tokens(helm, checker, default_docs, all_docs, insecure_docs):
    for docs in (default_docs, all_docs, insecure_docs):
        for name, spec in pod_specs(docs).items():
            assert spec["automountServiceAccountToken"] is False, name
    # The controller: a startup probe covers loading the checkpoints, 300 s for the
    # default 1Gi volume (liveness alone killed it after ~62 s before).
    (c,) = default_docs["StatefulSet"][0]["spec"]["template"]["spec"]["containers"]
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert startup["exec"] == c["livenessProbe"]["exec"]  # the same check
    for values, budget in [
        (("--set", "controller.persistence.size=5Gi"), 1024),  # 0.2 s per MiB
        (("--set", "controller.persistence.size=500Mi"), 300),  # at least 300 s
        (("--set", "controller.persistence.size=20G"), 3815),
        (("--set", "controller.probes.startupSeconds=1800"), 1800),
    ]:
        (sts,) = by_kind(decode(checker, template(helm, *values)))["StatefulSet"]
        (c,) = sts["spec"]["template"]["spec"]["containers"]
        probe = c["startupProbe"]
        assert probe["periodSeconds"] * probe["failureThreshold"] >= budget, values
        assert probe["periodSeconds"] * (probe["failureThreshold"] - 1) < budget, values
    res = run(helm, "template", RELEASE, CHART, "--set", "controller.persistence.size=lots")
    assert res.returncode != 0 and "controller.persistence.size" in res.stderr
    # The dashboard: liveness and readiness on /healthz, which needs no token.
    (dep,) = all_docs["Deployment"]
    (d,) = dep["spec"]["template"]["spec"]["containers"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert d[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    from sanas.dashboard.app import HEALTHZ

    assert HEALTHZ == "/healthz"


def test_insecure_renders_the_old_plaintext_controller(insecure_docs):
    (sts,) = insecure_docs["StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert not any("tls" in a or "token" in a for a in c["command"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["grpc"] == {"port": 8881}, probe
        assert "exec" not in c[probe]
    assert "Secret" not in insecure_docs
    # The one ConfigMap is the health check script of the `helm test` pod.
    (config,) = insecure_docs["ConfigMap"]
    assert config["metadata"]["name"] == f"{CONTROLLER}-probe"
    (job,) = insecure_docs["Job"]
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert "SANAS_TOKEN_FILE" not in env and "SANAS_TLS_CA" not in env


def test_default_services(default_docs):
    services = {s["metadata"]["name"]: s["spec"] for s in default_docs["Service"]}
    assert set(services) == {CONTROLLER, f"{CONTROLLER}-headless"}
    ports = {p["name"]: p["port"] for p in services[CONTROLLER]["ports"]}
    assert ports == {"grpc": 8881, "metrics": 9090}
    assert services[f"{CONTROLLER}-headless"]["clusterIP"] == "None"
    (sts,) = default_docs["StatefulSet"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    for spec in services.values():
        assert spec["selector"].items() <= labels.items()


def test_default_trainers_are_an_indexed_job_with_the_env(default_docs):
    (job,) = default_docs["Job"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["parallelism"], spec["completions"]) == (2, 2)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # backoffLimitPerIndex needs it
    (c,) = pod["containers"]
    assert c["command"][:5] == [
        "python",
        "-m",
        "paddle.distributed.launch",
        "--nproc_per_node",
        "1",
    ]
    assert c["command"][-1] == "/app/group_trainer.py"
    env = env_of(c)
    assert env["SANAS_ADDRESS"] == f"{CONTROLLER}.{NAMESPACE}.svc:8881"
    assert env["SANAS_STUDY_ID"] == "study"
    assert env["SANAS_TOKEN_FILE"] == "/etc/sanas/token/token"
    assert env["SANAS_TLS_CA"] == "/etc/sanas/tls-ca/ca.crt"
    assert "nvidia.com/gpu" not in c["resources"].get("limits", {})
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert mounts_of(c) == {
        "tmp": "/tmp",
        "dshm": "/dev/shm",
        "token": "/etc/sanas/token",
        "tls-ca": "/etc/sanas/tls-ca",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    # Only the CA of the generated Secret: trainers never see the server's key.
    assert volumes["tls-ca"]["secret"] == {
        "secretName": f"{CONTROLLER}-tls",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }


def test_all_on_controller_uses_the_secrets_and_a_tls_exec_probe(all_docs):
    (sts,) = all_docs["StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    cmd = c["command"]
    assert arg_after(cmd, "--tls-cert") == "/etc/sanas/tls/tls.crt"
    assert arg_after(cmd, "--tls-key") == "/etc/sanas/tls/tls.key"
    assert arg_after(cmd, "--tls-client-ca") == "/etc/sanas/tls/ca.crt"
    assert arg_after(cmd, "--auth-token-file") == "/etc/sanas/token/token"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "sanas-tls"
    assert volumes["token"]["secret"]["secretName"] == "sanas-token"
    assert volumes["probe-client"]["secret"]["secretName"] == "sanas-probe-client"
    assert volumes["probe"]["configMap"]["name"] == f"{CONTROLLER}-probe"
    mounts = mounts_of(c)
    assert mounts["tls"] == "/etc/sanas/tls" and mounts["token"] == "/etc/sanas/token"
    for probe in ("livenessProbe", "readinessProbe"):
        assert "grpc" not in c[probe]  # native gRPC probes cannot do TLS
        exec_cmd = c[probe]["exec"]["command"]
        assert exec_cmd[:2] == ["python", "/etc/sanas/probe/health_probe.py"]
        assert arg_after(exec_cmd, "--server-name") == "localhost"
        assert arg_after(exec_cmd, "--cert") == "/etc/sanas/probe-client/tls.crt"
    (cm,) = all_docs["ConfigMap"]
    assert "health_pb2_grpc.HealthStub" in cm["data"]["health_probe.py"]


def test_all_on_dashboard(all_docs):
    (dep,) = all_docs["Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    cmd = c["command"]
    assert cmd[0] == "sanas"
    assert cmd[cmd.index("dashboard") :] == [
        "dashboard",
        "--address",
        f"{CONTROLLER}.{NAMESPACE}.svc:8881",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--dashboard-token-file",
        "/etc/sanas/dashboard-token/token",
        "--max-watches",
        "32",  # half the controller's --max-watchers
        "--idle-seconds",
        "60",
    ]
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert env_of(c)["MALLOC_ARENA_MAX"] == "2"
    assert arg_after(cmd, "--token-file") == "/etc/sanas/token/token"
    assert arg_after(cmd, "--tls-ca") == "/etc/sanas/tls-ca/ca.crt"
    assert arg_after(cmd, "--tls-cert") == "/etc/sanas/tls-client/tls.crt"
    # Every file it is given is mounted from its Secret.
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dashboard-token"]["secret"]["secretName"] == "sanas-dashboard-token"
    assert volumes["tls-client"]["secret"]["secretName"] == "sanas-dashboard-client"
    names = {s["metadata"]["name"] for s in all_docs["Service"]}
    assert f"{CONTROLLER}-dashboard" in names


def test_all_on_trainers_are_paddlejobs_on_gpus(all_docs):
    assert "Job" not in all_docs
    jobs = all_docs["PaddleJob"]
    assert [j["metadata"]["name"] for j in jobs] == [
        f"{CONTROLLER}-trainers-0",
        f"{CONTROLLER}-trainers-1",
    ]
    for job in jobs:
        assert job["apiVersion"] == "kubeflow.org/v1"
        worker = job["spec"]["paddleReplicaSpecs"]["Worker"]
        assert worker["replicas"] == 2
        pod = worker["template"]["spec"]
        (c,) = pod["containers"]
        assert arg_after(c["command"], "--nproc_per_node") == "4"
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 4
        env = env_of(c)
        assert env["SANAS_STUDY_ID"] == "resnet-search"
        assert env["SANAS_TOKEN_FILE"] == "/etc/sanas/token/token"
        assert env["SANAS_TLS_CA"] == "/etc/sanas/tls-ca/ca.crt"
        assert env["SANAS_TLS_CERT"] == "/etc/sanas/tls-client/tls.crt"
        volumes = {v["name"]: v for v in pod["volumes"]}
        # Trainers get only the CA from the server's Secret, never its key.
        assert volumes["tls-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_the_trainer_script_reads_every_sanas_variable_the_chart_sets(all_docs, monkeypatch):
    # The chart and examples/group_trainer.py agree on the names: each SANAS_* variable
    # of a trainer pod reaches the matching option of the script.
    spec = importlib.util.spec_from_file_location("gt", ROOT / "examples" / "group_trainer.py")
    assert spec is not None and spec.loader is not None
    gt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gt)
    (c,) = all_docs["PaddleJob"][0]["spec"]["paddleReplicaSpecs"]["Worker"]["template"]["spec"][
        "containers"
    ]
    env = {k: v if isinstance(v, str) else "pod-0" for k, v in env_of(c).items()}
    sanas_env = {k: v for k, v in env.items() if k.startswith("SANAS_")}
    assert len(sanas_env) == 7
    for name, value in sanas_env.items():
        monkeypatch.setenv(name, value)
    args = gt.parse_args([])
    assert args.address == sanas_env["SANAS_ADDRESS"]
    assert args.study == sanas_env["SANAS_STUDY_ID"]
    assert args.client_id == sanas_env["SANAS_CLIENT_ID"]
    assert args.token_file == sanas_env["SANAS_TOKEN_FILE"]
    assert (args.tls_ca, args.tls_cert, args.tls_key) == (
        sanas_env["SANAS_TLS_CA"],
        sanas_env["SANAS_TLS_CERT"],
        sanas_env["SANAS_TLS_KEY"],
    )
    # The launcher runs the script where the trainer image puts it.
    assert "/app/group_trainer.py" in c["command"]
    dockerfile = (ROOT / "deploy" / "images" / "trainer" / "Dockerfile").read_text()
    assert "examples/group_trainer.py /app/group_trainer.py" in dockerfile


def test_gpu_example_renders_and_decodes(helm, checker):
    docs = by_kind(decode(checker, template(helm, "-f", VALUES_GPU)))
    (job,) = docs["Job"]
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert arg_after(c["command"], "--nproc_per_node") == "4"
    assert job["spec"]["parallelism"] == 3


def test_notes_render(helm, tmp_path):
    """`helm template` skips NOTES.txt (and `helm install --dry-run` needs a cluster), so a
    copy of the chart renders it as an ordinary template."""
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "notes" -}}' + notes + "{{- end -}}"
    )
    (chart / "templates" / "notes.yaml").write_text(
        'notes: |\n  {{- include "notes" . | nindent 2 }}\n'
    )
    res = run(
        helm,
        "template",
        RELEASE,
        chart,
        "-n",
        NAMESPACE,
        "-f",
        VALUES_GPU,
        "--show-only",
        "templates/notes.yaml",
    )
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert f"sanas controller: {CONTROLLER}.{NAMESPACE}.svc:8881 (TLS) (bearer token)" in text
    assert "--tls-ca ca.pem --token-file token status mobilenet-search" in text
    assert re.search(
        rf"kubectl -n {NAMESPACE} patch job {CONTROLLER}-trainers-[0-9a-f]{{8}} ", text
    )


def test_values_that_cannot_work_fail_the_render(helm):
    for values, message in [
        (("trainers.kind=MPIJob",), "want Job or PaddleJob"),
        # Turning security off takes `insecure: true`, not one quiet flag.
        (("tls.enabled=false",), "set insecure: true to mean it"),
        (("auth.enabled=false",), "set insecure: true to mean it"),
        (("tls.mutual=true",), "tls.mutual needs tls.secretName"),
        (("dashboard.enabled=true", "dashboard.maxWatches=64"), "must stay below"),
    ]:
        res = run(helm, "template", RELEASE, CHART, *(f"--set={v}" for v in values))
        assert res.returncode != 0 and message in res.stderr, (values, res.stderr)
    # Mutual TLS may stand in for the token.
    res = run(
        helm, "template", RELEASE, CHART,
        *("--set=auth.enabled=false", "--set=tls.mutual=true", "--set=tls.secretName=mine"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def test_a_dashboard_without_a_named_token_gets_a_generated_one(helm, checker):
    # The dashboard refuses 0.0.0.0 without a token: the chart generates one.
    docs = by_kind(decode(checker, template(helm, "--set", "dashboard.enabled=true")))
    (dep,) = docs["Deployment"]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dashboard-token"]["secret"]["secretName"] == f"{CONTROLLER}-dashboard-token"
    (token,) = secret_data(docs, f"{CONTROLLER}-dashboard-token").values()
    assert len(token) >= 16  # what the dashboard requires


def test_the_strict_decode_refuses_a_misspelled_field(helm, checker):
    res = run(checker, "manifests", CHECK / "testdata" / "broken.yaml")
    assert res.returncode == 1
    assert 'unknown field "serviceNmae"' in res.stderr
    # The same typo slipped into a real rendered manifest, and one inside a PaddleJob's pod
    # template (a kind k8s.io/api does not know).
    rendered = template(helm, "-f", VALUES_ALL)
    pod_spec = "\n          restartPolicy: OnFailure\n"  # in a PaddleJob's pod template
    for good, bad in [
        ("readinessProbe:", "readynessProbe:"),
        (pod_spec, pod_spec + "          hostNetwrok: true\n"),
    ]:
        assert good in rendered
        res = run(checker, "manifests", "-", stdin=rendered.replace(good, bad, 1))
        assert res.returncode == 1, bad
        assert "unknown field" in res.stderr


def test_dockerfiles_pass_buildkit_lint(checker):
    res = run(checker, "dockerfile", *DOCKERFILES)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_bad_dockerfile_fails_buildkit_lint(checker):
    res = run(checker, "dockerfile", CHECK / "testdata" / "Dockerfile.bad")
    assert res.returncode == 1
    for rule in ("FromAsCasing", "MaintainerDeprecated", "UndefinedVar", "JSONArgsRecommended"):
        assert rule in res.stdout, rule


def test_the_controller_image_installs_no_paddle():
    text = DOCKERFILES[0].read_text()
    assert "FROM ${PYTHON_IMAGE}" in text and "python:3.11-slim" in text
    installs = [line for line in text.splitlines() if "pip " in line]
    assert installs and not any("paddle" in line for line in installs)
    assert 'ENTRYPOINT ["sanas-server"]' in text and "USER 10001" in text
    trainer = DOCKERFILES[1].read_text()
    assert "COPY examples/group_trainer.py /app/group_trainer.py" in trainer


def local_args(command: list[str], checkpoint_dir: Path, paths: dict) -> tuple[str, ...]:
    """The rendered sanas-server flags, on loopback, free ports and a temporary folder
    (paths on the checkpoint volume, /var/lib/sanas/..., under it)."""
    volume = "/var/lib/sanas/"
    args = [
        str(checkpoint_dir / a[len(volume) :]) if a.startswith(volume) else str(paths.get(a, a))
        for a in command[1:]
    ]
    for flag, value in [
        ("--host", "127.0.0.1"),
        ("--port", "0"),
        ("--metrics-port", "0"),
        ("--checkpoint-dir", str(checkpoint_dir)),
        ("--log-level", "WARNING"),
    ]:
        args[args.index(flag) + 1] = value
    return tuple(args)


def test_the_native_grpc_probe_target_answers(insecure_docs, tmp_path):
    """What the kubelet's `grpc: {port: 8881}` probe asks (grpc.health.v1 Check, service
    ""), asked of a server started with the rendered flags (insecure: the native probe
    cannot speak TLS)."""
    (sts,) = insecure_docs["StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    assert c["command"][0] == "sanas-server"
    server = ServerProcess(tmp_path / "ckpt", extra=local_args(c["command"], tmp_path / "ckpt", {}))
    try:
        with grpc.insecure_channel(server.address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert server.metrics_url is not None  # --metrics-port is on
    finally:
        server.close()


def test_the_tls_probe_works_against_a_real_server(all_docs, tmp_path):
    """The exec probe and the server flags exactly as rendered (mutual TLS and a token),
    with the Secret paths pointed at throwaway certificates."""
    certs = make_certs(tmp_path / "certs")
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    paths = {
        "/etc/sanas/tls/tls.crt": certs.server_cert,
        "/etc/sanas/tls/tls.key": certs.server_key,
        "/etc/sanas/tls/ca.crt": certs.ca,
        "/etc/sanas/token/token": token,
        "/etc/sanas/probe-client/tls.crt": certs.client_cert,
        "/etc/sanas/probe-client/tls.key": certs.client_key,
    }
    probe_script = tmp_path / "health_probe.py"
    probe_script.write_text(all_docs["ConfigMap"][0]["data"]["health_probe.py"])
    paths["/etc/sanas/probe/health_probe.py"] = probe_script
    (sts,) = all_docs["StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    server = ServerProcess(
        tmp_path / "ckpt", extra=local_args(c["command"], tmp_path / "ckpt", paths)
    )
    try:
        port = server.address.rsplit(":", 1)[1]
        probe = [str(paths.get(a, a)) for a in c["readinessProbe"]["exec"]["command"]]
        probe[0] = sys.executable
        probe[probe.index("--port") + 1] = port
        ok = run(*probe)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "SERVING"
        # It really checks: a wrong server name, or no client certificate, fails.
        wrong = list(probe)
        wrong[wrong.index("--server-name") + 1] = "elsewhere.example"
        assert run(*wrong).returncode == 1
        no_client = probe[: probe.index("--cert")]
        assert run(*no_client).returncode == 1
    finally:
        server.close()
    # And once the server is gone the probe fails (the liveness probe would restart it).
    assert run(*probe).returncode == 1


def test_the_default_controller_serves_its_generated_certificate_and_token(default_docs, tmp_path):
    """The server with the default render's flags and generated Secret, its startup probe
    as rendered, and a client with the CA and the token that trainers get."""
    from sanas import Client
    from sanas.client import study_config
    from sanas.errors import PermissionDeniedError, UnauthenticatedError

    (sts,) = default_docs["StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    files = mounted_files(default_docs, sts["spec"]["template"]["spec"], c, tmp_path / "pod")
    assert "/etc/sanas/probe/health_probe.py" in files and "/etc/sanas/tokens/tokens" in files
    server = ServerProcess(
        tmp_path / "ckpt", extra=local_args(c["command"], tmp_path / "ckpt", files)
    )
    try:
        port = server.address.rsplit(":", 1)[1]
        probe = [str(files.get(a, a)) for a in c["startupProbe"]["exec"]["command"]]
        probe[0] = sys.executable
        probe[probe.index("--port") + 1] = port
        ok = run(*probe)
        assert ok.returncode == 0 and ok.stdout.strip() == "SERVING", ok.stderr
        ca = files["/etc/sanas/tls/ca.crt"]
        token = files["/etc/sanas/token/token"]
        common = {"tls_ca_file": ca, "timeout": 10, "retry_timeout": 10}
        with Client(f"localhost:{port}", auth_token_file=token, **common) as client:
            assert list(client.list_studies()) == []
        with Client(f"localhost:{port}", **common) as client:
            with pytest.raises(UnauthenticatedError):
                list(client.list_studies())
        # The trainers' token, as their pod mounts it: a trainer's, so it reads and works
        # on trials but may not create (or delete) a study.
        (job,) = default_docs["Job"]
        spec = job["spec"]["template"]["spec"]
        (trainer,) = spec["containers"]
        mounted = mounted_files(default_docs, spec, trainer, tmp_path / "trainer")
        trainer_token = mounted[env_of(trainer)["SANAS_TOKEN_FILE"]]
        assert trainer_token.read_text() != token.read_text()
        with Client(f"localhost:{port}", auth_token_file=trainer_token, **common) as client:
            assert list(client.list_studies()) == []
            with pytest.raises(PermissionDeniedError):
                client.create_study("s", study_config([("custom", {"range_table": [3]})]))
    finally:
        server.close()


def test_notes_warn_about_insecure_and_say_where_the_generated_secrets_are(helm, tmp_path):
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "notes" -}}' + notes + "{{- end -}}"
    )
    (chart / "templates" / "notes.yaml").write_text(
        'notes: |\n  {{- include "notes" . | nindent 2 }}\n'
    )

    def rendered(*args: str) -> str:
        res = run(helm, "template", RELEASE, chart, "-n", NAMESPACE, *args,
                  "--show-only", "templates/notes.yaml")  # fmt: skip
        assert res.returncode == 0, res.stderr
        return res.stdout

    insecure = rendered("-f", str(VALUES_INSECURE))
    assert "WARNING: insecure: true" in insecure and "WITHOUT a" in insecure
    assert "(TLS)" not in insecure
    default = rendered()
    assert "WARNING" not in default
    assert f"sanas controller: {CONTROLLER}.{NAMESPACE}.svc:8881 (TLS) (bearer token)" in default
    assert f"get secret {CONTROLLER}-tls -o jsonpath='{{.data.ca\\.crt}}'" in default
    assert f"get secret {CONTROLLER}-token -o jsonpath='{{.data.token}}'" in default
    assert "300 s to load" in default
    # A startup budget below what a full volume takes to load is called out.
    short = rendered("--set", "controller.probes.startupSeconds=60", "--set",
                     "controller.persistence.size=10Gi")  # fmt: skip
    assert "WARNING: a full 10Gi volume takes about 921 s to load" in short


# -- upgrades: trainer Job names, checksums, the disruption budget, `helm test` ------------

# Your own Secrets: nothing generated, so two renders of the same values are identical.
OWN_SECRETS = ("--set", "tls.secretName=own-tls", "--set", "auth.secretName=own-token")


def rendered(helm: Path, checker: Path, *args: str | Path, chart: Path = CHART) -> dict:
    res = run(helm, "template", RELEASE, chart, "--namespace", NAMESPACE, *args)
    assert res.returncode == 0, res.stderr
    return by_kind(decode(checker, res.stdout))


def annotations(docs: dict, kind: str) -> dict[str, str]:
    (d,) = docs[kind]
    return d["spec"]["template"]["metadata"].get("annotations", {})


def test_checksums_hash_the_secrets_exactly_as_rendered(default_docs, all_docs):
    """A generated Secret is worked out once per render, so the checksum of the pods that
    mount it is of the very data the Secret holds (not of a second, different CA)."""

    def checksum(docs: dict, entries: list[str]) -> str:
        parts = []
        for entry in entries:  # "NAME" (the whole Secret) or "NAME/KEY" (one key of it)
            name, _, key = entry.partition("/")
            (secret,) = [s for s in docs["Secret"] if s["metadata"]["name"] == name]
            items = {k: v for k, v in secret["data"].items() if not key or k == key}
            data = "\n".join(f"{k}: {v}" for k, v in sorted(items.items()))
            parts.append(f"{entry}:{data}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    tls, token = f"{CONTROLLER}-tls", f"{CONTROLLER}-trainer-token"
    # The trainers: the keys they mount, the CA and their token (not the server's key pair).
    want = checksum(default_docs, [f"{tls}/ca.crt", f"{token}/token"])
    assert annotations(default_docs, "Job")["checksum/secrets"] == want
    # The controller reloads its credential files: no Secret rolls it, its config does.
    assert "checksum/secrets" not in annotations(default_docs, "StatefulSet")
    assert len(annotations(default_docs, "StatefulSet")["checksum/config"]) == 64
    # The dashboard hashes its own token too; PaddleJobs' pods carry theirs.
    dash = annotations(all_docs, "Deployment")["checksum/secrets"]
    for job in all_docs["PaddleJob"]:
        meta = job["spec"]["paddleReplicaSpecs"]["Worker"]["template"]["metadata"]
        assert len(meta["annotations"]["checksum/secrets"]) == 64
        assert meta["annotations"]["checksum/secrets"] != dash
    assert len(dash) == 64


def test_a_changed_probe_script_rolls_the_controller(helm, checker, tmp_path):
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    before = rendered(helm, checker, *OWN_SECRETS, chart=chart)
    probe = chart / "files" / "health_probe.py"
    probe.write_text(probe.read_text() + "# changed\n")
    after = rendered(helm, checker, *OWN_SECRETS, chart=chart)
    old, new = annotations(before, "StatefulSet"), annotations(after, "StatefulSet")
    assert old["checksum/config"] != new["checksum/config"]
    assert "checksum/secrets" not in old and "checksum/secrets" not in new
    # Nothing else changed: the trainer Job keeps its name (its pods are not replaced).
    assert before["Job"][0]["metadata"]["name"] == after["Job"][0]["metadata"]["name"]


def test_the_trainer_job_is_named_by_its_pod_template(helm, checker, tmp_path):
    """A Job's pod template is immutable: `helm upgrade` with a changed one failed with
    "field is immutable". Named by its hash, an unchanged template keeps the Job (and its
    running pods), a changed one makes a new Job that replaces the old."""

    def job_name(*args: str, chart: Path = CHART) -> str:
        (job,) = rendered(helm, checker, *OWN_SECRETS, *args, chart=chart)["Job"]
        return job["metadata"]["name"]

    base = job_name()
    assert re.fullmatch(rf"{CONTROLLER}-trainers-[0-9a-f]{{8}}", base)
    assert job_name() == base  # deterministic
    # Mutable fields and other components: the same Job, patched in place.
    assert job_name("--set", "trainers.parallelism=5", "--set", "trainers.completions=5") == base
    assert job_name("--set", "controller.logLevel=DEBUG") == base
    # A new chart version alone does not replace running trainers.
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    meta = chart / "Chart.yaml"
    meta.write_text(re.sub(r"(?m)^version: .*$", "version: 9.9.9", meta.read_text()))
    assert job_name(chart=chart) == base
    # What the pods run: a new Job.
    for change in (
        "trainers.image.tag=0.2.0",
        "trainers.args[0]=--epochs=3",
        "trainers.resources.limits.memory=9Gi",
        "trainers.studyId=other",
    ):
        assert job_name("--set", change) != base, change
    # A long name still gives a valid Job name (at most 63 characters).
    assert len(job_name("--set", "fullnameOverride=" + "x" * 63)) <= 63


# The chart as last released (`make release-chart` packages it into deploy/chart/released/),
# which the working chart must upgrade without Kubernetes refusing the change.
RELEASED = ROOT / "deploy" / "chart" / "released"


def chart_version(text: str) -> tuple[int, ...]:
    (version,) = re.findall(r"(?m)^version: *([0-9.]+)", text)
    return tuple(int(part) for part in version.split("."))


def released_chart() -> Path:
    """The newest packaged release (deploy/chart/released/sanas-X.Y.Z.tgz)."""
    packages = sorted(
        RELEASED.glob("sanas-*.tgz"),
        key=lambda p: tuple(int(x) for x in p.name[len("sanas-") : -len(".tgz")].split(".")),
    )
    assert packages, f"no released chart in {RELEASED}: `make release-chart` at a release"
    return packages[-1]


def immutable_part(doc: dict) -> dict | None:
    """What Kubernetes refuses to change on an object that exists (`helm upgrade` then fails
    with "field is immutable" or "Forbidden: updates to statefulset spec for fields other
    than ..."), for the kinds the chart renders; None when an update may change anything."""
    kind, spec = doc["kind"], doc.get("spec", {})
    if kind == "StatefulSet":
        mutable = {"replicas", "ordinals", "template", "updateStrategy",
                   "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}  # fmt: skip
        return {k: v for k, v in spec.items() if k not in mutable}
    if kind == "Job":  # the template too: that is why the Job is named by its hash
        mutable = {"parallelism", "completions", "activeDeadlineSeconds", "suspend",
                   "ttlSecondsAfterFinished", "backoffLimit", "maxFailedIndexes"}  # fmt: skip
        return {k: v for k, v in spec.items() if k not in mutable}
    if kind == "Deployment":
        return {"selector": spec.get("selector")}
    if kind == "Service":
        return {"clusterIP": spec.get("clusterIP")}
    if kind == "Secret":
        return {"type": doc.get("type")}
    return None


def upgrade_problems(before: list[dict], after: list[dict]) -> list[str]:
    old = {(d["kind"], d["metadata"]["name"]): d for d in before}
    problems = []
    for d in after:
        key = (d["kind"], d["metadata"]["name"])
        if key in old and immutable_part(old[key]) != immutable_part(d):
            problems.append(f"{key}: {immutable_part(old[key])} -> {immutable_part(d)}")
    return problems


@pytest.mark.parametrize(
    "values",
    [
        (),
        OWN_SECRETS,
        ("-f", VALUES_ALL),
        ("-f", VALUES_03),
        ("-f", VALUES_INSECURE),
        ("-f", VALUES_GPU),
    ],
    ids=["default", "own-secrets", "all", "0.3-gpu", "insecure", "gpu"],
)
def test_an_upgrade_from_the_released_chart_changes_no_immutable_field(helm, checker, values):
    """`helm upgrade` from the last released chart with the same values (values-gpu.yaml
    now names a tokens file, which chart 0.3 ignores: a move to tokens in the upgrade):
    every object the two renders share keeps what Kubernetes will not change, and the
    controller keeps its StatefulSet (so its checkpoint volume)."""
    package = released_chart()
    assert chart_version((CHART / "Chart.yaml").read_text()) >= chart_version(
        subprocess.run(
            ["tar", "-xzOf", str(package), "sanas/Chart.yaml"],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    before = decode(checker, template_of(helm, package, *values))
    after = decode(checker, template_of(helm, CHART, *values))
    assert upgrade_problems(before, after) == []
    statefulsets = [
        {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] == "StatefulSet"}
        for docs in (before, after)
    ]
    assert statefulsets[0] == statefulsets[1] == {("StatefulSet", CONTROLLER)}


def test_the_upgrade_check_sees_an_immutable_change(helm, checker):
    """The comparison itself: a changed volume claim or selector is caught."""
    before = decode(checker, template(helm, *OWN_SECRETS))
    for args in (
        ("--set", "controller.persistence.size=2Gi"),
        ("--set", "nameOverride=other", "--set", "fullnameOverride=nas-sanas"),
    ):
        after = decode(checker, template(helm, *OWN_SECRETS, *args))
        assert any("StatefulSet" in p for p in upgrade_problems(before, after)), args


def test_the_controller_has_a_disruption_budget(helm, checker, default_docs):
    (pdb,) = default_docs["PodDisruptionBudget"]
    (sts,) = default_docs["StatefulSet"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 0
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert "minAvailable" not in pdb["spec"]
    one = rendered(helm, checker, "--set", "controller.podDisruptionBudget.maxUnavailable=1")
    assert one["PodDisruptionBudget"][0]["spec"]["maxUnavailable"] == 1
    off = rendered(helm, checker, "--set", "controller.podDisruptionBudget.enabled=false")
    assert "PodDisruptionBudget" not in off
    # The checker refuses a budget that a label typo makes guard nothing.
    text = template(helm)
    budget = text[text.index("kind: PodDisruptionBudget") :]
    broken = text.replace(budget, budget.replace("component: controller", "component: ctrl", 2))
    res = run(checker, "manifests", "-", stdin=broken)
    assert res.returncode == 1 and "selector selects no rendered pod" in res.stderr, res.stderr


def test_helm_test_pod_is_a_hook(default_docs, all_docs, insecure_docs, helm, checker):
    for docs in (default_docs, all_docs, insecure_docs):
        (pod,) = docs["Pod"]
        meta = pod["metadata"]
        assert meta["annotations"]["helm.sh/hook"] == "test"
        assert "hook-succeeded" in meta["annotations"]["helm.sh/hook-delete-policy"]
        assert meta["labels"]["app.kubernetes.io/component"] == "test"
        (c,) = pod["spec"]["containers"]
        assert c["command"][:2] == ["python", "/etc/sanas/probe/health_probe.py"]
        assert arg_after(c["command"], "--host") == f"{CONTROLLER}.{NAMESPACE}.svc"
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
    (pod,) = all_docs["Pod"]  # mutual TLS with a probe client Secret of its own
    (c,) = pod["spec"]["containers"]
    assert arg_after(c["command"], "--cert").startswith("/etc/sanas/probe-client/")
    assert mounts_of(c)["probe-client"] == "/etc/sanas/probe-client"
    off = rendered(helm, checker, "-f", VALUES_INSECURE, "--set", "helmTest.enabled=false")
    assert "Pod" not in off and "ConfigMap" not in off


@pytest.mark.parametrize("variant", ["default", "insecure"])
def test_the_helm_test_pod_checks_a_real_controller(default_docs, insecure_docs, tmp_path, variant):
    """The test pod's command as rendered, its Service name pointed at a server started
    with the rendered flags on loopback: SERVING; and once the server is gone, a failure."""
    docs = default_docs if variant == "default" else insecure_docs
    (sts,) = docs["StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    files = mounted_files(docs, sts["spec"]["template"]["spec"], c, tmp_path / "controller")
    server = ServerProcess(
        tmp_path / "ckpt", extra=local_args(c["command"], tmp_path / "ckpt", files)
    )
    (pod,) = docs["Pod"]
    (test,) = pod["spec"]["containers"]
    # What the test pod mounts: the probe script and the CA, no token (health needs none).
    files = mounted_files(docs, pod["spec"], test, tmp_path / "test-pod")
    assert not any("token" in path for path in files), files
    cmd = [str(files.get(a, a)) for a in test["command"]]
    cmd[0] = sys.executable
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = server.address.rsplit(":", 1)[1]
    try:
        ok = run(*cmd)
        assert ok.returncode == 0 and ok.stdout.strip() == "SERVING", ok.stderr
        if variant == "default":  # it verifies the certificate's name
            wrong = list(cmd)
            wrong[wrong.index("--server-name") + 1] = "elsewhere.example"
            assert run(*wrong).returncode == 1
    finally:
        server.close()
    assert run(*cmd).returncode == 1


def test_notes_name_the_trainer_job_of_the_same_render(helm, tmp_path):
    """With generated Secrets (new ones at every render) the Job's name, its pods'
    checksum and NOTES.txt still agree: the Secrets are worked out once per render."""
    chart = tmp_path / "sanas"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "notes" -}}' + notes + "{{- end -}}"
    )
    (chart / "templates" / "notes.yaml").write_text(
        'notes: |\n  {{- include "notes" . | nindent 2 }}\n'
    )
    res = run(helm, "template", RELEASE, chart, "-n", NAMESPACE)
    assert res.returncode == 0, res.stderr
    names = set(re.findall(rf"{CONTROLLER}-trainers-[0-9a-f]{{8}}", res.stdout))
    assert len(names) == 1, names
