"""Synchronous client."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc

from . import _core
from ._files import file_ids, read_selected, scan_to_ingest
from ._unchanged import select_files
from .errors import AlreadyExistsError, from_rpc_error
from .types import (
    AnswerChunk,
    CalibrationInfo,
    CollectionInfo,
    CompactResult,
    DeleteResult,
    Document,
    DocumentInfo,
    DocumentPage,
    GateConfig,
    IndexSpec,
    IngestProgress,
    IngestResult,
    LegacyStore,
    Record,
    SearchResult,
)
from .v1 import bitrag_pb2 as pb
from .v1 import bitrag_pb2_grpc as pb_grpc

T = TypeVar("T")


class Client:
    """Blocking bitrag client.

    >>> with Client("127.0.0.1:50051") as c:
    ...     c.create_collection("docs")
    ...     c.ingest_documents("docs", [Document("a", "Binary codes live in RAM.")])
    ...     res = c.search("docs", "where do the codes live?", top_k=3)

    Every method raises a `bitrag.BitragError` subclass on failure (e.g. `NotFoundError`,
    `InvalidArgumentError` with `.field` naming the bad request field). What the SDK can check
    itself (integer ranges, vector shapes, list lengths, metadata types, search modes) raises
    `InvalidArgumentError` before anything is sent. Metadata values may be numpy scalars and
    arrays or datetimes (pandas Timestamps too): they are sent as JSON numbers, lists and ISO 8601
    strings.

    Security: `token` is sent as `authorization: Bearer TOKEN` on every call; `tls_ca` (a path or
    PEM bytes) is the CA that signed the server's certificate and turns TLS on; `tls_client_cert`
    and `tls_client_key` add a client certificate (mTLS); `tls_server_name` overrides the name
    checked in the server's certificate.
    """

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
            grpc.secure_channel(target, credentials, opts) if credentials else grpc.insecure_channel(target, opts)
        )
        self._stub = pb_grpc.BitragServiceStub(self._channel)

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, self.target) from None

    # ---- collections ---------------------------------------------------------------------------

    def create_collection(
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
        """Create a collection. `embedder`: "" (server default), "local", "openai[:model]" or
        "none" (raw vectors only; then `dimension` is required). `consistency_level`: Milvus'
        ("Strong", "Bounded", "Session", "Eventually"; "" = server default). `partition_key`: a
        metadata key every chunk carries (e.g. "tenant"); filters on it search only its partition.
        `tier`: the middle tier ("sign", "sq2", "sq4"; "" = server default, sq4). `exist_ok=True`:
        get-or-create, returning the existing collection of that name when its `dimension` and
        `embedder` fit the request (else `AlreadyExistsError` with `.field` naming the one that
        differs; other options are the existing collection's)."""
        req = _core.create_request(
            name, dimension=dimension, embedder=embedder, index=index,
            default_oversample=default_oversample, description=description, gate=gate,
            consistency_level=consistency_level, partition_key=partition_key, num_partitions=num_partitions,
            tier=tier,
        )
        try:
            return _core.collection_from_proto(self._call(self._stub.CreateCollection, req))
        except AlreadyExistsError:
            if not exist_ok:
                raise
        return _core.existing_collection(self.describe_collection(name), dimension=dimension, embedder=embedder)

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection on the server, with its size, gate and calibration."""
        resp = self._call(self._stub.ListCollections, pb.ListCollectionsRequest())
        return [_core.collection_from_proto(c) for c in resp.collections]

    def describe_collection(self, name: str) -> CollectionInfo:
        """One collection: dimension, embedder, index, tier, rows, memory and disk, gate, calibration."""
        return _core.collection_from_proto(
            self._call(self._stub.DescribeCollection, pb.DescribeCollectionRequest(name=name))
        )

    def drop_collection(self, name: str) -> None:
        """Drop a collection and its data (`NotFoundError` if there is none of that name)."""
        self._call(self._stub.DropCollection, pb.DropCollectionRequest(name=name))

    # ---- data ----------------------------------------------------------------------------------

    def ingest_documents(
        self,
        collection: str,
        documents: Iterable[Document],
        *,
        chunk_size: int = 0,
        chunk_overlap: int = 0,
        batch_size: int = 32,
        batch_bytes: int = _core.DEFAULT_BATCH_TEXT_BYTES,
        on_progress: Callable[[IngestProgress], None] | None = None,
        flush: bool = False,
    ) -> IngestResult:
        """Send documents for the server to split, embed and store. Unchanged documents are
        skipped; changed ones replace their old chunks. Requests carry at most `batch_size`
        documents and `batch_bytes` of text (a larger document goes alone); after each one the
        server has answered, `on_progress(IngestProgress)` gets the chunks embedded so far, the
        documents and text bytes answered, and a rate and ETA (see `IngestProgress`)."""
        docs = list(documents)
        meter = _core.ProgressMeter.for_documents(docs, on_progress)
        total = IngestResult()
        for batch in _core.flush_last(_core.document_requests(
            collection, docs, chunk_size=chunk_size, chunk_overlap=chunk_overlap, batch_size=batch_size,
            batch_bytes=batch_bytes,
        ), flush):
            res = _core.ingest_from_proto(self._call(self._stub.Ingest, batch[0]))
            total += res
            meter.answered(batch, res)
        return total

    def ingest_vectors(
        self,
        collection: str,
        vectors: Any,
        *,
        ids: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        batch_size: int = 2048,
        on_progress: Callable[[IngestProgress], None] | None = None,
        flush: bool = False,
    ) -> IngestResult:
        """Store pre-computed vectors `[n, d]` (float32) with optional text and metadata, in
        requests of at most `batch_size` records (a document's records travel together);
        `on_progress(IngestProgress)` after each, in records stored (`chunks`) and vector bytes.

        One vector `[d]` is one row. `ids`, `document_ids`, `texts` and `metadata` have one item
        per row (else `InvalidArgumentError` naming the list); ids or document_ids are required."""
        vectors = _core.as_float32(vectors)
        meter = _core.ProgressMeter.for_vectors(vectors, on_progress)
        total = IngestResult()
        for batch in _core.flush_last(_core.vector_requests(
            collection, vectors, texts=texts, metadata=metadata, ids=ids, document_ids=document_ids,
            batch_size=batch_size,
        ), flush):
            res = _core.ingest_from_proto(self._call(self._stub.Ingest, batch[0]))
            total += res
            meter.answered(batch, res)
        return total

    def ingest_files(
        self,
        collection: str,
        path: str | Path,
        *,
        root: str | Path | None = None,
        id_prefix: str = "",
        chunk_size: int = 0,
        chunk_overlap: int = 0,
        batch_size: int = 32,
        batch_bytes: int = _core.DEFAULT_BATCH_TEXT_BYTES,
        on_progress: Callable[[IngestProgress], None] | None = None,
        progress: bool = False,
        flush: bool = False,
        force: bool = False,
    ) -> IngestResult:
        """Read md/txt/pdf/docx/pptx/html files under `path` (LlamaIndex readers; the `files`
        extra) and ingest them as `ingest_documents` does, one document per file.

        Document ids are `id_prefix` + each file's path relative to `root` ("/" separators);
        `root` defaults to `path` for a directory and to its parent for a file (whose id is its
        name). The working directory plays no part, so ingesting the same tree again, from
        anywhere and however `path` is spelled, is a no-op. Hidden files and unsupported
        extensions are not read. Files the collection holds unchanged (same size and mtime, or
        same SHA-256 of their bytes) are skipped before they are read (`result.files_skipped`)
        unless `force`. Raises `NotFoundError` (field "path") for a missing path,
        `InvalidArgumentError` (field "path") when nothing under it has text to ingest, (field
        "root") when `path` is not under `root`. `progress`: the reader's per-file bar;
        `on_progress`: see `ingest_documents`."""
        found = scan_to_ingest(path, root=root)
        sel = select_files(found.files, file_ids(found, id_prefix),
                           None if force else lambda ids: self._held_metadata(collection, ids))
        docs = read_selected(found, sel, id_prefix=id_prefix, progress=progress)
        res = self.ingest_documents(
            collection, docs, chunk_size=chunk_size, chunk_overlap=chunk_overlap, batch_size=batch_size,
            batch_bytes=batch_bytes, on_progress=on_progress, flush=flush,
        )
        res.files_skipped = len(sel.unchanged)
        if not docs:  # nothing sent: the collection's generation as it is
            res.generation = self.describe_collection(collection).generation
        return res

    def _held_metadata(self, collection: str, document_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Document id -> its metadata, for those of `document_ids` the collection holds."""
        return {d.id: d.metadata for d in self.iter_documents(collection, document_ids=document_ids, page_size=1000)}

    def delete(self, collection: str, document_ids: Sequence[str]) -> DeleteResult:
        """Delete documents (all their chunks) by id. `missing` in the result: the ids the
        collection did not hold."""
        req = _core.delete_request(collection, document_ids)
        return _core.delete_from_proto(self._call(self._stub.Delete, req))

    def list_documents(
        self, collection: str, *, page_size: int = 0, page_token: str = "",
        document_ids: Sequence[str] | None = None, prefix: str = "",
    ) -> DocumentPage:
        """One page of the collection's documents in id order: id, live chunks, content hash,
        ingest time and metadata. `page_size`: 1..1000 (0 = 100); `page_token`: a previous page's
        `next_page_token`; `document_ids`: only these (1..1000; ids not held are left out);
        `prefix`: only ids starting with it. `iter_documents` pages through them all."""
        req = _core.list_documents_request(collection, page_size=page_size, page_token=page_token,
                                           document_ids=document_ids, prefix=prefix)
        return _core.documents_from_proto(self._call(self._stub.ListDocuments, req))

    def iter_documents(
        self, collection: str, *, page_size: int = 0, document_ids: Sequence[str] | None = None,
        prefix: str = "",
    ) -> Iterator[DocumentInfo]:
        """Every document of the collection (or of `document_ids`, any number of them, or with
        `prefix`), in id order per listing, fetching pages of `page_size` as it goes."""
        for req in _core.document_listings(collection, page_size=page_size, document_ids=document_ids,
                                           prefix=prefix):
            while True:
                page = _core.documents_from_proto(self._call(self._stub.ListDocuments, req))
                yield from page.documents
                if not page.next_page_token:
                    break
                req.page_token = page.next_page_token

    def search(
        self, collection: str, query: str | Any, *, top_k: int = 10, filter: str = "", oversample: int = 0,
        mode: str = "AUTO", confidence_threshold: float | None = None,
    ) -> SearchResult:
        """Search by text (embedded by the collection's embedder) or by a float32 vector.

        `filter`: e.g. `year >= 2020 and source in ["a.md"]`; `oversample`: float32 rows rescored
        per result (0 = the collection's default); `mode`: "AUTO" (gated, full-precision fallback
        below the confidence threshold), "RESCORED", "BINARY_ONLY" or "EXACT";
        `confidence_threshold` overrides the collection's gate for this request."""
        req = _core.search_request(
            collection, query, top_k=top_k, filter=filter, oversample=oversample, mode=mode,
            confidence_threshold=confidence_threshold,
        )
        return _core.search_from_proto(self._call(self._stub.Search, req))

    def fetch(
        self, collection: str, document_ids: Sequence[str], *, include_vectors: bool = True
    ) -> tuple[list[Record], list[str]]:
        """The stored chunks of documents (1..1000 ids), in row order, each with its float32 vector
        exactly as stored (unless `include_vectors=False`); and the ids that have no live chunk."""
        req = _core.fetch_request(collection, document_ids, include_vectors)
        return _core.fetch_from_proto(self._call(self._stub.Fetch, req))

    def set_legacy_store(
        self, collection: str, legacy_store: LegacyStore | None, *, fallback: Sequence[str] = ()
    ) -> CollectionInfo:
        """Name the float32 store `collection` is migrating from (live shadow reads at
        `legacy_store.shadow_rate`; the "collection" fallback answers from it), or unlink it with
        None (cutover: "collection" leaves the fallback chain). `fallback`: a new chain."""
        req = _core.set_legacy_request(collection, legacy_store, fallback)
        return _core.collection_from_proto(self._call(self._stub.SetLegacyStore, req))

    def calibrate(self, collection: str, *, samples: int = 0) -> CalibrationInfo:
        """Fit the collection's confidence gate now on `samples` pseudo-queries (0 = server default);
        returns the threshold in force and a cross-validated reliability table."""
        req = _core.calibrate_request(collection, samples)
        return _core.calibration_from_proto(self._call(self._stub.Calibrate, req))

    def compact(self, collection: str, *, force: bool = False) -> CompactResult:
        """Reclaim the space of deleted and replaced rows now (searches go on meanwhile; writes to
        the collection wait). `force`: even when no row is dead. Returns rows and bytes before/after."""
        req = pb.CompactRequest(collection=collection, force=force)
        return _core.compact_from_proto(self._call(self._stub.Compact, req))

    def ask(
        self, collection: str, question: str, *, top_k: int = 0, filter: str = "", oversample: int = 0,
        mode: str = "AUTO", confidence_threshold: float | None = None, model: str = "",
        temperature: float | None = None, max_tokens: int = 0, cache: bool = True,
    ) -> Iterator[AnswerChunk]:
        """Ask a question: retrieval, then an answer citing the sources as [n], streamed.

        Yields `AnswerChunk`s: `chunk.text` pieces of the answer, then one last chunk whose
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
            for r in call:
                yield _core.answer_chunk_from_proto(r)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, self.target) from None
        finally:
            call.cancel()  # no-op when finished; stops the server's work if the caller breaks out

    # ---- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the channel (also done by leaving a `with` block)."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
