"""Server interceptors: requests that are not valid messages get INVALID_ARGUMENT (gRPC
would say INTERNAL), and a bearer-token check guards every sanas.v1 RPC. Health checks and
reflection stay open so load balancers and grpcurl `list` work without the token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from .errors import InvalidArgument, Unauthenticated
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


class _Malformed:
    """Stands in for a request whose bytes did not decode."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class MalformedRequestInterceptor(grpc.ServerInterceptor):
    """Decode sanas.v1 requests ourselves so undecodable bytes are a precise error."""

    def intercept_service(
        self, continuation: Callable[[Any], grpc.RpcMethodHandler], details: Any
    ) -> grpc.RpcMethodHandler:
        handler = continuation(details)
        if (
            handler is None
            or not details.method.startswith(PROTECTED_PREFIX)
            or handler.request_streaming
            or handler.request_deserializer is None
        ):
            return handler
        decode = handler.request_deserializer
        method = details.method

        def tolerant_decode(data: bytes) -> Any:
            try:
                return decode(data)
            except (DecodeError, ValueError, UnicodeDecodeError) as exc:
                return _Malformed(exc)

        def wrap(behavior: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
            def guarded(request: Any, context: grpc.ServicerContext) -> Any:
                if isinstance(request, _Malformed):
                    abort_with(
                        context,
                        InvalidArgument(
                            f"the request to {method} is not a valid protobuf message of "
                            f"its type: {request.error}"
                        ),
                    )
                return behavior(request, context)

            return guarded

        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                wrap(handler.unary_stream),
                request_deserializer=tolerant_decode,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary),
            request_deserializer=tolerant_decode,
            response_serializer=handler.response_serializer,
        )
