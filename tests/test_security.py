"""TLS, mutual TLS and bearer tokens, with real certificates on a real socket."""

from __future__ import annotations

import subprocess
import urllib.request

import grpc
import pytest
from certs import make_certs
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import SERVER_BIN, custom_config

from sanas import Client, errors
from sanas_server.server import TlsFiles, start_server


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_tls_serves_only_tls(certs, tmp_path):
    running = start_server("127.0.0.1", 0, None, tls=TlsFiles(certs.server_cert, certs.server_key))
    try:
        with Client(running.address, tls_ca_file=certs.ca, timeout=10) as c:
            assert c.create_study("s", custom_config([3, 3])).study_id == "s"
        with Client(running.address, timeout=2, retry_timeout=0) as plain:
            with pytest.raises(errors.ControllerUnavailableError):
                plain.get_study("s")
        other = make_certs(tmp_path / "other")  # a CA the server's certificate is not from
        with Client(running.address, tls_ca_file=other.ca, timeout=2, retry_timeout=0) as c:
            with pytest.raises(errors.ControllerUnavailableError):
                c.get_study("s")
    finally:
        running.stop(1)


def test_mutual_tls_requires_a_client_certificate(certs):
    running = start_server(
        "127.0.0.1",
        0,
        None,
        tls=TlsFiles(certs.server_cert, certs.server_key, client_ca=certs.ca),
    )
    try:
        with Client(
            running.address,
            tls_ca_file=certs.ca,
            tls_cert_file=certs.client_cert,
            tls_key_file=certs.client_key,
            timeout=10,
        ) as c:
            c.create_study("s", custom_config([3]))
        with Client(running.address, tls_ca_file=certs.ca, timeout=2, retry_timeout=0) as c:
            with pytest.raises(errors.ControllerUnavailableError):
                c.get_study("s")
    finally:
        running.stop(1)


def test_bearer_token_guards_every_sanas_rpc_but_not_health(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    running = start_server("127.0.0.1", 0, tmp_path / "ck", auth_token="s3cret-token")
    try:
        with Client(running.address, auth_token_file=token_file, timeout=10) as c:
            c.create_study("s", custom_config([3]))
        for token in (None, "wrong", "s3cret-token-but-longer"):
            with Client(running.address, auth_token=token, timeout=10) as c:
                with pytest.raises(errors.UnauthenticatedError, match="bearer token") as info:
                    c.suggest_trial("s")
                assert info.value.code == "UNAUTHENTICATED"
                assert info.value.reason == "ERROR_REASON_UNAUTHENTICATED"
        with Client(running.address, auth_token="s3cret-token") as c:
            assert c.get_study("s").trial_counts.active == 0  # the denied calls changed nothing
        channel = grpc.insecure_channel(running.address)
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        channel.close()
    finally:
        running.stop(1)


def test_server_cli_with_tls_and_token(certs, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("tok")
    proc = subprocess.Popen(
        [
            str(SERVER_BIN),
            "--port",
            "0",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--tls-cert",
            str(certs.server_cert),
            "--tls-key",
            str(certs.server_key),
            "--auth-token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        with Client(address, tls_ca_file=certs.ca, auth_token="tok", timeout=10) as c:
            assert c.create_study("s", custom_config([3])).study_id == "s"
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run(
        [str(SERVER_BIN), "--tls-cert", str(certs.server_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "--tls-cert and --tls-key go together" in bad.stderr


def test_plaintext_on_a_non_loopback_address_warns(certs):
    # Decided without binding anything but loopback in the tests.
    from sanas_server.server import exposure_warning, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert "without TLS or a token" in exposure_warning("0.0.0.0", None, None)
    assert exposure_warning("0.0.0.0", None, "tok") is None
    assert exposure_warning("0.0.0.0", TlsFiles(certs.server_cert, certs.server_key), None) is None
    assert exposure_warning("127.0.0.1", None, None) is None


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read().decode()


def test_metrics_stay_on_loopback_whatever_host_grpc_serves_on(tmp_path):
    # gRPC on ::1 (another loopback address), so where the metrics land tells the two apart.
    running = start_server("::1", 0, None, auth_token="tok", metrics_port=0)
    try:
        port = running.metrics_port
        assert "sanas_rpc_duration_seconds" in fetch(f"http://127.0.0.1:{port}/metrics")
        assert running.metrics_url == f"http://127.0.0.1:{port}/metrics"
        with pytest.raises(OSError):
            fetch(f"http://[::1]:{port}/metrics")  # not bound on the gRPC host
    finally:
        running.stop(1)


def test_metrics_host_moves_the_metrics(tmp_path):
    running = start_server("127.0.0.1", 0, None, metrics_port=0, metrics_host="::1")
    try:
        assert running.metrics_url == f"http://[::1]:{running.metrics_port}/metrics"
        assert "sanas_rpc_duration_seconds" in fetch(running.metrics_url)
    finally:
        running.stop(1)


def test_metrics_on_a_non_loopback_address_warn_even_with_tls_and_a_token():
    # Decided without binding anything but loopback in the tests.
    from sanas_server.server import metrics_exposure_warning

    warning = metrics_exposure_warning("0.0.0.0")
    assert warning is not None and "neither TLS nor a token" in warning
    assert "--metrics-host" in warning
    assert metrics_exposure_warning("10.1.2.3") is not None
    for loopback in ("127.0.0.1", "::1", "localhost"):
        assert metrics_exposure_warning(loopback) is None


def test_server_cli_prints_the_real_metrics_url(server_process):
    server = server_process(extra=("--host", "::1", "--metrics-port", "0"))
    assert server.address.startswith("[::1]:")
    assert server.metrics_url.startswith("http://127.0.0.1:")
    assert "sanas_rpc_duration_seconds" in fetch(server.metrics_url)
    shown = subprocess.run([str(SERVER_BIN), "--help"], capture_output=True, text=True, timeout=30)
    assert "--metrics-host" in shown.stdout
