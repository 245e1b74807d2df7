"""Ingest as a pipeline of named steps: one request's documents and records in, rows durable on
disk and searchable in Milvus out. `run` reads top to bottom; each step is a function returning
its outcome (a small value), so a step can be read, tested and changed alone.

    validate        chunking parameters, ids, texts, metadata, vector shapes, partition values
    hash_contents   a content hash per document (documents: text + metadata + chunking + embedder;
                    records: ids, texts, metadata, vectors)
    detect_changes  the hashes against the live rows: added, replaced, unchanged; old rows to delete
    split_and_embed the changed documents' chunks and vectors, then the changed records'
    build_records   one ChunkRecord per row (the record store's row)
    write_rows      the write order of engine.py: row files (fsync) -> journal -> Milvus insert ->
                    delete the replaced rows -> (flush) -> generation -> journal removed

Unchanged documents are never split or embedded (embedding is the expensive part). The caller
(`Engine.ingest`) holds nothing: `run` takes the collection's write lock itself, after the checks
that need no lock.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import failpoints, recovery
from .collection import Collection, record
from .config import Settings
from .domain import DocumentIn, IngestResult, RecordIn
from .embed import Embedders
from .errors import FailedPrecondition, InvalidArgument
from .ingest import Chunk, Tokenizer, chunk_id, document_hash, records_hash, split_document
from .quantize import binarize
from .retrieve.pipeline import Timer
from .stores.binary_index import ID_MAX_BYTES, TEXT_MAX_BYTES, BinaryIndex, milvus_row
from .stores.catalog import Manifest
from .stores.record_store import ChunkRecord

METADATA_MAX_BYTES = 65536
DOC_ID_MAX_BYTES = 400  # leaves room for "#<n>" within Milvus' 512-byte chunk_id
CHUNK_SIZE_RANGE = (16, 8192)


# ---- values passed between the steps ---------------------------------------------------------


@dataclass(frozen=True)
class Chunking:
    """The chunking in force for one request (the request's, else the server's defaults)."""

    size: int
    overlap: int
    tokenizer: Tokenizer | None = None  # the embedder's (its window's tokens); None: tiktoken


@dataclass(frozen=True)
class Request:
    name: str
    documents: list[DocumentIn]
    records: list[RecordIn]
    chunk_size: int = 0
    chunk_overlap: int = 0
    flush: bool = False


@dataclass
class Changes:
    """What this request changes: documents whose hash is new or different are written whole;
    the live rows of replaced ones are deleted after the new rows are in."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    changed: set[str] = field(default_factory=set)
    old_rows: list[int] = field(default_factory=list)


@dataclass
class Batch:
    chunks: list[Chunk]
    vectors: np.ndarray  # [n_chunks, d] float32, row i <-> chunks[i]


@dataclass(frozen=True)
class Stores:
    """What an ingest writes through: the engine's Milvus index, embedders and locks."""

    index: BinaryIndex
    embedders: Embedders
    write: Callable[[Collection], AbstractAsyncContextManager[Any]]  # the collection's write lock
    save: Callable[[Collection], None]  # rewrite the manifest (under the write lock)


# ---- the pipeline ------------------------------------------------------------------------------


async def run(c: Collection, req: Request, settings: Settings, stores: Stores) -> IngestResult:
    m = c.manifest  # dimension and embedder: fixed for the collection's life
    window = stores.embedders.get(m.embedder).window() if req.documents and m.embedder != "none" else (0, None)
    chunking = resolve_chunking(req.chunk_size, req.chunk_overlap, settings, window, m.embedder)
    groups = validate(m, req.documents, req.records)
    hashes = hash_contents(req.documents, groups, chunking, m.embedder)
    timer = Timer()
    async with stores.write(c):
        existing = await asyncio.to_thread(live_rows, stores.index, c, list(hashes))
        timer.lap("lookup")
        changes = detect_changes(hashes, existing)
        batch = await split_and_embed(req.documents, groups, changes, chunking, m, stores.embedders, timer)
        records = build_records(batch.chunks, hashes)
        await write_rows(c, batch.vectors, records, changes.old_rows, stores, timer, flush=req.flush)
        if changes.changed:
            c.manifest.generation += 1
            stores.save(c)
        if records or changes.old_rows:
            await asyncio.to_thread(recovery.end, c)
        return IngestResult(
            documents_added=changes.added, documents_replaced=changes.replaced,
            documents_unchanged=changes.unchanged, chunks_written=len(records),
            chunks_deleted=len(changes.old_rows), generation=c.manifest.generation, timings_us=dict(timer.stages),
        )


