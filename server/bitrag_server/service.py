"""The gRPC servicer: proto -> domain (convert) -> engine -> proto. Errors raised anywhere below
are mapped to statuses by `errors.ErrorInterceptor`, not here."""

from __future__ import annotations

import grpc

from bitrag.v1 import bitrag_pb2 as pb
from bitrag.v1 import bitrag_pb2_grpc as pb_grpc

from . import convert, guard
from .answer.asker import Asker
from .engine import Engine


class BitragService(pb_grpc.BitragServiceServicer):
    def __init__(self, engine: Engine, asker: Asker) -> None:
        self.engine = engine
        self.asker = asker

    async def CreateCollection(self, request: pb.CreateCollectionRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        stats = await self.engine.create_collection(convert.from_proto_create(request))
        return convert.to_proto_collection(stats)

    async def ListCollections(self, request: pb.ListCollectionsRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        stats = await self.engine.list_collections()
        return pb.ListCollectionsResponse(
            collections=[convert.to_proto_collection(s) for s in stats if guard.visible(s.name)]
        )

    async def DescribeCollection(self, request: pb.DescribeCollectionRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        return convert.to_proto_collection(await self.engine.describe(request.name))

    async def DropCollection(self, request: pb.DropCollectionRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        await self.engine.drop(request.name)
        return pb.DropCollectionResponse()

    async def Ingest(self, request: pb.IngestRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        result = await self.engine.ingest(
            request.collection,
            convert.from_proto_documents(request),
            convert.from_proto_records(request),
            request.chunk_size,
            request.chunk_overlap,
            flush=request.flush,
        )
        return convert.to_proto_ingest(result)

    async def Delete(self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        result = await self.engine.delete(request.collection, list(request.document_ids))
        return convert.to_proto_delete(result)

    async def ListDocuments(self, request: pb.ListDocumentsRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        page = await self.engine.list_documents(
            request.collection, page_size=request.page_size, page_token=request.page_token,
            document_ids=list(request.document_ids), prefix=request.prefix,
        )
        return convert.to_proto_documents(page)

    async def Search(self, request: pb.SearchRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        result = await self.engine.search(convert.from_proto_search(request))
        return convert.to_proto_search(result)

    async def Fetch(self, request: pb.FetchRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        records, missing = await self.engine.fetch(request.collection, list(request.document_ids),
                                                   request.include_vectors)
        return convert.to_proto_fetch(records, missing)

    async def SetLegacyStore(self, request: pb.SetLegacyStoreRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        stats = await self.engine.set_legacy_store(
            request.collection, convert.from_proto_legacy(request.legacy_store), list(request.fallback)
        )
        return convert.to_proto_collection(stats)

    async def Calibrate(self, request: pb.CalibrateRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        cal, duration_us = await self.engine.calibrate(request.collection, request.samples)
        c = await self.engine.describe(request.collection)
        return convert.to_proto_calibration(cal, c.threshold, duration_us)

    async def Compact(self, request: pb.CompactRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        return convert.to_proto_compact(await self.engine.compact(request.collection, force=request.force))

    async def Ask(self, request: pb.AskRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        async for event in self.asker.ask(convert.from_proto_ask(request)):
            yield convert.to_proto_ask(event)
