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
            "Ingest", "Delete", "Search", "Ask", "Calibrate",
        }
        ask = svc.FindMethodByName("Ask")
        assert ask.server_streaming and not ask.client_streaming  # other languages see a stream
        search_req = pool.FindMessageTypeByName("bitrag.v1.SearchRequest")
        assert {"collection", "text", "vector", "top_k", "filter", "oversample"} <= set(search_req.fields_by_name)
