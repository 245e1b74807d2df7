"""protobuf <-> domain, in one place: `from_proto_*` validates wire-level shape (field names in
errors), `to_proto_*` builds responses."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from bitrag.v1 import bitrag_pb2 as pb

from .answer.types import AskQuery, AskSummary
from .domain import (
    CollectionSpec,
    CollectionStats,
    DeleteResult,
    Diagnostics,
    DocumentIn,
    DocumentPage,
    GateConfig,
    IndexConfig,
    IngestResult,
    LegacyStore,
    Mode,
    RecordIn,
    SearchPath,
    SearchQuery,
    SearchResult,
)
from .engine import parse_vector
from .errors import InvalidArgument
from .retrieve.gate import Calibration
from .retrieve.plan import SearchPlan

# Closed sets <-> proto enums by lookup (every member listed: a test checks both directions).
MODE_TO_PROTO: dict[Mode, pb.SearchMode] = {
    Mode.AUTO: pb.SEARCH_MODE_AUTO,
    Mode.RESCORED: pb.SEARCH_MODE_RESCORED,
    Mode.BINARY_ONLY: pb.SEARCH_MODE_BINARY_ONLY,
    Mode.EXACT: pb.SEARCH_MODE_EXACT,
}
MODE_FROM_PROTO: dict[int, Mode] = {v: k for k, v in MODE_TO_PROTO.items()}
PATH_TO_PROTO: dict[SearchPath, pb.SearchPath] = {
    SearchPath.BINARY_RESCORED: pb.SEARCH_PATH_BINARY_RESCORED,
    SearchPath.BINARY_ONLY: pb.SEARCH_PATH_BINARY_ONLY,
    SearchPath.EXACT: pb.SEARCH_PATH_EXACT,
    SearchPath.FALLBACK_WIDENED: pb.SEARCH_PATH_FALLBACK_WIDENED,
    SearchPath.FALLBACK_EXACT: pb.SEARCH_PATH_FALLBACK_EXACT,
    SearchPath.FALLBACK_COLLECTION: pb.SEARCH_PATH_FALLBACK_COLLECTION,
}


def from_proto_mode(value: int) -> Mode:
    mode = MODE_FROM_PROTO.get(value)
    if mode is None:
        raise InvalidArgument(f"unknown search mode {value}", field="mode")
    return mode


def _ints(value: Any) -> Any:
    """Struct numbers are doubles; give integral ones back as ints (2020.0 -> 2020)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def from_proto_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return _ints(json_format.MessageToDict(s)) if s.fields else {}


def to_proto_struct(d: dict[str, Any] | None) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    if d:
        s.update(d)
    return s


# ---- collections -------------------------------------------------------------------------------


def from_proto_index(spec: pb.IndexSpec) -> IndexConfig | None:
    if not spec.type and not spec.build_params and not spec.search_params:
        return None
    return IndexConfig(spec.type, dict(spec.build_params), dict(spec.search_params))


def to_proto_index(ix: IndexConfig) -> pb.IndexSpec:
    return pb.IndexSpec(type=ix.type, build_params=ix.build_params, search_params=ix.search_params)


def from_proto_gate(g: pb.GateConfig) -> GateConfig | None:
    if not g.ByteSize():
        return None
    return GateConfig(
        target_recall=g.target_recall,
        confidence_threshold=g.confidence_threshold,
        fallback=list(g.fallback),
        widen_max_rows=g.widen_max_rows,
        fallback_collection=g.fallback_collection,
        fallback_vector_field=g.fallback_vector_field,
        legacy_store=from_proto_legacy(g.legacy_store),
    )


def from_proto_legacy(ls: pb.LegacyStore) -> LegacyStore:
    return LegacyStore(
        source=ls.source, collection=ls.collection, vector_field=ls.vector_field, text_field=ls.text_field,
        document_id_field=ls.document_id_field, id_field=ls.id_field, shadow_rate=ls.shadow_rate,
    )


def to_proto_legacy(ls: LegacyStore) -> pb.LegacyStore:
    return pb.LegacyStore(
        source=ls.source, collection=ls.collection, vector_field=ls.vector_field, text_field=ls.text_field,
        document_id_field=ls.document_id_field, id_field=ls.id_field, shadow_rate=ls.shadow_rate,
    )


def to_proto_gate(g: GateConfig) -> pb.GateConfig:
    return pb.GateConfig(
        target_recall=g.target_recall,
        confidence_threshold=g.confidence_threshold,
        fallback=g.fallback,
        widen_max_rows=g.widen_max_rows,
        fallback_collection=g.fallback_collection,
        fallback_vector_field=g.fallback_vector_field,
        legacy_store=to_proto_legacy(g.legacy_store),
    )


