"""Bearer-token check for every sanas.v1 RPC, in one server interceptor. Health checks
and reflection stay open so load balancers and grpcurl `list` work without the token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

from .errors import Unauthenticated
from .service import abort_with

PROTECTED_PREFIX = "/sanas.v1."


class BearerTokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the auth token is empty")
        self._expected = f"Bearer {token}".encode()

    def intercept_service(
        self, continuation: Callable[[Any], grpc.RpcMethodHandler], details: Any
    ) -> grpc.RpcMethodHandler:
        if not details.method.startswith(PROTECTED_PREFIX):
            return continuation(details)
        given = next((v for k, v in details.invocation_metadata or () if k == "authorization"), "")
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        # Constant time: the comparison does not reveal how much of the token matched.
        if hmac.compare_digest(given_bytes, self._expected):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            abort_with(
                context,
                Unauthenticated(
                    "missing or wrong bearer token: send 'authorization: Bearer <token>' "
                    "with the token from the controller's --auth-token-file"
                ),
            )

        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: iter([deny(request, context)]),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