# ---- steps -------------------------------------------------------------------------------------


def resolve_chunking(chunk_size: int, chunk_overlap: int, settings: Settings,
                     window: tuple[int, Tokenizer | None] = (0, None), embedder: str = "") -> Chunking:
    """The request's chunking, else the server's; sized to the embedder's window where it has one
    (a local model reads 254 wordpieces of text and ignores the rest: 512-token chunks left 25% of
    SciFact's text unembedded): the server's default is capped to it, a request asking for more is refused."""
    limit, tokenizer = window
    lo, hi = CHUNK_SIZE_RANGE
    if chunk_size and not lo <= chunk_size <= hi:
        raise InvalidArgument(f"{chunk_size} not in {lo}..{hi}", field="chunk_size")
    if chunk_size and limit and chunk_size > limit:
        raise InvalidArgument(f"{chunk_size}: the embedder {embedder} reads at most {limit} tokens of a chunk "
                              f"(the rest would not be embedded); use at most {limit}", field="chunk_size")
    size = chunk_size or (min(settings.chunk_size, max(limit, lo)) if limit else settings.chunk_size)
    overlap = chunk_overlap if chunk_overlap else min(settings.chunk_overlap, size // 2)
    if not lo <= size <= hi:
        raise InvalidArgument(f"{size} not in {lo}..{hi}", field="chunk_size")
    if overlap >= size:
        raise InvalidArgument(f"{overlap} must be smaller than chunk_size", field="chunk_overlap")
    return Chunking(size, overlap, tokenizer if limit else None)


def validate(m: Manifest, documents: list[DocumentIn], records: list[RecordIn]) -> dict[str, list[RecordIn]]:
    """Everything checkable without the stores; returns the records grouped by document id (in
    request order, each given its id: `<document id>#<n>` when it came without one)."""
    if documents and m.embedder == "none":
        raise FailedPrecondition(
            f"collection {m.name!r} has no embedder: send records with vectors", field="documents"
        )
    if not documents and not records:
        raise InvalidArgument("nothing to ingest: send documents or records", field="documents")
    validate_documents(documents)
    groups = group_records(records, m.dimension)
    if m.partition_key:
        check_partition_values(m.partition_key, documents, records)
    seen = {d.id for d in documents}
    for doc_id in groups:
        if doc_id in seen:
            raise InvalidArgument(f"document id {doc_id!r} is also in documents", field="records")
    return groups


def hash_contents(
    documents: list[DocumentIn], groups: dict[str, list[RecordIn]], chunking: Chunking, embedder: str
) -> dict[str, str]:
    """document id -> content hash; a document whose hash is stored already is unchanged."""
    hashes = {
        d.id: document_hash(d, chunk_size=chunking.size, chunk_overlap=chunking.overlap, embedder=embedder)
        for d in documents
    }
    for doc_id, recs in groups.items():
        hashes[doc_id] = records_hash(recs)
    return hashes


def live_rows(index: BinaryIndex, c: Collection, doc_ids: list[str]) -> dict[str, list[tuple[int, str]]]:
    """doc_id -> [(row, doc_hash), ...]: live rows from Milvus, hashes from the record store."""
    found = index.rows_of_documents(c.milvus, doc_ids)
    rows = [row for lst in found.values() for row in lst]
    hashes = {row: r.get("doc_hash", "") for row, r in zip(rows, c.records.get(rows))}
    return {doc: [(row, hashes[row]) for row in lst] for doc, lst in found.items()}


def detect_changes(hashes: dict[str, str], existing: dict[str, list[tuple[int, str]]]) -> Changes:
    out = Changes()
    for doc_id, h in hashes.items():
        old = existing.get(doc_id)
        if old is None:
            out.added += 1
            out.changed.add(doc_id)
        elif all(oh == h for _, oh in old):
            out.unchanged += 1
        else:
            out.replaced += 1
            out.changed.add(doc_id)
    out.old_rows = [row for doc_id in out.changed for row, _ in existing.get(doc_id, [])]
    return out


async def split_and_embed(
    documents: list[DocumentIn], groups: dict[str, list[RecordIn]], changes: Changes, chunking: Chunking,
    m: Manifest, embedders: Embedders, timer: Timer,
) -> Batch:
    """The changed documents' chunks, embedded, then the changed records' own chunks and vectors."""
    chunks: list[Chunk] = []
    to_split = [d for d in documents if d.id in changes.changed]
    if to_split:
        for d in to_split:
            chunks.extend(split_document(d, chunking.size, chunking.overlap, chunking.tokenizer))
        timer.lap("split")
        doc_vecs = await asyncio.to_thread(embedders.get(m.embedder).embed, [ch.text for ch in chunks])
        if doc_vecs.shape[1] != m.dimension:
            raise FailedPrecondition(f"embedder returned dimension {doc_vecs.shape[1]}, collection has {m.dimension}")
        timer.lap("embed")
    else:
        doc_vecs = np.empty((0, m.dimension), np.float32)
    recs = [r for doc_id, rs in groups.items() if doc_id in changes.changed for r in rs]
    chunks.extend(Chunk(r.id, r.document_id, r.text, r.metadata) for r in recs)
    vectors = np.concatenate([doc_vecs, np.stack([r.vector for r in recs])]) if recs else doc_vecs
    for ch in chunks:
        if len(ch.text.encode()) > TEXT_MAX_BYTES:
            raise InvalidArgument(f"chunk {ch.chunk_id!r} text exceeds {TEXT_MAX_BYTES} bytes", field="records")
    return Batch(chunks, vectors)


def build_records(chunks: list[Chunk], hashes: dict[str, str]) -> list[ChunkRecord]:
    now_ms = int(time.time() * 1000)  # ListDocuments' "ingested at"
    return [record(ch.chunk_id, ch.doc_id, hashes[ch.doc_id], ch.text, ch.metadata, now_ms) for ch in chunks]


async def write_rows(
    c: Collection, vectors: np.ndarray, records: list[ChunkRecord], old_rows: list[int], stores: Stores,
    timer: Timer, *, flush: bool,
) -> None:
    """The write order of engine.py (caller holds the write lock; it bumps the generation and
    removes the journal after): new rows durable, the journal, Milvus insert (the rows marked live),
    old rows marked dead and deleted from Milvus."""
    m, idx = c.manifest, stores.index
    if records:
        codes = binarize(vectors, c.thresholds)  # [n, d/8]
        start = await asyncio.to_thread(append_rows, c, vectors, codes, records)
        timer.lap("float_store")
        await asyncio.to_thread(recovery.begin, c, "ingest", (start, start + len(records)), old_rows)
        failpoints.hit("ingest.journal")
        rows = [
            milvus_row(start + i, codes[i], r.doc_id, r.metadata, partition_key=m.partition_key,
                       legacy=r.legacy_fields() if m.layout < 2 else None)
            for i, r in enumerate(records)
        ]
        await asyncio.to_thread(idx.insert, c.milvus, rows)
        c.live.mark(range(start, start + len(records)), True)
        timer.lap("milvus_insert")
        failpoints.hit("ingest.inserted")
    elif old_rows:
        await asyncio.to_thread(recovery.begin, c, "ingest", None, old_rows)
    if old_rows:
        c.live.mark(old_rows, False)  # out of the RAM pool now; Milvus follows
        await asyncio.to_thread(idx.delete, c.milvus, old_rows)
        timer.lap("milvus_delete")
    if flush and (records or old_rows) and not idx.lite:  # Lite has no segments to seal
        await asyncio.to_thread(idx.flush, c.milvus)
        timer.lap("milvus_flush")


def append_rows(c: Collection, vectors: np.ndarray, codes: np.ndarray, records: Sequence[ChunkRecord]) -> int:
    """Floats, codes, records, live flags (0): durable before Milvus sees the rows (see
    Collection.reconcile)."""
    start = c.floats.append(vectors)
    tier_ok = c.tier_store is None or c.quantizer is None or c.tier_store.append(c.quantizer.encode(vectors)) == start
    if c.codes.append(codes) != start or not tier_ok or c.records.append(records) != start \
            or c.live.append(np.zeros((len(records), 1), np.uint8)) != start:  # live once Milvus has them
        raise RuntimeError(f"collection {c.name!r}: row files out of step at row {start}")
    return start


# ---- validation helpers --------------------------------------------------------------------------


def check_id(value: str, field: str, max_bytes: int = DOC_ID_MAX_BYTES) -> None:
    if not value:
        raise InvalidArgument("is required", field=field)
    if len(value.encode()) > max_bytes:
        raise InvalidArgument(f"longer than {max_bytes} bytes", field=field)


def check_metadata(md: dict[str, Any], field: str) -> None:
    try:
        size = len(json.dumps(md, allow_nan=False).encode())
    except ValueError as exc:
        raise InvalidArgument(f"not JSON-serialisable: {exc}", field=field) from None
    if size > METADATA_MAX_BYTES:
        raise InvalidArgument(f"{size} bytes of JSON exceeds {METADATA_MAX_BYTES}", field=field)


def validate_documents(documents: list[DocumentIn]) -> None:
    seen: set[str] = set()
    for i, d in enumerate(documents):
        check_id(d.id, f"documents[{i}].id")
        if d.id in seen:
            raise InvalidArgument(f"duplicate document id {d.id!r}", field=f"documents[{i}].id")
        seen.add(d.id)
        if not d.text.strip():
            raise InvalidArgument("empty text", field=f"documents[{i}].text")
        check_metadata(d.metadata, f"documents[{i}].metadata")


def check_partition_values(key: str, documents: list[DocumentIn], records: list[RecordIn]) -> None:
    """Every chunk of a multi-tenant collection carries its partition value: a string (or number)."""
    items_by_field: tuple[tuple[str, Sequence[DocumentIn | RecordIn]], ...] = (
        ("documents", documents), ("records", records),
    )
    for field_name, items in items_by_field:
        for i, item in enumerate(items):
            v = item.metadata.get(key)
            if isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) == "":
                raise InvalidArgument(
                    f"the collection's partition key {key!r} must be a non-empty string or integer",
                    field=f"{field_name}[{i}].metadata.{key}",
                )
            if len(str(v).encode()) > ID_MAX_BYTES:
                raise InvalidArgument(f"longer than {ID_MAX_BYTES} bytes", field=f"{field_name}[{i}].metadata.{key}")


