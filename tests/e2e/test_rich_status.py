"""The standard rich error status over real gRPC (Milvus Lite server), read the way Go, Java and
TypeScript clients read it: `grpc_status.rpc_status.from_call` (grpcio-status) on a raw stub,
no bitrag SDK involved. The legacy `bitrag-field` trailer is still sent beside it."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from bitrag.v1 import bitrag_pb2 as pb
from bitrag.v1 import bitrag_pb2_grpc as pb_grpc


def details(status: status_pb2.Status) -> dict[str, object]:
    """type name -> unpacked detail message."""
    out: dict[str, object] = {}
    for d in status.details:
        for cls in (error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if d.Is(cls.DESCRIPTOR):
                m = cls()
                d.Unpack(m)
                out[cls.DESCRIPTOR.name] = m
    assert len(out) == len(status.details), status
    return out


@pytest.fixture(scope="module")
def stub(lite_server):
    with grpc.insecure_channel(lite_server.target) as ch:
        yield pb_grpc.BitragServiceStub(ch)


@pytest.fixture(scope="module")
def collection(stub) -> str:
    name = f"rich_{uuid.uuid4().hex[:10]}"
    stub.CreateCollection(pb.CreateCollectionRequest(name=name, dimension=16, embedder="none"), timeout=60)
    return name


def test_invalid_argument_carries_bad_request(stub, collection: str) -> None:
    with pytest.raises(grpc.RpcError) as ei:
        stub.Search(pb.SearchRequest(collection=collection, vector=b"\x00\x00\x80\x3f" * 16, top_k=0), timeout=30)
    call = ei.value
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(call)  # raises if code/message disagree with the call's
    assert status is not None and status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == call.details() and status.message.startswith("top_k: ")
    bad = details(status)["BadRequest"]
    assert [v.field for v in bad.field_violations] == ["top_k"]
    assert bad.field_violations[0].description == call.details()
    assert ("bitrag-field", "top_k") in tuple(call.trailing_metadata())  # kept for one version


def test_not_found_names_the_request_field(stub) -> None:
    with pytest.raises(grpc.RpcError) as ei:
        stub.DescribeCollection(pb.DescribeCollectionRequest(name="no_such_collection_x"), timeout=30)
    status = rpc_status.from_call(ei.value)
    assert status is not None and status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert "no_such_collection_x" in status.message
    assert [v.field for v in details(status)["BadRequest"].field_violations] == ["name"]
    assert "RetryInfo" not in details(status)


def test_streaming_call_error_carries_the_status(stub, collection: str) -> None:
    """Ask is server streaming: the status travels in the trailers of the stream."""
    with pytest.raises(grpc.RpcError) as ei:
        list(stub.Ask(pb.AskRequest(collection=collection, question=""), timeout=30))
    status = rpc_status.from_call(ei.value)
    assert status is not None and status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert [v.field for v in details(status)["BadRequest"].field_violations] == ["question"]