def to_proto_calibration(cal: Calibration, threshold: float, duration_us: int = 0) -> pb.CalibrationInfo:
    return pb.CalibrationInfo(
        calibrated=cal.calibrated,
        threshold=threshold,
        target_recall=cal.target_recall,
        samples=cal.samples,
        source=cal.source,
        rows_at_calibration=cal.rows_at_calibration,
        calibrated_unix_ms=cal.calibrated_unix_ms,
        reliability=[
            pb.ReliabilityBin(lo=b["lo"], hi=b["hi"], count=b["n"], predicted=b["predicted"], measured=b["measured"])
            for b in cal.reliability
        ],
        duration_us=duration_us,
    )


def from_proto_create(req: pb.CreateCollectionRequest) -> CollectionSpec:
    return CollectionSpec(
        name=req.name,
        dimension=req.dimension,
        embedder=req.embedder,
        index=from_proto_index(req.index),
        default_oversample=req.default_oversample,
        description=req.description,
        gate=from_proto_gate(req.gate),
        consistency_level=req.consistency_level,
        partition_key=req.partition_key,
        num_partitions=req.num_partitions,
        tier=req.tier,
    )


def to_proto_plan(p: SearchPlan) -> pb.SearchPlan:
    return pb.SearchPlan(
        pool=p.pool, nprobe=p.nprobe, route=p.route, candidate_recall=p.candidate_recall,
        pool_recall=p.pool_recall, nprobe_recall=p.nprobe_recall, exact_us=p.exact_us, binary_us=p.binary_us,
        scan_us=p.scan_us, fallback_share=p.fallback_share, rows=p.rows, measured_unix_ms=p.measured_unix_ms,
        source=p.source, milvus_pool_us=p.milvus_pool_us, ram_pool_us=p.ram_pool_us,
    )


def to_proto_collection(c: CollectionStats) -> pb.CollectionInfo:
    return pb.CollectionInfo(
        name=c.name,
        dimension=c.dimension,
        embedder=c.embedder,
        index=to_proto_index(c.index),
        default_oversample=c.default_oversample,
        description=c.description,
        rows=c.rows,
        float_rows=c.float_rows,
        bytes_in_ram=c.bytes_in_ram,
        bytes_on_disk=c.bytes_on_disk,
        generation=c.generation,
        created_unix_ms=c.created_unix_ms,
        gate=to_proto_gate(c.gate),
        calibration=to_proto_calibration(c.calibration, c.threshold),
        consistency_level=c.consistency_level,
        partition_key=c.partition_key,
        num_partitions=c.num_partitions,
        tier=c.tier,
        bytes_tier=c.bytes_tier,
        plan=to_proto_plan(SearchPlan.from_dict(c.plan)),
        dead_rows=c.dead_rows,
        row_file_bytes=c.row_file_bytes,
        compactions=c.compactions,
    )


def to_proto_compact(r: Any) -> pb.CompactResponse:  # r: compact.CompactResult
    return pb.CompactResponse(
        compacted=r.compacted, rows_before=r.rows_before, rows_after=r.rows_after, bytes_before=r.bytes_before,
        bytes_after=r.bytes_after, duration_us=r.duration_us, generation=r.generation,
    )


# ---- ingest / delete ---------------------------------------------------------------------------


def from_proto_documents(req: pb.IngestRequest) -> list[DocumentIn]:
    return [DocumentIn(d.id, d.text, from_proto_struct(d.metadata)) for d in req.documents]


def from_proto_records(req: pb.IngestRequest) -> list[RecordIn]:
    return [
        RecordIn(
            id=r.id,
            document_id=r.document_id,
            vector=parse_vector(r.vector, f"records[{i}].vector"),
            text=r.text,
            metadata=from_proto_struct(r.metadata),
        )
        for i, r in enumerate(req.records)
    ]


def to_proto_ingest(r: IngestResult) -> pb.IngestResponse:
    return pb.IngestResponse(
        documents_added=r.documents_added,
        documents_replaced=r.documents_replaced,
        documents_unchanged=r.documents_unchanged,
        chunks_written=r.chunks_written,
        chunks_deleted=r.chunks_deleted,
        generation=r.generation,
        timings_us=r.timings_us,
    )


def to_proto_fetch(records: list[RecordIn], missing: list[str]) -> pb.FetchResponse:
    return pb.FetchResponse(
        records=[
            pb.VectorRecord(id=r.id, document_id=r.document_id, vector=r.vector.astype("<f4").tobytes(), text=r.text,
                            metadata=to_proto_struct(r.metadata))
            for r in records
        ],
        missing=missing,
    )


