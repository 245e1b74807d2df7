"""The standard gRPC health service and server reflection, as a grpcurl-style client sees them."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def test_health_serving_for_server_and_service(lite_server) -> None:
    with grpc.insecure_channel(lite_server.target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", "bitrag.v1.BitragService"):
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        try:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
        else:
            raise AssertionError("unknown service reported healthy")


def test_reflection_lists_and_describes_the_api(lite_server) -> None:
    with grpc.insecure_channel(lite_server.target) as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        services = set(db.get_services())
        assert {"bitrag.v1.BitragService", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
        pool = descriptor_pool.DescriptorPool(db)
        svc = pool.FindServiceByName("bitrag.v1.BitragService")
        methods = {m.name for m in svc.methods}
        assert methods == {
            "CreateCollection", "ListCollections", "DescribeCollection", "DropCollection",
            "Ingest", "Delete", "ListDocuments", "Search", "Ask", "Calibrate", "Fetch", "SetLegacyStore", "Compact",
        }
        ask = svc.FindMethodByName("Ask")
        assert ask.server_streaming and not ask.client_streaming  # other languages see a stream
        search_req = pool.FindMessageTypeByName("bitrag.v1.SearchRequest")
        assert {"collection", "text", "vector", "top_k", "filter", "oversample"} <= set(search_req.fields_by_name)


def test_calls_through_reflection_alone(lite_server) -> None:
    """What `grpcurl -plaintext -d '{...}' HOST bitrag.v1.BitragService/Search` does: the request is
    built from JSON with message types found by reflection, sent without generated stubs, and the
    error's rich status read the same way (docs/api.md shows these calls)."""
    import base64
    import struct
    import uuid

    from google.protobuf import json_format, message_factory
    from grpc_status import rpc_status

    with grpc.insecure_channel(lite_server.target) as ch:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(ch))
        svc = pool.FindServiceByName("bitrag.v1.BitragService")

        def call(method: str, body: dict) -> dict:
            m = svc.FindMethodByName(method)
            req_cls = message_factory.GetMessageClass(m.input_type)
            res_cls = message_factory.GetMessageClass(m.output_type)
            rpc = ch.unary_unary(f"/{svc.full_name}/{method}", request_serializer=req_cls.SerializeToString,
                                 response_deserializer=res_cls.FromString)
            return json_format.MessageToDict(rpc(json_format.ParseDict(body, req_cls()), timeout=60))

        name = f"refl_{uuid.uuid4().hex[:10]}"
        info = call("CreateCollection", {"name": name, "dimension": 8, "embedder": "none"})
        assert info["name"] == name and info["dimension"] == 8
        vec = base64.b64encode(struct.pack("<8f", *([1.0] + [0.0] * 7))).decode()  # JSON bytes: base64
        call("Ingest", {"collection": name, "records": [{"id": "a", "vector": vec, "metadata": {"k": "v"}}]})
        res = call("Search", {"collection": name, "vector": vec, "topK": 1, "mode": "SEARCH_MODE_EXACT"})
        assert res["hits"][0]["chunkId"] == "a" and res["hits"][0]["metadata"] == {"k": "v"}
        assert res["diagnostics"]["path"] == "SEARCH_PATH_EXACT"
        try:
            call("Search", {"collection": name, "vector": vec, "topK": 0})
        except grpc.RpcError as exc:
            status = rpc_status.from_call(exc)
            assert status is not None and status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert status.details[0].type_url == "type.googleapis.com/google.rpc.BadRequest"
        else:
            raise AssertionError("top_k 0 accepted")
