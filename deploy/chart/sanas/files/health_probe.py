"""Health probe for a controller that serves TLS, and the `helm test` pod's check.

Kubernetes' native gRPC probe cannot speak TLS, so with tls.enabled the chart runs this
inside the controller container instead: a grpc.health.v1 Check over TLS to 127.0.0.1,
verifying the server certificate against the CA under the service's DNS name (and, with
mutual TLS, presenting a client certificate). Exit 0 when the server answers SERVING.
`helm test` runs it against the Service (--host), in plaintext when there is no --ca
(insecure: true). Health checks need no bearer token. Only grpcio and
grpcio-health-checking are needed; both are in the controller image.
"""

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8881)
    p.add_argument("--ca", help="CA of the server certificate; without it, plaintext")
    p.add_argument("--server-name", help="name the server certificate must carry (with --ca)")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--timeout", type=float, default=4.0)
    a = p.parse_args()
    if bool(a.ca) != bool(a.server_name):
        p.error("--ca and --server-name go together")
    target = f"[{a.host}]:{a.port}" if ":" in a.host else f"{a.host}:{a.port}"
    if a.ca:
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(a.ca), private_key=read(a.key), certificate_chain=read(a.cert)
        )
        options = [("grpc.ssl_target_name_override", a.server_name)]
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        channel = grpc.insecure_channel(target)
    try:
        with channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=a.timeout
            )
    except grpc.RpcError as exc:
        print(f"health check failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(status)
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
