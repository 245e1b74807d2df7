"""bitrag.errors.from_rpc_error (pure) and the status table both sides agree on."""

from __future__ import annotations

import grpc
import pytest

import bitrag
import bitrag.errors as client_errors
import bitrag_server.errors as server_errors
from bitrag.errors import FIELD_METADATA_KEY, from_rpc_error


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str | None = "", trailing: tuple | None = ()) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> tuple | None:
        return self._trailing


# one table: status <-> server exception <-> client exception
TABLE = [
    (grpc.StatusCode.INVALID_ARGUMENT, server_errors.InvalidArgument, bitrag.InvalidArgumentError),
    (grpc.StatusCode.NOT_FOUND, server_errors.NotFound, bitrag.NotFoundError),
    (grpc.StatusCode.ALREADY_EXISTS, server_errors.AlreadyExists, bitrag.AlreadyExistsError),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, server_errors.ResourceExhausted, bitrag.ResourceExhaustedError),
    (grpc.StatusCode.FAILED_PRECONDITION, server_errors.FailedPrecondition, bitrag.FailedPreconditionError),
    (grpc.StatusCode.UNAVAILABLE, server_errors.Unavailable, bitrag.UnavailableError),
    (grpc.StatusCode.DEADLINE_EXCEEDED, server_errors.DeadlineExceeded, bitrag.DeadlineExceededError),
    (grpc.StatusCode.UNAUTHENTICATED, server_errors.Unauthenticated, bitrag.UnauthenticatedError),
    (grpc.StatusCode.PERMISSION_DENIED, server_errors.PermissionDenied, bitrag.PermissionDeniedError),
    (grpc.StatusCode.INTERNAL, server_errors.Internal, bitrag.InternalError),
]


@pytest.mark.parametrize(("code", "server_cls", "client_cls"), TABLE)
def test_both_sides_agree(code: grpc.StatusCode, server_cls: type, client_cls: type) -> None:
    assert server_cls.code == code
    assert client_cls.code == code
    assert server_cls("x").code == code  # instance too
    assert issubclass(server_cls, server_errors.BitragError)


def test_table_covers_every_server_error() -> None:
    server_classes = {
        c for c in vars(server_errors).values()
        if isinstance(c, type)
        and issubclass(c, server_errors.BitragError)
        and c is not server_errors.BitragError
    }
    assert server_classes == {s for _, s, _ in TABLE}
    assert server_errors.FIELD_METADATA_KEY == client_errors.FIELD_METADATA_KEY == "bitrag-field"
    # every server status has a client class (the client also knows DEADLINE_EXCEEDED)
    # (and CANCELLED: gRPC core cancels a call that meets a server shutting down)
    assert set(client_errors._BY_CODE) == {c for c, _, _ in TABLE} | {grpc.StatusCode.DEADLINE_EXCEEDED,
                                                                      grpc.StatusCode.CANCELLED}


@pytest.mark.parametrize(("code", "server_cls", "client_cls"), TABLE)
def test_from_rpc_error_maps_class_and_field(
    code: grpc.StatusCode, server_cls: type, client_cls: type
) -> None:
    # what the server's interceptor sends for a field error: message "field: ...", trailing field
    srv = server_cls("is required", field="documents[0].id")
    exc = from_rpc_error(FakeRpcError(code, srv.message, ((FIELD_METADATA_KEY, srv.field),)))
    assert type(exc) is client_cls
    assert exc.code == code
    assert exc.field == "documents[0].id"
    assert exc.message == "documents[0].id: is required"
    assert str(exc) == exc.message
    assert isinstance(exc, bitrag.BitragError)


def test_field_from_bytes_and_other_metadata_ignored() -> None:
    exc = from_rpc_error(
        FakeRpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "filter: syntax error",
            (("x-other", "v"), ("bitrag-field-bin", b"no"), (FIELD_METADATA_KEY, b"filter")),
        )
    )
    assert isinstance(exc, bitrag.InvalidArgumentError) and exc.field == "filter"


def test_no_field() -> None:
    exc = from_rpc_error(FakeRpcError(grpc.StatusCode.NOT_FOUND, "collection 'x' does not exist", None))
    assert isinstance(exc, bitrag.NotFoundError) and exc.field == ""
    exc = from_rpc_error(FakeRpcError(grpc.StatusCode.NOT_FOUND, "gone", ()))
    assert exc.field == "" and exc.message == "gone"


def test_deadline_exceeded() -> None:
    exc = from_rpc_error(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))
    assert isinstance(exc, bitrag.DeadlineExceededError)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED,
                                  grpc.StatusCode.DATA_LOSS])
def test_unmapped_status_is_base_class_with_code(code: grpc.StatusCode) -> None:
    exc = from_rpc_error(FakeRpcError(code, ""))
    assert type(exc) is bitrag.BitragError
    assert exc.code == code
    assert exc.message == code.name  # empty details -> the status name