def to_proto_delete(r: DeleteResult) -> pb.DeleteResponse:
    return pb.DeleteResponse(
        documents_deleted=r.documents_deleted, chunks_deleted=r.chunks_deleted, generation=r.generation,
        missing=r.missing,
    )


def to_proto_documents(page: DocumentPage) -> pb.ListDocumentsResponse:
    return pb.ListDocumentsResponse(
        documents=[
            pb.DocumentInfo(id=d.id, chunks=d.chunks, content_hash=d.content_hash,
                            ingested_unix_ms=d.ingested_unix_ms, metadata=to_proto_struct(d.metadata))
            for d in page.documents
        ],
        next_page_token=page.next_page_token,
    )


# ---- search ------------------------------------------------------------------------------------


def from_proto_search(req: pb.SearchRequest) -> SearchQuery:
    which = req.WhichOneof("query")
    return SearchQuery(
        collection=req.collection,
        text=req.text if which == "text" else None,
        vector=parse_vector(req.vector, "vector") if which == "vector" else None,
        top_k=req.top_k,
        filter=req.filter,
        oversample=req.oversample,
        mode=from_proto_mode(req.mode),
        confidence_threshold=req.confidence_threshold if req.HasField("confidence_threshold") else None,
    )


def to_proto_diagnostics(d: Diagnostics) -> pb.SearchDiagnostics:
    return pb.SearchDiagnostics(
        path=PATH_TO_PROTO[d.path],
        candidates_examined=d.candidates_examined,
        oversample=d.oversample,
        timings=[pb.StageTiming(stage=s, micros=us) for s, us in d.timings_us],
        total_us=d.total_us,
        mode=MODE_TO_PROTO[d.mode],
        confidence=d.confidence,
        threshold=d.threshold,
        pools=d.pools,
        calibrated=d.calibrated,
        milvus_calls=d.milvus_calls,
        tier=d.tier,
        tier_scored=d.tier_scored,
    )


def to_proto_search(r: SearchResult) -> pb.SearchResponse:
    return pb.SearchResponse(
        hits=[
            pb.Hit(
                chunk_id=h.chunk_id,
                document_id=h.document_id,
                score=h.score,
                text=h.text,
                metadata=to_proto_struct(h.metadata),
                hamming_distance=h.hamming_distance,
            )
            for h in r.hits
        ],
        diagnostics=to_proto_diagnostics(r.diagnostics),
    )


# ---- ask ---------------------------------------------------------------------------------------


def from_proto_ask(req: pb.AskRequest) -> AskQuery:
    return AskQuery(
        collection=req.collection,
        question=req.question,
        top_k=req.top_k,
        filter=req.filter,
        oversample=req.oversample,
        mode=from_proto_mode(req.mode),
        confidence_threshold=req.confidence_threshold if req.HasField("confidence_threshold") else None,
        model=req.model,
        temperature=req.temperature if req.HasField("temperature") else None,
        max_tokens=req.max_tokens,
        no_cache=req.no_cache,
    )


def to_proto_ask(event: str | AskSummary) -> pb.AskResponse:
    if isinstance(event, str):
        return pb.AskResponse(delta=event)
    a = event
    summary = pb.AskSummary(
        answer=a.answer,
        sources=[
            pb.Source(
                number=s.number, chunk_id=s.chunk_id, document_id=s.document_id, score=s.score,
                snippet=s.snippet, metadata=to_proto_struct(s.metadata),
            )
            for s in a.sources
        ],
        cited=a.cited,
        model=a.model,
        generated=a.generated,
        usage=pb.TokenUsage(
            prompt_tokens=a.usage.prompt_tokens, completion_tokens=a.usage.completion_tokens,
            total_tokens=a.usage.total_tokens,
        ),
        timings=pb.AskTimings(
            retrieval_us=a.timings.retrieval_us, first_token_us=a.timings.first_token_us,
            total_us=a.timings.total_us, cache_us=a.timings.cache_us,
        ),
        cache=pb.CacheStatus.Value(f"CACHE_STATUS_{a.cache}"),
        shared=a.shared,
    )
    if a.retrieval is not None:
        summary.retrieval.CopyFrom(to_proto_diagnostics(a.retrieval))
    if a.error is not None:
        summary.error.CopyFrom(pb.AskError(code=a.error.code, message=a.error.message, retry_after_s=a.error.retry_after_s))
    return pb.AskResponse(summary=summary)
