"""ingest_pipeline.py step by step (no server): chunking defaults and limits, change detection,
records as ChunkRecord on disk, and the Milvus row shape against the schema BinaryIndex.create
declares (on a real Milvus Lite file), for plain, partitioned and layout 1 collections."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bitrag_server import ingest_pipeline as ip
from bitrag_server.collection import record
from bitrag_server.config import Settings
from bitrag_server.domain import DocumentIn, RecordIn
from bitrag_server.errors import InvalidArgument
from bitrag_server.ingest import Chunk
from bitrag_server.stores.binary_index import LEGACY_FIELDS, PARTITION_FIELD, BinaryIndex
from bitrag_server.stores.catalog import IndexConfig
from bitrag_server.stores.record_store import ChunkRecord, RecordStore

DIM = 16


def test_resolve_chunking(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert ip.resolve_chunking(0, 0, s) == ip.Chunking(s.chunk_size, min(s.chunk_overlap, s.chunk_size // 2))
    assert ip.resolve_chunking(64, 0, s) == ip.Chunking(64, min(s.chunk_overlap, 32))
    assert ip.resolve_chunking(64, 8, s) == ip.Chunking(64, 8)
    for size, overlap, field in ((8, 0, "chunk_size"), (9000, 0, "chunk_size"), (64, 64, "chunk_overlap")):
        with pytest.raises(InvalidArgument) as ei:
            ip.resolve_chunking(size, overlap, s)
        assert ei.value.field == field


def test_chunking_fits_the_embedders_window(tmp_path: Path) -> None:
    """An embedder that reads at most 254 of its tokens (a local model): the server's default
    (512) is capped to it and counted in its tokens; a request asking for more is refused, naming
    chunk_size and the limit; a smaller request stands; no window (an API model): as configured."""
    s = Settings(data_dir=tmp_path)
    tok = str.split  # any callable text -> tokens
    got = ip.resolve_chunking(0, 0, s, (254, tok), "local:m")
    assert got == ip.Chunking(254, min(s.chunk_overlap, 127), tok) and s.chunk_size > 254
    assert ip.resolve_chunking(200, 16, s, (254, tok), "local:m") == ip.Chunking(200, 16, tok)
    with pytest.raises(InvalidArgument) as ei:
        ip.resolve_chunking(300, 0, s, (254, tok), "local:m")
    assert ei.value.field == "chunk_size" and "254" in str(ei.value) and "local:m" in str(ei.value)
    assert ip.resolve_chunking(0, 0, s, (0, None), "openai:x") == ip.Chunking(s.chunk_size, min(s.chunk_overlap, s.chunk_size // 2))


def test_detect_changes() -> None:
    hashes = {"new": "h1", "same": "h2", "changed": "h3"}
    existing = {"same": [(0, "h2"), (1, "h2")], "changed": [(2, "old"), (3, "old")], "other": [(4, "x")]}
    ch = ip.detect_changes(hashes, existing)
    assert (ch.added, ch.replaced, ch.unchanged) == (1, 1, 1)
    assert ch.changed == {"new", "changed"}
    assert sorted(ch.old_rows) == [2, 3]  # only the replaced document's rows; "other" is untouched


def test_group_records_assigns_ids_and_names_fields() -> None:
    v = np.ones(DIM, np.float32) / 4
    recs = [RecordIn("", "doc", v), RecordIn("", "doc", v), RecordIn("solo", "", v)]
    groups = ip.group_records(recs, DIM)
    assert {k: [r.id for r in g] for k, g in groups.items()} == {"doc": ["doc#0", "doc#1"], "solo": ["solo"]}
    with pytest.raises(InvalidArgument) as ei:
        ip.group_records([RecordIn("a", "", np.ones(DIM + 1, np.float32))], DIM)
    assert ei.value.field == "records[0].vector"
    with pytest.raises(InvalidArgument) as ei:
        ip.validate_documents([DocumentIn("a", "x"), DocumentIn("a", "y")])
    assert ei.value.field == "documents[1].id"


def test_records_are_chunk_records_on_disk(tmp_path: Path) -> None:
    before = int(time.time() * 1000)
    (rec,) = ip.build_records([Chunk("d#0", "d", "text é", {"k": 1})], {"d": "hash"})
    assert rec.ingested_ms >= before  # ListDocuments' "ingested at"
    assert rec == ChunkRecord("d#0", "d", "hash", "text é", {"k": 1}, rec.ingested_ms)
    old = ChunkRecord("d#1", "d", "hash", "t", {})  # a row from before ingest times were kept
    store = RecordStore(tmp_path)
    try:
        assert store.append([rec, old, {}]) == 0
        assert store.get([0, 1, 2]) == [
            {"chunk_id": "d#0", "doc_id": "d", "doc_hash": "hash", "text": "text é", "metadata": {"k": 1},
             "ingested_ms": rec.ingested_ms},
            {"chunk_id": "d#1", "doc_id": "d", "doc_hash": "hash", "text": "t", "metadata": {}}, {},
        ]
        # byte for byte the JSON the untyped dicts were written as (same keys, same order; no
        # ingested_ms where it was not kept)
        assert (tmp_path / "records.bin").read_bytes() == (
            '{"chunk_id":"d#0","doc_id":"d","doc_hash":"hash","text":"text é","metadata":{"k":1},'
            f'"ingested_ms":{rec.ingested_ms}}}'
            '{"chunk_id":"d#1","doc_id":"d","doc_hash":"hash","text":"t","metadata":{}}{}'
        ).encode()
    finally:
        store.close()


@pytest.mark.parametrize("flavor", ["plain", "partitioned", "layout1"])
def test_milvus_row_matches_the_schema(lite_index: BinaryIndex, coll_name: str, flavor: str) -> None:
    partition = flavor == "partitioned"
    legacy = flavor == "layout1"
    lite_index.create(coll_name, DIM * 8, IndexConfig("BIN_FLAT"), partition_key=partition, num_partitions=4,
                      legacy=legacy)
    try:
        rec = record("d#0", "d", "h" * 64, "some text", {"tenant": 7, "k": "v"})
        codes = np.arange(DIM, dtype=np.uint8).reshape(1, DIM)
        row = BinaryIndex.row(5, codes[0], rec.doc_id, rec.metadata, partition_key="tenant" if partition else "",
                              legacy=rec.legacy_fields() if legacy else None)
        schema = {f["name"] for f in lite_index._schema(coll_name, fresh=True)["fields"]}
        assert set(row) == schema
        assert row["code"] == codes[0].tobytes() and row["row"] == 5
        if partition:
            assert row[PARTITION_FIELD] == "7"
        if legacy:
            assert {k: row[k] for k in LEGACY_FIELDS} == {"chunk_id": "d#0", "doc_hash": "h" * 64, "text": "some text"}
        lite_index.insert(coll_name, [row])  # Milvus takes it as it is
        assert lite_index.count(coll_name) == 1
    finally:
        lite_index.drop(coll_name)