def test_rpc_error_without_accessors() -> None:
    exc = from_rpc_error(grpc.RpcError("bare"))
    assert type(exc) is bitrag.BitragError and exc.code == grpc.StatusCode.UNKNOWN
    assert exc.message == "bare"


def test_code_override_does_not_leak_to_class() -> None:
    from_rpc_error(FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "x"))
    assert bitrag.BitragError.code == grpc.StatusCode.UNKNOWN
    assert bitrag.BitragError("m").code == grpc.StatusCode.UNKNOWN


def test_server_error_message_format() -> None:
    e = server_errors.InvalidArgument("not in 1..1000", field="top_k")
    assert (e.field, e.message, str(e)) == ("top_k", "top_k: not in 1..1000", "top_k: not in 1..1000")
    e = server_errors.NotFound("nope")
    assert (e.field, e.message) == ("", "nope")


def test_retry_after_from_trailing_metadata() -> None:
    exc = from_rpc_error(FakeRpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limit", (("bitrag-retry-after-ms", "2500"),)
    ))
    assert isinstance(exc, bitrag.ResourceExhaustedError)
    assert exc.retry_after == 2.5
    assert from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "x")).retry_after is None
    assert from_rpc_error(FakeRpcError(
        grpc.StatusCode.UNAVAILABLE, "x", (("bitrag-retry-after-ms", "junk"),)
    )).retry_after is None


# ---- the standard rich status (grpc-status-details-bin) ------------------------------------------


def _rich_only(code: grpc.StatusCode, message: str, **kw) -> tuple:
    """What the server sends, minus the legacy `bitrag-*` trailers."""
    md = server_errors.error_trailers(code, message, **kw)
    return tuple((k, v) for k, v in md if k == client_errors.STATUS_DETAILS_KEY)


def test_rich_status_alone_gives_field_and_retry_after() -> None:
    code = grpc.StatusCode.INVALID_ARGUMENT
    exc = from_rpc_error(FakeRpcError(code, "top_k: 0 not in 1..1000", _rich_only(code, "x", field="top_k")))
    assert isinstance(exc, bitrag.InvalidArgumentError) and exc.field == "top_k" and exc.retry_after is None
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    exc = from_rpc_error(FakeRpcError(code, "429", _rich_only(code, "429", retry_after_s=2.5)))
    assert isinstance(exc, bitrag.ResourceExhaustedError) and exc.retry_after == 2.5 and exc.field == ""


def test_rich_status_wins_over_legacy_trailers_and_bad_ones_are_ignored() -> None:
    code = grpc.StatusCode.INVALID_ARGUMENT
    md = _rich_only(code, "m", field="filter") + ((FIELD_METADATA_KEY, "stale"),)
    assert from_rpc_error(FakeRpcError(code, "m", md)).field == "filter"
    # a status about another code (rewritten by a proxy) or junk bytes: the legacy trailer stands
    other = _rich_only(grpc.StatusCode.NOT_FOUND, "m", field="filter")
    assert from_rpc_error(FakeRpcError(code, "m", other + ((FIELD_METADATA_KEY, "top_k"),))).field == "top_k"
    junk = ((client_errors.STATUS_DETAILS_KEY, b"\xff\xff\xff"), (FIELD_METADATA_KEY, "top_k"))
    assert from_rpc_error(FakeRpcError(code, "m", junk)).field == "top_k"


def test_rich_status_proto_content() -> None:
    from google.rpc import error_details_pb2

    st = server_errors.rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", field="q", retry_after_s=1.25)
    assert st.code == 8 and st.message == "slow down"
    bad, retry = error_details_pb2.BadRequest(), error_details_pb2.RetryInfo()
    assert st.details[0].Unpack(bad) and st.details[1].Unpack(retry)
    assert [(v.field, v.description) for v in bad.field_violations] == [("q", "slow down")]
    assert retry.retry_delay.ToMilliseconds() == 1250
    assert not server_errors.rich_status(grpc.StatusCode.NOT_FOUND, "gone").details


def test_an_error_names_the_server_the_client_called() -> None:
    """Over real gRPC to a port nothing listens on: the error names the address called, so the CLI
    says "no server at" only about its own --target (a bench calls the server it started)."""
    import asyncio
    import socket

    with socket.socket() as s:  # bound, never listening
        s.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{s.getsockname()[1]}"
        with bitrag.Client(target, timeout=10) as c, pytest.raises(bitrag.UnavailableError) as sync_err:
            c.list_collections()

        async def call() -> None:
            async with bitrag.AsyncClient(target, timeout=10) as ac:
                await ac.list_collections()

        with pytest.raises(bitrag.UnavailableError) as async_err:
            asyncio.run(call())
    assert sync_err.value.target == target and async_err.value.target == target
    assert from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "x")).target == ""
