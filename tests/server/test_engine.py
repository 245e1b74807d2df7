"""Engine driven directly (asyncio) on Milvus Lite with raw vectors (embedder "none")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitrag_server.config import Settings
from bitrag_server.domain import CollectionSpec, DocumentIn, RecordIn, SearchQuery
from bitrag_server.engine import Engine
from bitrag_server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from bitrag_server.quantize import binarize, hamming, l2_normalize
from bitrag_server.stores.catalog import MANIFEST, VECTORS, IndexConfig

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
        assert [s for s, _ in d.timings_us] == ["candidates", "asymmetric", "rescore", "gate", "fetch"]


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
