"""The Helm chart's credentials (chart 0.4): Secrets the controller reloads in place
rather than restarting for, the tokens file with roles, the trainers' trainer-role token,
the audit log on the checkpoint volume; checked on renders (`helm template`, the Go
checker's strict decode) without a cluster. The rendering helpers are tests/test_deploy.py's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_deploy import (
    CHART,
    NAMESPACE,
    OWN_SECRETS,
    RELEASE,
    VALUES_ALL,
    VALUES_GPU,
    VALUES_INSECURE,
    build_checker,
    by_kind,
    decode,
    helm_binary,
    pod_specs,
    run,
    template,
)


@pytest.fixture(scope="module")
def checker(tmp_path_factory) -> Path:
    return build_checker(tmp_path_factory.mktemp("check"))


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


def controller_template(docs: dict) -> dict:
    (sts,) = docs["StatefulSet"]
    return sts["spec"]["template"]


def test_no_mount_uses_subpath(helm, checker):
    """Kubernetes updates a Secret volume in place, except where it is mounted with subPath;
    every reload the server does depends on it."""
    for values in ((), ("-f", VALUES_ALL), ("-f", VALUES_GPU), ("-f", VALUES_INSECURE)):
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
