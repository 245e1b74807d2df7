"""Engine driven directly (asyncio) on Milvus Lite with raw vectors (embedder "none")."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from bitrag_server.config import Settings
from bitrag_server.domain import CollectionSpec, DocumentIn, RecordIn, SearchQuery
from bitrag_server.engine import Engine
from bitrag_server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from bitrag_server.quantize import binarize, hamming, l2_normalize
from bitrag_server.stores.catalog import LIVE, MANIFEST, VECTORS, IndexConfig

DIM = 64


def _settings(tmp: Path) -> Settings:
    return Settings(data_dir=tmp, embedder="none", _env_file=None)


@pytest.fixture
def engine_settings():  # noqa: ANN201 - the shared `engine` fixture (conftest.py) builds Settings with it
    return _settings


def _records(vecs: np.ndarray, start: int = 0, per_doc: int = 1) -> list[RecordIn]:
    return [
        RecordIn(
            id=f"c{start + i}",
            document_id=f"doc{(start + i) // per_doc}",
            vector=vecs[i],
            text=f"text {start + i}",
            metadata={"i": start + i, "group": (start + i) % 5},
        )
        for i in range(len(vecs))
    ]


def _clustered(n: int, dim: int, seed: int, n_clusters: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    labels = rng.integers(0, n_clusters, size=n)
    x = centers[labels] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return l2_normalize(x)


async def _create(engine: Engine, name: str = "vecs", **kw: object) -> None:
    info = await engine.create_collection(CollectionSpec(name=name, dimension=DIM, embedder="none", **kw))
    assert info.dimension == DIM and info.embedder == "none" and info.rows == 0
    assert info.index == IndexConfig("BIN_FLAT", {}, {})


async def test_create_ingest_search_exact(engine: Engine) -> None:
    await _create(engine)
    x = _clustered(300, DIM, seed=1)
    res = await engine.ingest("vecs", [], _records(x))
    assert (res.documents_added, res.chunks_written, res.chunks_deleted, res.generation) == (300, 300, 0, 1)
    info = await engine.describe("vecs")
    sizes = (info.rows, info.float_rows, info.bytes_in_ram, info.bytes_on_disk)
    assert sizes == (300, 300, 300 * 8, 300 * DIM * 4)

    codes = binarize(x)
    rng = np.random.default_rng(2)
    for _ in range(10):
        q = l2_normalize(rng.standard_normal(DIM).astype(np.float32))
        out = await engine.search(SearchQuery("vecs", vector=q, top_k=10, oversample=64, mode="RESCORED"))  # 640 >= 300
        exact = np.argsort(-(x @ q), kind="stable")[:10]
        assert [h.chunk_id for h in out.hits] == [f"c{i}" for i in exact]
        assert np.allclose([h.score for h in out.hits], (x @ q)[exact], atol=1e-5)
        h = out.hits[0]
        i = int(exact[0])
        assert (h.document_id, h.text, h.metadata) == (f"doc{i}", f"text {i}", {"i": i, "group": i % 5})
        assert [h.hamming_distance for h in out.hits] == hamming(codes[exact], binarize(q)).tolist()
        d = out.diagnostics
        assert d.path == "BINARY_RESCORED" and d.candidates_examined == 300 and d.oversample == 64
        assert [s for s, _ in d.timings_us] == ["candidates", "tier", "rescore", "gate", "fetch"]


async def test_search_with_filter(engine: Engine) -> None:
    await _create(engine)
    x = _clustered(100, DIM, seed=3)
    await engine.ingest("vecs", [], _records(x))
    q = x[0]
    out = await engine.search(SearchQuery("vecs", vector=q, top_k=100, filter="group == 2 and i < 50", mode="RESCORED"))
    want = [i for i in range(50) if i % 5 == 2]
    assert sorted(int(h.chunk_id[1:]) for h in out.hits) == want
    out = await engine.search(SearchQuery("vecs", vector=q, top_k=5, filter='not document_id in ["doc0"]', mode="RESCORED"))
    assert out.hits and all(h.document_id != "doc0" for h in out.hits)
    with pytest.raises(InvalidArgument) as ei:
        await engine.search(SearchQuery("vecs", vector=q, top_k=5, filter="len(x) > 1"))
    assert ei.value.field == "filter"


async def test_recall_grows_with_oversample(engine: Engine) -> None:
    await _create(engine)
    n, k = 5000, 10
    x = _clustered(n, DIM, seed=5)
    await engine.ingest("vecs", [], _records(x))
    queries = _clustered(50, DIM, seed=6)
    exact = [set(np.argsort(-(x @ q))[:k].tolist()) for q in queries]
    recalls = []
    for os_ in (1, 2, 4, 8):
        hit = 0
        for q, ex in zip(queries, exact):
            out = await engine.search(SearchQuery("vecs", vector=q, top_k=k, oversample=os_, mode="RESCORED"))
            assert len(out.hits) == k and out.diagnostics.candidates_examined == k * os_
            hit += len(ex & {int(h.chunk_id[1:]) for h in out.hits})
        recalls.append(hit / (k * len(queries)))
    assert recalls == sorted(recalls), recalls  # monotone non-decreasing
    assert recalls[0] < recalls[-1], recalls
    assert recalls[-1] >= 2 * recalls[0], recalls  # 8x the candidates: clearly better
    # candidates covering every row (1000 * 64, capped at 16384 >= 5000): exact
    for q, ex in zip(queries[:5], exact[:5]):
        out = await engine.search(SearchQuery("vecs", vector=q, top_k=1000, oversample=64, mode="RESCORED"))
        assert out.diagnostics.candidates_examined == n
        assert {int(h.chunk_id[1:]) for h in out.hits[:k]} == ex


async def test_reingest_unchanged_replaced_and_delete(engine: Engine) -> None:
    await _create(engine)
    x = _clustered(20, DIM, seed=7)
    r1 = await engine.ingest("vecs", [], _records(x, per_doc=4))  # 5 documents of 4 chunks
    assert (r1.documents_added, r1.chunks_written, r1.generation) == (5, 20, 1)
    r2 = await engine.ingest("vecs", [], _records(x, per_doc=4))
    assert (r2.documents_unchanged, r2.documents_added, r2.chunks_written, r2.generation) == (5, 0, 0, 1)
    y = x.copy()
    y[5] = x[0]  # doc1 changes (chunk c5)
    r3 = await engine.ingest("vecs", [], _records(y[4:8], start=4, per_doc=4))
    assert (r3.documents_replaced, r3.chunks_written, r3.chunks_deleted, r3.generation) == (1, 4, 4, 2)
    info = await engine.describe("vecs")
    assert (info.rows, info.float_rows, info.generation) == (20, 24, 2)
    out = await engine.search(SearchQuery("vecs", vector=x[0], top_k=2, oversample=64, mode="RESCORED"))
    assert {h.chunk_id for h in out.hits} == {"c0", "c5"}
    assert out.hits[0].score == pytest.approx(1.0, abs=1e-5)
    d = await engine.delete("vecs", ["doc1", "doc1", "nope"])
    assert (d.documents_deleted, d.chunks_deleted, d.generation) == (1, 4, 3)
    assert (await engine.describe("vecs")).rows == 16
    out = await engine.search(SearchQuery("vecs", vector=x[0], top_k=20, oversample=64, mode="RESCORED"))
    assert len(out.hits) == 16 and all(h.document_id != "doc1" for h in out.hits)
    d = await engine.delete("vecs", ["nope"])
    assert (d.documents_deleted, d.chunks_deleted, d.generation) == (0, 0, 3)


async def test_restart_keeps_data(tmp_path: Path) -> None:
    s = _settings(tmp_path / "data")
    e = Engine(s)
    await e.start()
    await _create(e)
    x = _clustered(50, DIM, seed=8)
    await e.ingest("vecs", [], _records(x))
    await e.close()
    e2 = Engine(s)
    await e2.start()
    try:
        assert [c.name for c in await e2.list_collections()] == ["vecs"]
        info = await e2.describe("vecs")
        assert (info.rows, info.float_rows, info.generation) == (50, 50, 1)
        out = await e2.search(SearchQuery("vecs", vector=x[17], top_k=1, oversample=64, mode="RESCORED"))
        assert out.hits[0].chunk_id == "c17" and out.hits[0].score == pytest.approx(1.0, abs=1e-5)
    finally:
        await e2.close()


async def test_drop_cleans_directory(engine: Engine) -> None:
    await _create(engine)
    await engine.ingest("vecs", [], _records(_clustered(10, DIM, seed=9)))
    d = engine.catalog.dir("vecs")
    assert (d / MANIFEST).is_file() and (d / VECTORS).stat().st_size == 10 * DIM * 4
    await engine.drop("vecs")
    assert not d.exists()
    assert [p.name for p in engine.catalog.root.iterdir()] == [".catalog.lock"]  # no trash left
    assert not engine.index.exists("bitrag_vecs")
    assert await engine.list_collections() == []
    with pytest.raises(NotFound) as ei:
        await engine.describe("vecs")
    assert ei.value.field == "name"
    with pytest.raises(NotFound):
        await engine.drop("vecs")
    # the name can be reused, empty
    await _create(engine)
    assert (await engine.describe("vecs")).float_rows == 0


async def test_validation_errors(engine: Engine) -> None:
    await _create(engine)
    with pytest.raises(AlreadyExists):
        await _create(engine)
    cases = [
        (CollectionSpec("x", dimension=0, embedder="none"), "dimension"),
        (CollectionSpec("x", dimension=12, embedder="none"), "dimension"),
        (CollectionSpec("x", dimension=8, embedder="none", default_oversample=65), "default_oversample"),
        (CollectionSpec("x", dimension=8, embedder="none", index=IndexConfig("BIN_IVF_FLAT")), "index.type"),
        (CollectionSpec("x", dimension=8, embedder="bogus"), "embedder"),
        (CollectionSpec("1x", dimension=8, embedder="none"), "name"),
    ]
    for spec, field in cases:
        with pytest.raises(InvalidArgument) as ei:
            await engine.create_collection(spec)
        assert ei.value.field == field
    q = l2_normalize(np.ones(DIM, np.float32))
    for query, field in [
        (SearchQuery("vecs", vector=q, top_k=0, mode="RESCORED"), "top_k"),
        (SearchQuery("vecs", vector=q, top_k=1001, mode="RESCORED"), "top_k"),
        (SearchQuery("vecs", vector=q, top_k=1, oversample=65, mode="RESCORED"), "oversample"),
        (SearchQuery("vecs", vector=q[:8], top_k=1, mode="RESCORED"), "vector"),
        (SearchQuery("vecs", top_k=1, mode="RESCORED"), "query"),
    ]:
        with pytest.raises(InvalidArgument) as ei:
            await engine.search(query)
        assert ei.value.field == field
    with pytest.raises(FailedPrecondition) as ei:
        await engine.search(SearchQuery("vecs", text="hello", top_k=1, mode="RESCORED"))
    assert ei.value.field == "text"
    with pytest.raises(FailedPrecondition):
        await engine.ingest("vecs", [DocumentIn("a", "text")], [])
    with pytest.raises(NotFound) as ei:
        await engine.search(SearchQuery("nope", vector=q, top_k=1))
    assert ei.value.field == "collection"
    with pytest.raises(InvalidArgument) as ei:
        await engine.ingest("vecs", [], _records(np.ones((1, 8), np.float32)))
    assert ei.value.field == "records[0].vector"
    assert (await engine.describe("vecs")).float_rows == 0  # nothing written by rejected calls


# ---- the record store (chunk ids, text, hashes beside the vectors) ----------------------------------


async def test_records_live_in_the_data_dir_and_hits_come_from_there(engine: Engine) -> None:
    await _create(engine)
    x = _clustered(30, DIM, seed=12)
    t0 = int(time.time() * 1000)
    await engine.ingest("vecs", [], _records(x, per_doc=3))
    c = engine._collections["vecs"]
    assert c.manifest.layout == 2 and c.records.rows == c.floats.rows == 30
    rec = c.records.get([4])[0]
    assert t0 <= rec.pop("ingested_ms") <= time.time() * 1000  # when the row was written (ListDocuments)
    assert rec == {"chunk_id": "c4", "doc_id": "doc1", "doc_hash": c.records.get([3])[0]["doc_hash"],
                   "text": "text 4", "metadata": {"i": 4, "group": 4}}
    fields = [f["name"] for f in engine.index._client.describe_collection(c.milvus)["fields"]]
    assert fields == ["row", "code", "doc_id", "metadata"]
    out = await engine.search(SearchQuery("vecs", vector=x[4], top_k=3, oversample=16, mode="RESCORED"))
    h = out.hits[0]
    assert (h.chunk_id, h.document_id, h.text, h.metadata) == ("c4", "doc1", "text 4", {"i": 4, "group": 4})
    assert "fetch" in dict(out.diagnostics.timings_us)
    # replacing a document compares hashes from the record store: unchanged is skipped, changed replaced
    res = await engine.ingest("vecs", [], _records(x[3:6], start=3, per_doc=3))
    assert (res.documents_unchanged, res.chunks_written) == (1, 0)
    changed = _records(x[3:6], start=3, per_doc=3)
    changed[0].text = "new text"
    res = await engine.ingest("vecs", [], changed)
    assert (res.documents_replaced, res.chunks_written, res.chunks_deleted) == (1, 3, 3)
    out = await engine.search(SearchQuery("vecs", vector=x[3], top_k=1, oversample=16, mode="RESCORED"))
    assert (out.hits[0].chunk_id, out.hits[0].text) == ("c3", "new text")


async def test_records_reconciled_after_a_crash_between_appends(tmp_path: Path) -> None:
    """Floats appended but the records not (a crash before the Milvus insert): the rows were never
    acknowledged; the next open pads the records so the files stay row-aligned."""
    s = _settings(tmp_path / "data")
    e = Engine(s)
    await e.start()
    await _create(e)
    x = _clustered(20, DIM, seed=13)
    await e.ingest("vecs", [], _records(x[:10]))
    c = e._collections["vecs"]
    c.floats.append(x[10:15])  # the crash: floats (and a partial record write) without the rest
    with open(e.catalog.dir("vecs") / "records.bin", "ab") as f:
        f.write(b'{"chunk_id":"torn')
    await e.close()
    e2 = Engine(s)
    await e2.start()
    try:
        c = e2._collections["vecs"]
        assert c.floats.rows == c.codes.rows == c.records.rows == 15
        assert c.records.get([12]) == [{}]
        await e2.ingest("vecs", [], _records(x[15:], start=15))
        assert c.records.rows == 20 and c.records.get([16])[0]["chunk_id"] == "c16"
        out = await e2.search(SearchQuery("vecs", vector=x[16], top_k=1, oversample=16, mode="RESCORED"))
        assert (out.hits[0].chunk_id, out.hits[0].text) == ("c16", "text 16")
        assert (await e2.describe("vecs")).rows == 15  # 10 + 5 in Milvus; the 5 torn rows never were
    finally:
        await e2.close()


async def test_live_flags_follow_writes_and_an_interrupted_write_marks_them_at_open(tmp_path: Path) -> None:
    """live.u8 marks a row live once Milvus has it and dead from its delete or replacement on.
    Writes killed after their journal (an insert, a delete), with no flag of theirs written, are
    rolled forward at the next open with their flags; a collection whose live.u8 is gone (opened
    before it existed, restored) gets it rebuilt from the rows Milvus holds."""
    from bitrag_server import recovery
    from bitrag_server.collection import record
    from bitrag_server.ingest_pipeline import append_rows

    s = _settings(tmp_path / "data")
    e = Engine(s)
    await e.start()
    await _create(e)
    x = _clustered(40, DIM, seed=17)
    await e.ingest("vecs", [], _records(x[:30], per_doc=3))
    c = e._collections["vecs"]
    assert c.live.rows == 30 and c.live.mask(np.arange(30)).all()
    await e.delete("vecs", ["doc2"])  # rows 6-8
    changed = _records(x[9:12], start=9, per_doc=3)
    changed[0].text = "new"
    await e.ingest("vecs", [], changed)  # doc3: rows 9-11 replaced by 30-32
    dead = [6, 7, 8, 9, 10, 11]
    assert np.flatnonzero(~c.live.mask(np.arange(33))).tolist() == dead
    # killed after the journals: an insert of rows 33-35 (in the files, flags 0), a delete of doc0
    await e.close()
    e = Engine(s)
    await e.start()
    c = e._collections["vecs"]
    new = [record(f"c{33 + i}", "doc11", "h", f"text {33 + i}", {}) for i in range(3)]
    start = append_rows(c, x[33:36], binarize(x[33:36], c.thresholds), new)
    assert start == 33 and not c.live.mask(np.arange(33, 36)).any()
    recovery.begin(c, "ingest", (33, 36), [0, 1, 2])
    await e.close()  # as a kill would leave it: the journal, no Milvus call, no flag
    e = Engine(s)
    await e.start()
    try:
        c = e._collections["vecs"]
        assert not recovery.journal_path(c).exists()
        dead = [0, 1, 2, *dead]
        assert np.flatnonzero(~c.live.mask(np.arange(36))).tolist() == dead
        held = set(e.index.matching_rows(c.milvus, "row >= 0").tolist())
        assert held == set(range(36)) - set(dead)
        out = await e.search(SearchQuery("vecs", vector=x[34], top_k=3, oversample=16, mode="RESCORED"))
        assert out.hits[0].chunk_id == "c34" and not {"c0", "c1", "c2"} & {h.chunk_id for h in out.hits}
    finally:
        await e.close()
    (e.catalog.dir("vecs") / LIVE).unlink()
    e = Engine(s)
    await e.start()
    try:
        c = e._collections["vecs"]
        assert c.live.rows == 36 and np.flatnonzero(~c.live.mask(np.arange(36))).tolist() == dead
    finally:
        await e.close()


async def test_layout_1_collection_migrates_its_records_from_milvus(tmp_path: Path) -> None:
    """A collection created before the record store (layout 1: chunk ids, text and hashes only in
    Milvus) gets its records copied from Milvus when a server opens it, then keeps working: search
    hits carry their text, ingest fills Milvus' legacy fields too, deletes and replacements work."""
    from bitrag_server.stores.binary_index import BinaryIndex
    from bitrag_server.stores.record_store import RECORD_INDEX, RECORDS

    s = _settings(tmp_path / "data")
    e = Engine(s)
    await e.start()
    await _create(e)
    x = _clustered(40, DIM, seed=14)
    await e.ingest("vecs", [], _records(x[:30], per_doc=3))
    c = e._collections["vecs"]
    recs, milvus_name = c.records.get(list(range(30))), c.milvus
    codes = c.codes.gather(np.arange(30))
    await e.close()
    # rebuild it as an earlier version left it: legacy Milvus schema, no record files, layout 1
    d = e.catalog.dir("vecs")
    idx = BinaryIndex.from_settings(s)
    idx.create(milvus_name, DIM, IndexConfig("BIN_FLAT"), legacy=True)
    legacy_recs = [{k: v for k, v in r.items() if k != "ingested_ms"} for r in recs]  # layout 1 had no ingest time
    idx.insert(milvus_name, [{"row": i, "code": codes[i].tobytes(), **legacy_recs[i]} for i in range(30) if i != 7])
    idx.close()  # row 7: deleted in Milvus, its record never copied
    (d / RECORDS).unlink()
    (d / RECORD_INDEX).unlink()
    (d / LIVE).unlink()  # (it came later still)
    m = json.loads((d / MANIFEST).read_text())
    m["layout"] = 1
    (d / MANIFEST).write_text(json.dumps(m))
    e2 = Engine(s)
    await e2.start()
    try:
        c = e2._collections["vecs"]
        assert c.manifest.layout == 1 and c.records.rows == 30
        assert c.records.get([7, 8]) == [{}, legacy_recs[8]]
        assert np.flatnonzero(~c.live.mask(np.arange(30))).tolist() == [7]  # rebuilt from Milvus' rows
        out = await e2.search(SearchQuery("vecs", vector=x[8], top_k=1, oversample=16, mode="RESCORED"))
        assert (out.hits[0].chunk_id, out.hits[0].text) == ("c8", "text 8")
        res = await e2.ingest("vecs", [], _records(x[30:], start=30, per_doc=3))  # legacy fields filled
        assert res.chunks_written == 10 and c.records.rows == 40
        got = e2.index._client.query(milvus_name, filter="row in [35]", output_fields=["chunk_id", "text"])
        assert (got[0]["chunk_id"], got[0]["text"]) == ("c35", "text 35")
        res = await e2.ingest("vecs", [], _records(x[:3], per_doc=3))  # unchanged: hash from the records
        assert res.documents_unchanged == 1
        assert (await e2.delete("vecs", ["doc0"])).chunks_deleted == 3
    finally:
        await e2.close()
    e3 = Engine(s)  # opened again: nothing left to migrate, nothing duplicated
    await e3.start()
    try:
        assert e3._collections["vecs"].records.rows == 40
    finally:
        await e3.close()
