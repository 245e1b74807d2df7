"""SDK exceptions, one per gRPC status the server uses; `from_rpc_error` is the only mapping."""

from __future__ import annotations

import grpc

FIELD_METADATA_KEY = "bitrag-field"
RETRY_AFTER_METADATA_KEY = "bitrag-retry-after-ms"


class BitragError(Exception):
    """Base class. `code` is the gRPC status, `field` the request field at fault (if any),
    `retry_after` the seconds the server suggests waiting before a retry (e.g. an LLM provider's
    429 retry-after), or None."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self, message: str, *, field: str = "", code: grpc.StatusCode | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after
        if code is not None:
            self.code = code


class InvalidArgumentError(BitragError):
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
        InternalError,
    )
}


def from_rpc_error(exc: grpc.RpcError) -> BitragError:
    """grpc.RpcError (sync or aio) -> the matching BitragError subclass."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    field = ""
    retry_after: float | None = None
    trailing = exc.trailing_metadata() if callable(getattr(exc, "trailing_metadata", None)) else None
    for key, value in trailing or ():
        text = value if isinstance(value, str) else value.decode()
        if key == FIELD_METADATA_KEY:
            field = text
        elif key == RETRY_AFTER_METADATA_KEY:
            try:
                retry_after = int(text) / 1000
            except ValueError:
                pass
    cls = _BY_CODE.get(code, BitragError)
    return cls(details or code.name, field=field, code=code, retry_after=retry_after)
