"""Typed errors. Each carries its gRPC status code; the server maps them to statuses in exactly one
place (`ErrorInterceptor`), the SDK maps statuses back in exactly one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

log = logging.getLogger(__name__)

# Kept for one version beside the standard rich status (`grpc-status-details-bin`), which carries
# the same facts as google.rpc.BadRequest / google.rpc.RetryInfo.
FIELD_METADATA_KEY = "bitrag-field"
RETRY_AFTER_METADATA_KEY = "bitrag-retry-after-ms"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class BitragError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, field: str = "", retry_after_s: float | None = None) -> None:
        self.field = field
        self.retry_after_s = retry_after_s  # sent as `bitrag-retry-after-ms` when known
        self.message = f"{field}: {message}" if field else message
        super().__init__(self.message)


class InvalidArgument(BitragError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(BitragError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(BitragError):
    code = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhausted(BitragError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(BitragError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(BitragError):
    """A backend (Milvus, an embedding API) is unreachable; safe to retry."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(BitragError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(BitragError):
    """No valid bearer token (the message never repeats what was sent)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(BitragError):
    """A valid token without the role or the collection the call needs."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Internal(BitragError):
    code = grpc.StatusCode.INTERNAL


def rich_status(code: grpc.StatusCode, message: str, *, field: str = "",
                retry_after_s: float | None = None) -> status_pb2.Status:
    """The standard google.rpc.Status of an error (what Go, Java and TypeScript clients parse):
    the field at fault as a BadRequest field violation, the retry hint as RetryInfo."""
    details = []
    if field:
        details.append(error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=message)]
        ))
    if retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(round(retry_after_s * 1000))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


def error_trailers(code: grpc.StatusCode, message: str, *, field: str = "",
                   retry_after_s: float | None = None) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata of an error: the rich status, plus the legacy `bitrag-*` keys."""
    md: list[tuple[str, str | bytes]] = []
    if field:
        md.append((FIELD_METADATA_KEY, field))
    if retry_after_s is not None:
        md.append((RETRY_AFTER_METADATA_KEY, str(round(retry_after_s * 1000))))
    status = rich_status(code, message, field=field, retry_after_s=retry_after_s)
    md.append((STATUS_DETAILS_KEY, status.SerializeToString()))
    return tuple(md)


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, BitragError):
        code, message = exc.code, exc.message
        md = error_trailers(code, message, field=exc.field, retry_after_s=exc.retry_after_s)
    else:
        log.exception("unhandled error")
        code, message = grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
        md = error_trailers(code, message)
    context.set_trailing_metadata(md)
    await context.abort(code, message)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns exceptions raised by bitrag handlers into gRPC statuses: the only place that does."""

    def __init__(self, service_prefix: str = "/bitrag.") -> None:
        self._prefix = service_prefix

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefix):
            return handler
        kw = dict(
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        if handler.unary_unary is not None:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner_uu(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:  # noqa: BLE001 - mapped to a status below
                    await _abort(context, exc)

            return grpc.unary_unary_rpc_method_handler(unary_unary, **kw)
        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                try:
                    async for item in inner_us(request, context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    await _abort(context, exc)

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kw)
        return handler
