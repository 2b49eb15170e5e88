"""Server interceptors: requests that are not valid messages get INVALID_ARGUMENT (gRPC
would say INTERNAL), and bearer tokens with roles guard every sanas.v1 RPC (admin calls
audited). Health checks and reflection stay open so load balancers and grpcurl `list`
work without a token."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from sanas.v1.sanas_pb2 import DeleteStudyResponse, RestoreStudyResponse

from .audit import AuditLog
from .controller import iso_time
from .credentials import (
    ADMIN,
    CURRENT_PRINCIPAL,
    SERVICE,
    TRAINER_METHODS,
    Principal,
    TokenStore,
)
from .errors import InvalidArgument, PermissionDenied, Unauthenticated
from .service import CLIENT_ID_METADATA, abort_with

PROTECTED_PREFIX = "/sanas.v1."


AUDITED = {
    SERVICE + "CreateStudy": "create_study",
    # A soft delete; with `purge` in the request the record's action is "purge_study".
    SERVICE + "DeleteStudy": "delete_study",
    SERVICE + "UndeleteStudy": "undelete_study",
    SERVICE + "ImportPaddleSlimCheckpoint": "import_study",
    SERVICE + "BackupStudy": "backup_study",
    # Its request is a stream: the record names the restored study from the response.
    SERVICE + "RestoreStudy": "restore_study",
}


# What a servicer method's handler is to an interceptor (the stubs' RpcMethodHandler is
# generic over the request and response types; every sanas.v1 method is one handler type).
Handler = Callable[[grpc.HandlerCallDetails], "grpc.RpcMethodHandler[Any, Any] | None"]


def _unary_behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> Callable[..., Any]:
    """A unary-request handler's behavior (every sanas.v1 method takes one request)."""
    behavior = handler.unary_stream if handler.response_streaming else handler.unary_unary
    if behavior is None:
        raise TypeError(f"not a unary-request method handler: {handler!r}")
    return behavior


