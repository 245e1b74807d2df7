"""SDK exceptions, one per gRPC status the server uses; `from_rpc_error` is the only mapping."""

from __future__ import annotations

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

# The server sends the standard rich status (google.rpc.Status in `grpc-status-details-bin`) and,
# for one more version, the same facts as `bitrag-*` trailers; the rich status wins.
FIELD_METADATA_KEY = "bitrag-field"
RETRY_AFTER_METADATA_KEY = "bitrag-retry-after-ms"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class BitragError(Exception):
    """Base class. `code` is the gRPC status, `field` the request field at fault (if any),
    `retry_after` the seconds the server suggests waiting before a retry (e.g. an LLM provider's
    429 retry-after), or None; `target` the server address the client called ("" when raised
    before any call)."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self, message: str, *, field: str = "", code: grpc.StatusCode | None = None,
        retry_after: float | None = None, target: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.field = field
        self.retry_after = retry_after
        if code is not None:
            self.code = code


class InvalidArgumentError(BitragError, ValueError):
    """A request the server (or the SDK, before sending) rejects: `.field` names the field, e.g.
    `top_k`, `documents[3].metadata.year`, `ids`. Also a ValueError, as for any bad argument."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(BitragError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(BitragError):
    code = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhaustedError(BitragError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(BitragError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class UnavailableError(BitragError):
    """The server or one of its backends is unreachable; retrying may succeed."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(BitragError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnauthenticatedError(BitragError):
    """No valid bearer token: pass `token=` (CLI `--token` / `BITRAG_TOKEN`)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(BitragError):
    """The token lacks the role (a read token that writes) or the collection the call needs."""

    code = grpc.StatusCode.PERMISSION_DENIED


class CallCancelledError(BitragError):
    """CANCELLED: the call was cancelled (named so it is not mistaken for asyncio.CancelledError)."""

    code = grpc.StatusCode.CANCELLED


class InternalError(BitragError):
    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[BitragError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        ResourceExhaustedError,
        FailedPreconditionError,
        UnavailableError,
        DeadlineExceededError,
        UnauthenticatedError,
        PermissionDeniedError,
        CallCancelledError,
        InternalError,
    )
}


def _rich_details(raw: bytes, code: grpc.StatusCode) -> tuple[str, float | None]:
    """(field, retry_after) from a serialized google.rpc.Status; ("", None) if absent or not
    about this status (a proxy may have rewritten the code)."""
    status = status_pb2.Status()
    try:
        status.ParseFromString(raw)
    except DecodeError:
        return "", None
    if status.code != code.value[0]:
        return "", None
    field, retry_after = "", None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations and not field:
                field = bad.field_violations[0].field
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            retry_after = info.retry_delay.ToMilliseconds() / 1000
    return field, retry_after


def from_rpc_error(exc: grpc.RpcError, target: str = "") -> BitragError:
    """grpc.RpcError (sync or aio) from a call to `target` -> the matching BitragError subclass."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    field = ""
    retry_after: float | None = None
    rich: tuple[str, float | None] = ("", None)
    trailing = exc.trailing_metadata() if callable(getattr(exc, "trailing_metadata", None)) else None
    for key, value in trailing or ():
        if key == STATUS_DETAILS_KEY:
            rich = _rich_details(value if isinstance(value, bytes) else value.encode(), code)
            continue
        text = value if isinstance(value, str) else value.decode()
        if key == FIELD_METADATA_KEY:
            field = text
        elif key == RETRY_AFTER_METADATA_KEY:
            try:
                retry_after = int(text) / 1000
            except ValueError:
                pass
    field = rich[0] or field
    retry_after = rich[1] if rich[1] is not None else retry_after
    cls = _BY_CODE.get(code, BitragError)
    return cls(details or code.name, field=field, code=code, retry_after=retry_after, target=target)
