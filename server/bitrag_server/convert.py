"""protobuf <-> domain, in one place: `from_proto_*` validates wire-level shape (field names in
errors), `to_proto_*` builds responses."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from bitrag.v1 import bitrag_pb2 as pb

from .answer.types import AskQuery, AskSummary
from .domain import (
    CollectionSpec,
    Diagnostics,
    CollectionStats,
    DeleteResult,
    DocumentIn,
    IngestResult,
    RecordIn,
    SearchQuery,
    SearchResult,
)
from .engine import parse_vector
from .retrieve.gate import Calibration
from .stores.catalog import GateConfig, IndexConfig


def _path(name: str) -> int:
    return pb.SearchPath.Value(f"SEARCH_PATH_{name}")


def _mode(name: str) -> int:
    return pb.SearchMode.Value(f"SEARCH_MODE_{name}")


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
    )


def to_proto_gate(g: GateConfig) -> pb.GateConfig:
    return pb.GateConfig(
        target_recall=g.target_recall,
        confidence_threshold=g.confidence_threshold,
        fallback=g.fallback,
        widen_max_rows=g.widen_max_rows,
        fallback_collection=g.fallback_collection,
        fallback_vector_field=g.fallback_vector_field,
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


def to_proto_delete(r: DeleteResult) -> pb.DeleteResponse:
    return pb.DeleteResponse(
        documents_deleted=r.documents_deleted, chunks_deleted=r.chunks_deleted, generation=r.generation
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
        mode=pb.SearchMode.Name(req.mode).removeprefix("SEARCH_MODE_"),
        confidence_threshold=req.confidence_threshold if req.HasField("confidence_threshold") else None,
    )


def to_proto_diagnostics(d: Diagnostics) -> pb.SearchDiagnostics:
    return pb.SearchDiagnostics(
        path=_path(d.path),
        candidates_examined=d.candidates_examined,
        oversample=d.oversample,
        timings=[pb.StageTiming(stage=s, micros=us) for s, us in d.timings_us],
        total_us=d.total_us,
        mode=_mode(d.mode),
        confidence=d.confidence,
        threshold=d.threshold,
        pools=d.pools,
        calibrated=d.calibrated,
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
        mode=pb.SearchMode.Name(req.mode).removeprefix("SEARCH_MODE_"),
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
    )
    if a.retrieval is not None:
        summary.retrieval.CopyFrom(to_proto_diagnostics(a.retrieval))
    if a.error is not None:
        summary.error.CopyFrom(pb.AskError(code=a.error.code, message=a.error.message, retry_after_s=a.error.retry_after_s))
    return pb.AskResponse(summary=summary)