def group_records(records: list[RecordIn], dim: int) -> dict[str, list[RecordIn]]:
    """Validate records (ids, vector shape) and group them by document id, in request order."""
    groups: dict[str, list[RecordIn]] = {}
    seen: set[str] = set()
    for i, r in enumerate(records):
        if r.vector.shape[0] != dim:
            raise InvalidArgument(
                f"dimension {r.vector.shape[0]} does not match the collection ({dim})", field=f"records[{i}].vector"
            )
        doc_id = r.document_id or r.id
        if not doc_id:
            raise InvalidArgument("a record needs an id or a document_id", field=f"records[{i}].id")
        check_id(doc_id, f"records[{i}].document_id")
        group = groups.setdefault(doc_id, [])
        r.document_id = doc_id
        r.id = r.id or chunk_id(doc_id, len(group))
        check_id(r.id, f"records[{i}].id", ID_MAX_BYTES)
        if r.id in seen:
            raise InvalidArgument(f"duplicate chunk id {r.id!r}", field=f"records[{i}].id")
        seen.add(r.id)
        if len(r.text.encode()) > TEXT_MAX_BYTES:
            raise InvalidArgument(f"text exceeds {TEXT_MAX_BYTES} bytes", field=f"records[{i}].text")
        check_metadata(r.metadata, f"records[{i}].metadata")
        group.append(r)
    return groups
