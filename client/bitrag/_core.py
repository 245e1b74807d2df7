"""What the sync and async clients share: request building, batching, proto -> dataclass
conversion. The clients themselves only send."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import json_format, struct_pb2

from .errors import AlreadyExistsError
from .types import (
    AnswerChunk,
    CompactResult,
    GenerationFailure,
    AskSummary,
    AskTimings,
    CalibrationInfo,
    CollectionInfo,
    GateConfig,
    ReliabilityBin,
    SearchPlan,
    DeleteResult,
    Document,
    Hit,
    IndexSpec,
    IngestResult,
    LegacyStore,
    Record,
    SearchDiagnostics,
    SearchResult,
    Source,
    TokenUsage,
)
from .v1 import bitrag_pb2 as pb

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_MAX_MESSAGE_MB = 64
# Keep each Ingest request well under the default 64 MiB message limit.
MAX_BATCH_BYTES = 16 * 1024 * 1024


def channel_options(max_message_mb: int, tls_server_name: str = "") -> list[tuple[str, Any]]:
    n = max_message_mb * 1024 * 1024
    opts: list[tuple[str, Any]] = [("grpc.max_receive_message_length", n), ("grpc.max_send_message_length", n)]
    if tls_server_name:
        opts.append(("grpc.ssl_target_name_override", tls_server_name))
    return opts


def _pem(value: str | bytes | None) -> bytes | None:
    """PEM bytes, or a path to a PEM file."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def channel_credentials(
    credentials: Any, tls_ca: str | bytes | None, tls_client_cert: str | bytes | None,
    tls_client_key: str | bytes | None,
) -> Any:
    """grpc.ChannelCredentials for TLS (None: plaintext). `tls_ca`: the CA that signed the server's
    certificate (path or PEM bytes; None with a client certificate = the system roots); the client
    certificate and key for mTLS. Explicit `credentials` win."""
    import grpc

    if credentials is not None:
        return credentials
    if tls_ca is None and tls_client_cert is None:
        return None
    if (tls_client_cert is None) != (tls_client_key is None):
        raise ValueError("tls_client_cert and tls_client_key go together (mTLS)")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(tls_ca), private_key=_pem(tls_client_key), certificate_chain=_pem(tls_client_cert)
    )


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """The bearer token as call metadata (`authorization: Bearer TOKEN`)."""
    if not token:
        return None
    if any(ch.isspace() for ch in token):
        raise ValueError("token: must not contain whitespace")
    return (("authorization", f"Bearer {token}"),)


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def to_struct(d: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if not d:
        return None
    s = struct_pb2.Struct()
    s.update(dict(d))
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return _ints(json_format.MessageToDict(s)) if s.fields else {}


def vector_bytes(v: Any) -> bytes:
    """A 1-D array-like of floats -> float32 little-endian bytes."""
    a = np.asarray(v, dtype="<f4")
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {a.shape}")
    return a.tobytes()


# ---- requests ----------------------------------------------------------------------------------


def create_request(
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
) -> pb.CreateCollectionRequest:
    ix = index or IndexSpec()
    g = gate or GateConfig()
    return pb.CreateCollectionRequest(
        gate=pb.GateConfig(
            target_recall=g.target_recall, confidence_threshold=g.confidence_threshold, fallback=list(g.fallback),
            widen_max_rows=g.widen_max_rows, fallback_collection=g.fallback_collection,
            fallback_vector_field=g.fallback_vector_field, legacy_store=legacy_to_proto(g.legacy_store),
        ),
        name=name,
        dimension=dimension,
        embedder=embedder,
        index=pb.IndexSpec(type=ix.type, build_params=ix.build_params, search_params=ix.search_params),
        default_oversample=default_oversample,
        tier=tier,
        description=description,
        consistency_level=consistency_level,
        partition_key=partition_key,
        num_partitions=num_partitions,
    )


def existing_collection(info: CollectionInfo, *, dimension: int, embedder: str) -> CollectionInfo:
    """Get-or-create (`create_collection(..., exist_ok=True)`) found `info` under the name: return
    it when it fits the request, else raise `AlreadyExistsError` naming the field that differs.
    Compared: `dimension` (when given) and `embedder` ("local" / "openai" match any model of that
    kind, "" = the server default matches any). Other options are not compared: the existing
    collection's are kept."""
    if dimension and dimension != info.dimension:
        raise AlreadyExistsError(
            f"collection {info.name!r} exists with dimension {info.dimension}, not {dimension}", field="dimension"
        )
    want = embedder.strip()
    if want and want != info.embedder and not (":" not in want and info.embedder.split(":", 1)[0] == want):
        raise AlreadyExistsError(
            f"collection {info.name!r} exists with embedder {info.embedder!r}, not {want!r}", field="embedder"
        )
    return info


def legacy_to_proto(ls: LegacyStore) -> pb.LegacyStore:
    return pb.LegacyStore(
        source=ls.source, collection=ls.collection, vector_field=ls.vector_field, text_field=ls.text_field,
        document_id_field=ls.document_id_field, id_field=ls.id_field, shadow_rate=ls.shadow_rate,
    )


def legacy_from_proto(ls: pb.LegacyStore) -> LegacyStore:
    return LegacyStore(ls.source, ls.collection, ls.vector_field, ls.text_field, ls.document_id_field, ls.id_field,
                       ls.shadow_rate)


def fetch_request(collection: str, document_ids: Sequence[str], include_vectors: bool) -> pb.FetchRequest:
    if isinstance(document_ids, str):
        raise TypeError("document_ids: a sequence of ids, not one string")
    return pb.FetchRequest(collection=collection, document_ids=list(document_ids), include_vectors=include_vectors)


def set_legacy_request(collection: str, legacy: LegacyStore | None, fallback: Sequence[str]) -> pb.SetLegacyStoreRequest:
    return pb.SetLegacyStoreRequest(collection=collection, legacy_store=legacy_to_proto(legacy or LegacyStore()),
                                    fallback=list(fallback))


def flush_last(requests: Iterator[tuple[pb.IngestRequest, int]], flush: bool) -> Iterator[tuple[pb.IngestRequest, int]]:
    """Pass requests through, with `flush` set on the last one (seal Milvus segments once, at the end)."""
    prev = None
    for item in requests:
        if prev is not None:
            yield prev
        prev = item
    if prev is not None:
        prev[0].flush = flush
        yield prev


def document_requests(
    collection: str, documents: Sequence[Document], *, chunk_size: int, chunk_overlap: int, batch_size: int
) -> Iterator[tuple[pb.IngestRequest, int]]:
    """(request, number of documents in it), batches bounded by count and bytes."""
    batch: list[pb.Document] = []
    size = 0
    for d in documents:
        msg = pb.Document(id=d.id, text=d.text, metadata=to_struct(d.metadata))
        n = msg.ByteSize()
        if batch and (len(batch) >= batch_size or size + n > MAX_BATCH_BYTES):
            yield pb.IngestRequest(collection=collection, documents=batch, chunk_size=chunk_size,
                                   chunk_overlap=chunk_overlap), len(batch)
            batch, size = [], 0
        batch.append(msg)
        size += n
    if batch:
        yield pb.IngestRequest(collection=collection, documents=batch, chunk_size=chunk_size,
                               chunk_overlap=chunk_overlap), len(batch)


def vector_requests(
    collection: str,
    vectors: Any,
    *,
    texts: Sequence[str] | None,
    metadata: Sequence[Mapping[str, Any]] | None,
    ids: Sequence[str] | None,
    document_ids: Sequence[str] | None,
    batch_size: int,
) -> Iterator[tuple[pb.IngestRequest, int]]:
    """Raw vectors `[n, d]` -> IngestRequests of records. Records of one document stay in one
    request (a document is replaced as a whole)."""
    v = np.asarray(vectors, dtype="<f4")
    if v.ndim != 2:
        raise ValueError(f"vectors: expected [n, d], got shape {v.shape}")
    n = v.shape[0]
    for name, seq in (("texts", texts), ("metadata", metadata), ("ids", ids), ("document_ids", document_ids)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name}: {len(seq)} items for {n} vectors")
    if ids is None and document_ids is None:
        raise ValueError("ids or document_ids is required (stable ids make re-ingest idempotent)")
    per = max(1, min(batch_size, MAX_BATCH_BYTES // max(1, v.shape[1] * 4 + 256)))
    order = list(range(n))
    doc_of: list[str] | None = None
    if document_ids is not None:
        # A document's records must travel in one request (an Ingest replaces a document whole),
        # so records of one document are made contiguous even when the caller interleaves them:
        # stable, by first appearance, keeping each document's chunk order.
        doc_of = [document_ids[i] or (ids[i] if ids is not None else "") for i in range(n)]
        first: dict[str, int] = {}
        for i, d in enumerate(doc_of):
            first.setdefault(d, i)
        order.sort(key=lambda i: first[doc_of[i]])
    start = 0
    while start < n:
        end = min(n, start + per)
        if doc_of is not None:  # never split a document across requests
            while end < n and doc_of[order[end]] == doc_of[order[end - 1]]:
                end += 1
        records = [
            pb.VectorRecord(
                id=ids[i] if ids is not None else "",
                document_id=document_ids[i] if document_ids is not None else "",
                vector=v[i].tobytes(),
                text=texts[i] if texts is not None else "",
                metadata=to_struct(metadata[i]) if metadata is not None else None,
            )
            for i in order[start:end]
        ]
        yield pb.IngestRequest(collection=collection, records=records), end - start
        start = end


MODES = ("AUTO", "RESCORED", "BINARY_ONLY", "EXACT")


def search_request(
    collection: str, query: Any, *, top_k: int, filter: str, oversample: int, mode: str = "AUTO",
    confidence_threshold: float | None = None,
) -> pb.SearchRequest:
    if mode.upper() not in MODES:
        raise ValueError(f"mode: one of {MODES}, got {mode!r}")
    req = pb.SearchRequest(
        collection=collection, top_k=top_k, filter=filter, oversample=oversample,
        mode=pb.SearchMode.Value(f"SEARCH_MODE_{mode.upper()}"),
    )
    if confidence_threshold is not None:
        req.confidence_threshold = confidence_threshold
    if isinstance(query, str):
        req.text = query
    elif isinstance(query, (bytes, bytearray)):
        req.vector = bytes(query)
    else:
        req.vector = vector_bytes(query)
    return req


def ask_request(
    collection: str, question: str, *, top_k: int = 0, filter: str = "", oversample: int = 0,
    mode: str = "AUTO", confidence_threshold: float | None = None, model: str = "",
    temperature: float | None = None, max_tokens: int = 0, cache: bool = True,
) -> pb.AskRequest:
    if mode.upper() not in MODES:
        raise ValueError(f"mode: one of {MODES}, got {mode!r}")
    req = pb.AskRequest(
        collection=collection, question=question, top_k=top_k, filter=filter, oversample=oversample,
        mode=pb.SearchMode.Value(f"SEARCH_MODE_{mode.upper()}"), model=model, max_tokens=max_tokens,
        no_cache=not cache,
    )
    if confidence_threshold is not None:
        req.confidence_threshold = confidence_threshold
    if temperature is not None:
        req.temperature = temperature
    return req


# ---- responses ---------------------------------------------------------------------------------


def calibration_from_proto(c: pb.CalibrationInfo) -> CalibrationInfo:
    return CalibrationInfo(
        calibrated=c.calibrated,
        threshold=c.threshold,
        target_recall=c.target_recall,
        samples=c.samples,
        source=c.source,
        rows_at_calibration=c.rows_at_calibration,
        calibrated_unix_ms=c.calibrated_unix_ms,
        reliability=[ReliabilityBin(b.lo, b.hi, b.count, b.predicted, b.measured) for b in c.reliability],
        duration_us=c.duration_us,
    )


def collection_from_proto(c: pb.CollectionInfo) -> CollectionInfo:
    return CollectionInfo(
        name=c.name,
        dimension=c.dimension,
        embedder=c.embedder,
        index=IndexSpec(c.index.type, dict(c.index.build_params), dict(c.index.search_params)),
        default_oversample=c.default_oversample,
        description=c.description,
        rows=c.rows,
        float_rows=c.float_rows,
        bytes_in_ram=c.bytes_in_ram,
        bytes_on_disk=c.bytes_on_disk,
        generation=c.generation,
        created_unix_ms=c.created_unix_ms,
        gate=GateConfig(
            c.gate.target_recall, c.gate.confidence_threshold, tuple(c.gate.fallback), c.gate.widen_max_rows,
            c.gate.fallback_collection, c.gate.fallback_vector_field, legacy_from_proto(c.gate.legacy_store),
        ),
        calibration=calibration_from_proto(c.calibration),
        consistency_level=c.consistency_level,
        partition_key=c.partition_key,
        num_partitions=c.num_partitions,
        tier=c.tier,
        bytes_tier=c.bytes_tier,
        plan=SearchPlan(
            c.plan.pool, c.plan.nprobe, c.plan.route, c.plan.candidate_recall, dict(c.plan.pool_recall),
            dict(c.plan.nprobe_recall), c.plan.exact_us, c.plan.binary_us, c.plan.scan_us, c.plan.fallback_share,
            c.plan.rows, c.plan.measured_unix_ms,
        ),
        dead_rows=c.dead_rows,
        row_file_bytes=c.row_file_bytes,
        compactions=c.compactions,
    )


def ingest_from_proto(r: pb.IngestResponse) -> IngestResult:
    return IngestResult(
        documents_added=r.documents_added,
        documents_replaced=r.documents_replaced,
        documents_unchanged=r.documents_unchanged,
        chunks_written=r.chunks_written,
        chunks_deleted=r.chunks_deleted,
        generation=r.generation,
        timings_us=dict(r.timings_us),
    )


def fetch_from_proto(r: pb.FetchResponse) -> tuple[list[Record], list[str]]:
    records = [
        Record(x.id, x.document_id, np.frombuffer(x.vector, dtype="<f4").copy() if x.vector else None, x.text,
               from_struct(x.metadata))
        for x in r.records
    ]
    return records, list(r.missing)


def compact_from_proto(r: pb.CompactResponse) -> CompactResult:
    return CompactResult(r.compacted, r.rows_before, r.rows_after, r.bytes_before, r.bytes_after, r.duration_us,
                         r.generation)


def delete_from_proto(r: pb.DeleteResponse) -> DeleteResult:
    return DeleteResult(r.documents_deleted, r.chunks_deleted, r.generation)


def diagnostics_from_proto(d: pb.SearchDiagnostics) -> SearchDiagnostics:
    return SearchDiagnostics(
        path=pb.SearchPath.Name(d.path).removeprefix("SEARCH_PATH_"),
        candidates_examined=d.candidates_examined,
        oversample=d.oversample,
        timings_us={t.stage: t.micros for t in d.timings},
        total_us=d.total_us,
        mode=pb.SearchMode.Name(d.mode).removeprefix("SEARCH_MODE_"),
        confidence=d.confidence,
        threshold=d.threshold,
        pools=list(d.pools),
        calibrated=d.calibrated,
        milvus_calls=d.milvus_calls,
        tier=d.tier,
        tier_scored=d.tier_scored,
    )


def search_from_proto(r: pb.SearchResponse) -> SearchResult:
    return SearchResult(
        hits=[
            Hit(h.chunk_id, h.document_id, h.score, h.text, from_struct(h.metadata), h.hamming_distance)
            for h in r.hits
        ],
        diagnostics=diagnostics_from_proto(r.diagnostics),
    )


def answer_chunk_from_proto(r: pb.AskResponse) -> AnswerChunk:
    if r.WhichOneof("event") != "summary":
        return AnswerChunk(text=r.delta)
    a = r.summary
    return AnswerChunk(summary=AskSummary(
        answer=a.answer,
        sources=[
            Source(s.number, s.chunk_id, s.document_id, s.score, s.snippet, from_struct(s.metadata))
            for s in a.sources
        ],
        cited=list(a.cited),
        model=a.model,
        generated=a.generated,
        usage=TokenUsage(a.usage.prompt_tokens, a.usage.completion_tokens, a.usage.total_tokens),
        timings=AskTimings(a.timings.retrieval_us, a.timings.first_token_us, a.timings.total_us, a.timings.cache_us),
        cache=pb.CacheStatus.Name(a.cache).removeprefix("CACHE_STATUS_"),
        retrieval=diagnostics_from_proto(a.retrieval) if a.HasField("retrieval") else None,
        error=GenerationFailure(a.error.code, a.error.message, a.error.retry_after_s) if a.HasField("error") else None,
        shared=a.shared,
    ))
