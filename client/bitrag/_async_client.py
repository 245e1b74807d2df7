"""asyncio client: the same methods as `Client`, awaited. Shares `_core` with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import grpc

from . import _core
from .errors import AlreadyExistsError, from_rpc_error
from .types import (
    AnswerChunk,
    CalibrationInfo,
    CollectionInfo,
    CompactResult,
    DeleteResult,
    Document,
    GateConfig,
    IndexSpec,
    IngestResult,
    LegacyStore,
    Record,
    SearchResult,
)
from .v1 import bitrag_pb2 as pb
from .v1 import bitrag_pb2_grpc as pb_grpc

T = TypeVar("T")


class AsyncClient:
    """Non-blocking bitrag client (grpc.aio). Use `async with AsyncClient(target) as c: ...`."""

    def __init__(
        self,
        target: str = _core.DEFAULT_TARGET,
        *,
        timeout: float | None = 60.0,
        max_message_mb: int = _core.DEFAULT_MAX_MESSAGE_MB,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        tls_ca: str | bytes | None = None,
        tls_client_cert: str | bytes | None = None,
        tls_client_key: str | bytes | None = None,
        tls_server_name: str = "",
    ) -> None:
        self.target = target
        self.timeout = timeout
        self._metadata = _core.call_metadata(token)
        credentials = _core.channel_credentials(credentials, tls_ca, tls_client_cert, tls_client_key)
        opts = _core.channel_options(max_message_mb, tls_server_name)
        self._channel = (
            grpc.aio.secure_channel(target, credentials, opts)
            if credentials
            else grpc.aio.insecure_channel(target, opts)
        )
        self._stub = pb_grpc.BitragServiceStub(self._channel)

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        try:
            return await method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    async def create_collection(
        self,
        name: str,
        *,
        dimension: int = 0,
        embedder: str = "",
        index: IndexSpec | None = None,
        default_oversample: int = 0,
        description: str = "",
        gate: GateConfig | None = None,
        consistency_level: str = "",
        partition_key: str = "",
        num_partitions: int = 0,
        tier: str = "",
        exist_ok: bool = False,
    ) -> CollectionInfo:
        """Create a collection, as `Client.create_collection`; `exist_ok=True`: get-or-create (the
        existing collection when its `dimension` and `embedder` fit, else `AlreadyExistsError`
        with `.field`)."""
        req = _core.create_request(
            name, dimension=dimension, embedder=embedder, index=index,
            default_oversample=default_oversample, description=description, gate=gate,
            consistency_level=consistency_level, partition_key=partition_key, num_partitions=num_partitions,
            tier=tier,
        )
        try:
            return _core.collection_from_proto(await self._call(self._stub.CreateCollection, req))
        except AlreadyExistsError:
            if not exist_ok:
                raise
        return _core.existing_collection(await self.describe_collection(name), dimension=dimension, embedder=embedder)

    async def list_collections(self) -> list[CollectionInfo]:
        resp = await self._call(self._stub.ListCollections, pb.ListCollectionsRequest())
        return [_core.collection_from_proto(c) for c in resp.collections]

    async def describe_collection(self, name: str) -> CollectionInfo:
        return _core.collection_from_proto(
            await self._call(self._stub.DescribeCollection, pb.DescribeCollectionRequest(name=name))
        )

    async def drop_collection(self, name: str) -> None:
        await self._call(self._stub.DropCollection, pb.DropCollectionRequest(name=name))

    async def ingest_documents(
        self,
        collection: str,
        documents: Iterable[Document],
        *,
        chunk_size: int = 0,
        chunk_overlap: int = 0,
        batch_size: int = 32,
        on_progress: Callable[[int], None] | None = None,
        flush: bool = False,
    ) -> IngestResult:
        total = IngestResult()
        for req, n in _core.flush_last(_core.document_requests(
            collection, list(documents), chunk_size=chunk_size, chunk_overlap=chunk_overlap, batch_size=batch_size
        ), flush):
            total += _core.ingest_from_proto(await self._call(self._stub.Ingest, req))
            if on_progress:
                on_progress(n)
        return total

    async def ingest_vectors(
        self,
        collection: str,
        vectors: Any,
        *,
        ids: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        batch_size: int = 2048,
        on_progress: Callable[[int], None] | None = None,
        flush: bool = False,
    ) -> IngestResult:
        total = IngestResult()
        for req, n in _core.flush_last(_core.vector_requests(
            collection, vectors, texts=texts, metadata=metadata, ids=ids, document_ids=document_ids,
            batch_size=batch_size,
        ), flush):
            total += _core.ingest_from_proto(await self._call(self._stub.Ingest, req))
            if on_progress:
                on_progress(n)
        return total

    async def delete(self, collection: str, document_ids: Sequence[str]) -> DeleteResult:
        req = pb.DeleteRequest(collection=collection, document_ids=list(document_ids))
        return _core.delete_from_proto(await self._call(self._stub.Delete, req))

    async def search(
        self, collection: str, query: str | Any, *, top_k: int = 10, filter: str = "", oversample: int = 0,
        mode: str = "AUTO", confidence_threshold: float | None = None,
    ) -> SearchResult:
        req = _core.search_request(
            collection, query, top_k=top_k, filter=filter, oversample=oversample, mode=mode,
            confidence_threshold=confidence_threshold,
        )
        return _core.search_from_proto(await self._call(self._stub.Search, req))

    async def fetch(
        self, collection: str, document_ids: Sequence[str], *, include_vectors: bool = True
    ) -> tuple[list[Record], list[str]]:
        """The stored chunks of documents (1..1000 ids), in row order, each with its float32 vector
        exactly as stored (unless `include_vectors=False`); and the ids that have no live chunk."""
        req = _core.fetch_request(collection, document_ids, include_vectors)
        return _core.fetch_from_proto(await self._call(self._stub.Fetch, req))

    async def set_legacy_store(
        self, collection: str, legacy_store: LegacyStore | None, *, fallback: Sequence[str] = ()
    ) -> CollectionInfo:
        """Name the float32 store `collection` is migrating from (live shadow reads at
        `legacy_store.shadow_rate`; the "collection" fallback answers from it), or unlink it with
        None (cutover: "collection" leaves the fallback chain). `fallback`: a new chain."""
        req = _core.set_legacy_request(collection, legacy_store, fallback)
        return _core.collection_from_proto(await self._call(self._stub.SetLegacyStore, req))

    async def calibrate(self, collection: str, *, samples: int = 0) -> CalibrationInfo:
        req = pb.CalibrateRequest(collection=collection, samples=samples)
        return _core.calibration_from_proto(await self._call(self._stub.Calibrate, req))

    async def compact(self, collection: str, *, force: bool = False) -> CompactResult:
        """Reclaim the space of deleted and replaced rows now (searches go on meanwhile; writes to
        the collection wait). `force`: even when no row is dead. Returns rows and bytes before/after."""
        req = pb.CompactRequest(collection=collection, force=force)
        return _core.compact_from_proto(await self._call(self._stub.Compact, req))

    async def ask(
        self, collection: str, question: str, *, top_k: int = 0, filter: str = "", oversample: int = 0,
        mode: str = "AUTO", confidence_threshold: float | None = None, model: str = "",
        temperature: float | None = None, max_tokens: int = 0, cache: bool = True,
    ) -> AsyncIterator[AnswerChunk]:
        """Ask a question: retrieval, then an answer citing the sources as [n], streamed.

        Use with `async for`; yields `AnswerChunk`s: `chunk.text` pieces of the answer, then one last chunk whose
        `chunk.summary` holds the whole answer, the sources (ids, scores, snippets, metadata), the
        model, token usage, timings and the cache status. If generation fails after retrieval,
        the last chunk (with the sources and `summary.error`) is still yielded, and the iteration
        then raises the matching `BitragError` (e.g. `ResourceExhaustedError` with `.retry_after`).
        `cache=False` neither reads nor writes the server's answer cache."""
        req = _core.ask_request(
            collection, question, top_k=top_k, filter=filter, oversample=oversample, mode=mode,
            confidence_threshold=confidence_threshold, model=model, temperature=temperature,
            max_tokens=max_tokens, cache=cache,
        )
        call = self._stub.Ask(req, timeout=self.timeout, metadata=self._metadata)
        try:
            async for r in call:
                yield _core.answer_chunk_from_proto(r)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # no-op when finished; stops the server's work if the caller breaks out

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