def with_behavior(
    handler: grpc.RpcMethodHandler[Any, Any],
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same handler with its behavior wrapped (a streamed request's behavior gets the
    request iterator)."""
    if handler.request_streaming:
        if handler.stream_unary is None:
            raise TypeError(f"not a stream-unary method handler: {handler!r}")
        return grpc.stream_unary_rpc_method_handler(
            wrap(handler.stream_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            wrap(_unary_behavior(handler)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        wrap(_unary_behavior(handler)),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _refusal(
    handler: grpc.RpcMethodHandler[Any, Any], refuse: Callable[..., Any]
) -> grpc.RpcMethodHandler[Any, Any]:
    def wrap(_behavior: Callable[..., Any]) -> Callable[..., Any]:
        if handler.response_streaming:
            return lambda request, context: iter([refuse(request, context)])
        return refuse

    return with_behavior(handler, wrap)


def _code_name(context: grpc.ServicerContext) -> str:
    try:
        # grpc's server context has code() (1.38+); the stubs' ServicerContext lacks it.
        code = context.code()  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError):
        code = None
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))
    return "UNKNOWN"


class AccessInterceptor(grpc.ServerInterceptor):
    """Bearer tokens and their roles for every sanas.v1 RPC, and the audit log.

    `tokens` None: no token is checked (full access, as without --auth-token-file);
    `audit`: where create, delete and import calls (done or refused) are recorded."""

    def __init__(self, tokens: TokenStore | None, audit: AuditLog | None = None) -> None:
        self._tokens = tokens
        self._audit = audit

    def _record(
        self,
        method: str,
        request: Any,
        context: grpc.ServicerContext,
        principal: Principal | None,
        outcome: str,
        **extra: Any,
    ) -> None:
        if self._audit is None:
            return
        metadata = dict(context.invocation_metadata() or ())
        action = AUDITED[method]
        if method == SERVICE + "DeleteStudy" and getattr(request, "purge", False) is True:
            action = "purge_study"
        self._audit.record(
            {
                "action": action,
                "study_id": getattr(request, "study_id", None),
                "outcome": outcome,
                **extra,
                "role": principal.role if principal else None,
                "token": principal.label if principal else None,
                "token_fingerprint": principal.fingerprint if principal else None,
                "client_id": str(metadata.get(CLIENT_ID_METADATA, ""))[:128] or None,
                "user_agent": str(metadata.get("user-agent", ""))[:256] or None,
                "peer": context.peer(),
            }
        )

    def intercept_service(
        self, continuation: Handler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        method = details.method
        if handler is None or not method.startswith(PROTECTED_PREFIX):
            return handler
        principal: Principal | None = None
        if self._tokens is not None:
            given = next(
                (v for k, v in details.invocation_metadata or () if k == "authorization"), ""
            )
            given = given.decode(errors="replace") if isinstance(given, bytes) else str(given)
            token = given[len("Bearer ") :] if given.startswith("Bearer ") else ""
            principal = self._tokens.lookup(token) if token else None
            if principal is None:
                return _refusal(handler, self._unauthenticated(method, token))
            if principal.role != ADMIN and method not in TRAINER_METHODS:
                return _refusal(handler, self._forbidden(method, principal))
        audited = method in AUDITED

        def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
            def guarded(request: Any, context: grpc.ServicerContext) -> Any:
                reset = CURRENT_PRINCIPAL.set(principal)
                try:
                    if not audited or isinstance(request, _Malformed):
                        return behavior(request, context)
                    try:
                        response = behavior(request, context)
                    except Exception:
                        code = _code_name(context)
                        outcome = "denied" if code == "PERMISSION_DENIED" else "failed"
                        self._record(method, request, context, principal, outcome, code=code)
                        raise
                    created = getattr(response, "created", True)
                    outcome = "ok" if created else "joined"  # CreateStudy of an existing one
                    extra: dict[str, Any] = {}
                    if isinstance(response, RestoreStudyResponse):
                        extra["study_id"] = response.study.study_id
                    if isinstance(response, DeleteStudyResponse):
                        if response.HasField("study"):  # soft: when it will be purged
                            expires = response.study.expire_time.ToNanoseconds() / 1e9
                            extra["expire_time"] = iso_time(expires)
                        else:  # purged at once (asked for, a broken study, retention 0)
                            extra["purged"] = True
                    self._record(method, request, context, principal, outcome, **extra)
                    return response
                finally:
                    CURRENT_PRINCIPAL.reset(reset)

            return guarded

        return with_behavior(handler, wrap)

    def _unauthenticated(self, method: str, token: str) -> Callable[..., Any]:
        was = self._tokens.removed(token) if token and self._tokens else None

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            if method in AUDITED:
                self._record(method, request, context, None, "unauthenticated")
            if was is not None:
                principal, when = was
                at = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(when))
                message = (
                    f"this bearer token ({principal.role} {principal.label}, "
                    f"{principal.fingerprint}) was removed from the controller's tokens at "
                    f"{at} (rotated): send a current token"
                )
            else:
                message = (
                    "missing or wrong bearer token: send 'authorization: Bearer <token>' "
                    "with a token of the controller's --auth-token-file or --tokens-file"
                )
            abort_with(context, Unauthenticated(message))

        return deny

    def _forbidden(self, method: str, principal: Principal) -> Callable[..., Any]:
        call = method.rsplit("/", 1)[-1]

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            if method in AUDITED:
                self._record(
                    method, request, context, principal, "denied", code="PERMISSION_DENIED"
                )
            abort_with(
                context,
                PermissionDenied(
                    f"{call} needs an admin token; this token ({principal.label}) has the "
                    f"role {principal.role!r}, which may suggest, report and complete trials "
                    "and read studies; nothing was changed"
                ),
            )

        return deny


class _Malformed:
    """Stands in for a request whose bytes did not decode."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class MalformedRequestInterceptor(grpc.ServerInterceptor):
    """Decode sanas.v1 requests ourselves so undecodable bytes are a precise error."""

    def intercept_service(
        self, continuation: Handler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
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

        def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
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
                wrap(_unary_behavior(handler)),
                request_deserializer=tolerant_decode,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            wrap(_unary_behavior(handler)),
            request_deserializer=tolerant_decode,
            response_serializer=handler.response_serializer,
        )
