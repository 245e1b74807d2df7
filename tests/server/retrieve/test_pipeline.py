"""Search modes, the confidence gate and its fallbacks, calibration and code reconciliation, with the
Engine driven in-process (asyncio) on Milvus Lite and raw vectors (embedder "none"). Every answer
that promises full precision is checked against a numpy exact search."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from bitrag_server.retrieve import calibrate
from bitrag_server.retrieve.plan import CLOSE, EXPLORE_EVERY, ObservedRoutes
from bitrag_server.config import Settings
from bitrag_server.domain import CollectionSpec, RecordIn, Route, SearchQuery, SearchResult
from bitrag_server.engine import Engine
from bitrag_server.errors import InvalidArgument
from bitrag_server.quantize import binarize, hamming, l2_normalize
from bitrag_server.stores.catalog import CODES, MANIFEST, GateConfig

DIM = 64
N = 3000  # default pool (k=10, oversample 4: 40 rescored of a 160-code Hamming pool) << N
K = 10
DEFAULT_POOL = K * 4 * 4


def _settings(data_dir: Path, **kw: object) -> Settings:
    # calibration_min_rows: no background pseudo-calibration unless a test asks for it, so the gate
    # state a test sees is the one it set up.
    base: dict[str, object] = dict(
        data_dir=data_dir, embedder="none", calibration_query_rate=0, calibration_min_rows=10**9, _env_file=None
    )
    return Settings(**{**base, **kw})


def _clustered(n: int, seed: int, n_clusters: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, DIM)).astype(np.float32)
    labels = rng.integers(0, n_clusters, size=n)
    return l2_normalize(centers[labels] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32))


def _queries(x: np.ndarray, n: int, seed: int, noise: float = 0.7) -> np.ndarray:
    """Queries near stored vectors (not on them), like real queries near their documents."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(x.shape[0], size=n, replace=False)
    return l2_normalize(x[pick] + noise / np.sqrt(DIM) * rng.standard_normal((n, DIM)).astype(np.float32))


def _records(x: np.ndarray) -> list[RecordIn]:
    return [
        RecordIn(id=f"c{i}", document_id=f"doc{i}", vector=x[i], text=f"text {i}", metadata={"i": i, "group": i % 5})
        for i in range(x.shape[0])
    ]


def _exact(x: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """numpy exact top-k chunk ids and scores, optionally among `allowed` row ids only."""
    rows = np.arange(x.shape[0]) if allowed is None else np.asarray(allowed)
    sc = x[rows] @ q
    top = rows[np.argsort(-sc, kind="stable")[:k]]
    return [f"c{i}" for i in top], x[top] @ q


def _ids(res: SearchResult) -> list[str]:
    return [h.chunk_id for h in res.hits]


def _assert_exact(res: SearchResult, x: np.ndarray, q: np.ndarray, k: int = K, allowed: np.ndarray | None = None) -> None:
    ids, scores = _exact(x, q, k, allowed)
    assert _ids(res) == ids
    assert np.allclose([h.score for h in res.hits], scores, atol=1e-5)


async def _make(engine: Engine, x: np.ndarray, name: str = "vecs", gate: GateConfig | None = None) -> None:
    await engine.create_collection(CollectionSpec(name=name, dimension=DIM, embedder="none", gate=gate))
    res = await engine.ingest(name, [], _records(x))
    assert res.chunks_written == x.shape[0]


@pytest.fixture
def engine_settings():  # noqa: ANN201 - the shared `engine` fixture (conftest.py) builds Settings with it
    return _settings


@pytest.fixture(scope="module")
def x3k() -> np.ndarray:
    return _clustered(N, seed=11)


@pytest.fixture
async def loaded(engine: Engine, x3k: np.ndarray) -> Engine:
    await _make(engine, x3k)
    return engine


def search(engine: Engine, q: np.ndarray, name: str = "vecs", **kw: object):
    return engine.search(SearchQuery(name, vector=q, **{"top_k": K, **kw}))


# ---- EXACT / BINARY_ONLY ---------------------------------------------------------------------------


async def test_exact_mode_matches_numpy_and_skips_deleted(loaded: Engine, x3k: np.ndarray) -> None:
    qs = _queries(x3k, 5, seed=1)
    for q in qs:
        res = await search(loaded, q, mode="EXACT")
        _assert_exact(res, x3k, q)
        d = res.diagnostics
        assert (d.path, d.mode, d.confidence, d.candidates_examined, d.pools) == ("EXACT", "EXACT", 1.0, N, [])
        assert [s for s, _ in d.timings_us] == ["exact_scan", "exact_verify", "fetch"]
    # delete 4 of the exact top-10 of the first query (they stay in the float file)
    q = qs[0]
    top, _ = _exact(x3k, q, K)
    gone = [int(top[j][1:]) for j in (0, 2, 5, 9)]
    dr = await loaded.delete("vecs", [f"doc{i}" for i in gone])
    assert dr.chunks_deleted == 4
    res = await search(loaded, q, mode="EXACT")
    alive = np.setdiff1d(np.arange(N), gone)
    _assert_exact(res, x3k, q, allowed=alive)
    assert not {f"c{i}" for i in gone} & set(_ids(res))
    assert res.diagnostics.candidates_examined == N  # every float row scored, deleted ones too
    # a larger k than the first liveness window (2k + 16) still fills up with live rows only
    res = await search(loaded, q, mode="EXACT", top_k=300)
    _assert_exact(res, x3k, q, k=300, allowed=alive)


async def test_exact_mode_with_filter(loaded: Engine, x3k: np.ndarray) -> None:
    q = _queries(x3k, 1, seed=2)[0]
    res = await search(loaded, q, mode="EXACT", filter="group == 2")
    allowed = np.arange(N)[np.arange(N) % 5 == 2]
    _assert_exact(res, x3k, q, allowed=allowed)
    assert all(h.metadata["group"] == 2 for h in res.hits)
    res = await search(loaded, q, mode="EXACT", filter="group in [1, 3] and i < 1000", top_k=25)
    allowed = np.asarray([i for i in range(1000) if i % 5 in (1, 3)])
    _assert_exact(res, x3k, q, k=25, allowed=allowed)
    # a filter matching fewer rows than k: all of them, best first
    res = await search(loaded, q, mode="EXACT", filter="i < 7", top_k=20)
    _assert_exact(res, x3k, q, k=20, allowed=np.arange(7))
    assert len(res.hits) == 7


async def test_binary_only_is_hamming_order(loaded: Engine, x3k: np.ndarray) -> None:
    codes = binarize(x3k)
    for q in _queries(x3k, 5, seed=3):
        res = await search(loaded, q, mode="BINARY_ONLY", top_k=20)
        h_all = hamming(codes, binarize(q))
        rows = [int(h.chunk_id[1:]) for h in res.hits]
        hs = [h.hamming_distance for h in res.hits]
        assert len(rows) == 20 and len(set(rows)) == 20
        assert hs == h_all[rows].tolist()  # the reported distance is the row's true distance
        assert hs == sorted(h_all.tolist())[:20]  # the 20 nearest codes, nearest first
        assert [h.score for h in res.hits] == pytest.approx([1.0 - 2.0 * h / DIM for h in hs], abs=1e-6)
        d = res.diagnostics
        assert (d.path, d.mode, d.candidates_examined, d.pools, d.confidence) == ("BINARY_ONLY", "BINARY_ONLY", 0, [20], 0.0)


# ---- the gate -------------------------------------------------------------------------------------


async def test_threshold_one_always_falls_back_zero_never(loaded: Engine, x3k: np.ndarray) -> None:
    qs = _queries(x3k, 30, seed=4)
    for q in qs:
        res = await search(loaded, q, confidence_threshold=1.0)
        d = res.diagnostics
        assert d.path.startswith("FALLBACK_"), d
        assert d.path == "FALLBACK_EXACT"  # default chain widen, exact: threshold 1 lets no estimate stand
        assert (d.mode, d.threshold, d.confidence) == ("AUTO", 1.0, 1.0)
        # widened by 4x (more Milvus calls) before the exact scan; no answer stands, so the first
        # pool reads only its first batch of float rows
        assert d.pools[0] == DEFAULT_POOL and len(d.pools) > 1 and d.milvus_calls == len(d.pools)
        assert d.candidates_examined > N
        _assert_exact(res, x3k, q)
    for q in qs:
        res = await search(loaded, q, confidence_threshold=0.0)
        d = res.diagnostics
        assert d.path == "BINARY_RESCORED", d
        # threshold 0: the first batch (k x oversample rows) stands: one Milvus call
        assert (d.threshold, d.pools, d.candidates_examined, d.milvus_calls) == (0.0, [DEFAULT_POOL], K * 4, 1)
        assert 0.0 <= d.confidence <= 1.0 and d.tier_scored == DEFAULT_POOL
        assert [s for s, _ in d.timings_us] == ["candidates", "tier", "rescore", "gate", "fetch"]


async def test_uncalibrated_auto_falls_back_and_is_exact(loaded: Engine, x3k: np.ndarray) -> None:
    """No calibration yet: the derived threshold is 1 and the confidence of an estimate 0, so every
    AUTO answer whose pool missed rows goes to the fallbacks; with widen_accept_stable off only a
    provably exact widened answer stands, so they all end exact."""
    loaded.settings.widen_accept_stable = False
    for q in _queries(x3k, 10, seed=5):
        res = await search(loaded, q)
        d = res.diagnostics
        assert not d.calibrated and d.threshold == 1.0
        assert d.path in ("FALLBACK_WIDENED", "FALLBACK_EXACT")
        assert d.confidence == 1.0
        _assert_exact(res, x3k, q)


async def test_widen_accepts_an_answer_a_wider_search_left_unchanged(loaded: Engine, x3k: np.ndarray) -> None:
    """Uncalibrated (threshold 1, no estimate is confident): the stopping rule reads the whole pool,
    then with widen_accept_stable (the default) a widened answer stands once a 4x wider pool leaves
    the top k unchanged: it is then the exact top-k of every row the pools held (all were read).
    Answers that never settle go exact."""
    assert loaded.settings.widen_accept_stable
    paths = []
    for q in _queries(x3k, 12, seed=7):
        res = await search(loaded, q)
        d = res.diagnostics
        assert d.threshold == 1.0 and not d.calibrated
        paths.append(d.path)
        if d.confidence == 1.0:  # the exact scan, or a widened pool that held every row
            _assert_exact(res, x3k, q)
            continue
        assert d.path == "FALLBACK_WIDENED" and d.confidence < d.threshold  # stood on stability alone
        assert d.pools[0] == DEFAULT_POOL and len(d.pools) >= 2
        assert all(b == a * 4 for a, b in zip(d.pools, d.pools[1:]))
        assert d.milvus_calls == len(d.pools) and d.candidates_examined == d.pools[-1]  # every candidate read
        # the answer is the exact top-k of the last pool: exact scores, and nothing it held beats them
        assert np.allclose([h.score for h in res.hits], x3k[[int(i[1:]) for i in _ids(res)]] @ q, atol=1e-5)
        pool = await search(loaded, q, mode="BINARY_ONLY", top_k=d.pools[-1])
        assert {h.chunk_id for h in res.hits} <= {h.chunk_id for h in pool.hits}
        held = np.asarray([int(h.chunk_id[1:]) for h in pool.hits])
        assert res.hits[-1].score >= np.sort(x3k[held] @ q)[-K] - 1e-5
    assert "FALLBACK_WIDENED" in paths  # the clustered data settles well before the exact scan


@pytest.mark.parametrize(("fallback", "path"), [("widen", "FALLBACK_WIDENED"), ("exact", "FALLBACK_EXACT")])
async def test_each_fallback_is_exact(engine: Engine, fallback: str, path: str) -> None:
    n = 600
    x = _clustered(n, seed=21)
    await _make(engine, x, gate=GateConfig(fallback=[fallback], confidence_threshold=1.0))
    info = await engine.describe("vecs")
    assert info.gate.fallback == [fallback] and info.threshold == 1.0
    for q in _queries(x, 8, seed=22):
        res = await search(engine, q)
        d = res.diagnostics
        assert d.path == path and d.confidence == 1.0
        _assert_exact(res, x, q)
        if fallback == "widen":
            # widened by 4x until a pool held every row (160 -> 640 >= 600), then all rows rescored
            assert d.pools[0] == DEFAULT_POOL and d.pools == sorted(d.pools) and len(d.pools) >= 2
            assert d.pools[-1] >= n
            assert d.candidates_examined >= n
        else:
            assert d.pools == [DEFAULT_POOL] and d.candidates_examined == K * 4 + n


async def test_collection_fallback_is_exact(engine: Engine) -> None:
    from pymilvus import DataType, MilvusClient

    n = 600
    x = _clustered(n, seed=23)
    cl = engine.index._client  # the same Milvus Lite file
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=256)
    schema.add_field("metadata", DataType.JSON)
    params = cl.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    cl.create_collection("legacy_rag", schema=schema, index_params=params, consistency_level="Strong")
    cl.insert("legacy_rag", [
        {"id": i, "vector": x[i].tolist(), "doc_id": f"legacy{i}", "text": f"legacy text {i}", "metadata": {"i": i}}
        for i in range(n)
    ])
    await _make(engine, x, gate=GateConfig(fallback=["collection"], fallback_collection="legacy_rag",
                                           confidence_threshold=1.0))
    info = await engine.describe("vecs")
    assert (info.gate.fallback, info.gate.fallback_collection, info.gate.fallback_vector_field) == (
        ["collection"], "legacy_rag", "vector")
    for q in _queries(x, 8, seed=24):
        res = await search(engine, q)
        d = res.diagnostics
        assert d.path == "FALLBACK_COLLECTION" and d.confidence == 1.0
        ids, scores = _exact(x, q, K)
        rows = [int(i[1:]) for i in ids]
        # the answer comes from the float32 collection: its ids, text and metadata
        assert [h.chunk_id for h in res.hits] == [str(i) for i in rows]
        assert [h.document_id for h in res.hits] == [f"legacy{i}" for i in rows]
        assert [(h.text, h.metadata) for h in res.hits] == [(f"legacy text {i}", {"i": i}) for i in rows]
        assert np.allclose([h.score for h in res.hits], scores, atol=1e-5)
        assert "fallback_collection" in dict(d.timings_us)
    # below the threshold only: threshold 0 answers from the binary collection
    res = await search(engine, _queries(x, 1, seed=25)[0], confidence_threshold=0.0)
    assert res.diagnostics.path == "BINARY_RESCORED" and res.hits[0].chunk_id.startswith("c")


async def test_covering_pool_is_rescored_whole_and_exact(engine: Engine) -> None:
    """39 rows, k=10, oversample 1: the 40-code pool holds every row. The asymmetric shortlist
    would keep 10 and could miss true neighbours; instead every eligible row is rescored, so the
    answer is exact, confidence 1, and AUTO needs no fallback."""
    x = l2_normalize(np.random.default_rng(31).standard_normal((39, DIM)).astype(np.float32))
    await _make(engine, x)
    for q in l2_normalize(np.random.default_rng(32).standard_normal((15, DIM)).astype(np.float32)):
        for mode in ("RESCORED", "AUTO"):
            res = await search(engine, q, oversample=1, mode=mode)
            _assert_exact(res, x, q)
            assert res.diagnostics.confidence == 1.0
            assert res.diagnostics.path == "BINARY_RESCORED"
            assert res.diagnostics.candidates_examined == 39


# ---- gate configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "field"),
    [
        (GateConfig(fallback=["bogus"]), "gate.fallback[0]"),
        (GateConfig(fallback=["widen", "exact", "nearest"]), "gate.fallback[2]"),
        (GateConfig(fallback=["collection"]), "gate.fallback_collection"),
        (GateConfig(fallback=["widen", "collection"], fallback_collection="no_such_collection"),
         "gate.fallback_collection"),
        (GateConfig(confidence_threshold=1.5), "gate.confidence_threshold"),
        (GateConfig(confidence_threshold=-0.1), "gate.confidence_threshold"),
        (GateConfig(target_recall=1.5), "gate.target_recall"),
        (GateConfig(widen_max_rows=10**6), "gate.widen_max_rows"),
    ],
)
async def test_invalid_gate_config(engine: Engine, gate: GateConfig, field: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        await engine.create_collection(CollectionSpec(name="bad", dimension=DIM, embedder="none", gate=gate))
    assert ei.value.field == field
    assert ei.value.message.startswith(f"{field}: ")
    assert await engine.list_collections() == []
    assert not engine.catalog.dir("bad").exists()


async def test_default_gate_resolved(engine: Engine) -> None:
    info = await engine.create_collection(CollectionSpec(name="dflt", dimension=DIM, embedder="none"))
    assert info.gate == GateConfig(target_recall=0.99, confidence_threshold=0.0, fallback=["widen", "exact"],
                                   widen_max_rows=4096, fallback_collection="", fallback_vector_field="vector")
    assert not info.calibration.calibrated and info.threshold == 1.0


async def test_per_request_threshold_validated(loaded: Engine, x3k: np.ndarray) -> None:
    for bad in (1.01, -0.5, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument) as ei:
            await search(loaded, x3k[0], confidence_threshold=bad)
        assert ei.value.field == "confidence_threshold"
    with pytest.raises(InvalidArgument) as ei:
        await search(loaded, x3k[0], mode="FASTEST")
    assert ei.value.field == "mode"


# ---- calibration --------------------------------------------------------------------------------------


async def test_calibrate_persists_and_is_used(tmp_path: Path, x3k: np.ndarray) -> None:
    data = tmp_path / "data"
    e = Engine(_settings(data))
    await e.start()
    try:
        await _make(e, x3k)
        cal, duration_us = await e.calibrate("vecs", samples=150)
        assert cal.calibrated and cal.samples == 150 and cal.source == "pseudo"
        assert 0.0 <= cal.threshold <= 1.0 and duration_us > 0
        assert (cal.rows_at_calibration, cal.target_recall) == (N, 0.99)
        assert cal.calibrated_unix_ms > time.time() * 1000 - 600_000
        assert len(cal.reliability) == 5 and sum(b["n"] for b in cal.reliability) == 150
        assert all(0.0 <= b["predicted"] <= 1.0 and 0.0 <= b["measured"] <= 1.0 for b in cal.reliability)
        assert cal.edges and len(cal.edges) == len(cal.values)
        # written to the manifest
        m = json.loads((e.catalog.dir("vecs") / MANIFEST).read_text())
        assert m["calibration"]["samples"] == 150 and m["calibration"]["threshold"] == cal.threshold
        info = await e.describe("vecs")
        assert info.calibration.calibrated and info.threshold == cal.threshold
        plan = info.plan
        assert plan["pool"] in (40, 80, 160, 320, 640, 1280, 2560, 4096) and plan["rows"] == N
        assert plan["candidate_recall"] >= 0.995 or plan["pool"] == 4096  # the pool meets the target's share
        assert plan["exact_us"] > 0 and plan["binary_us"] > 0 and plan["scan_us"] > 0
        assert plan["route"] == ("exact" if plan["exact_us"] <= plan["binary_us"] else "binary")
        assert m["plan"] == plan
        qs = _queries(x3k, 10, seed=6)
        for q in qs:
            res = await search(e, q)
            d = res.diagnostics
            assert d.calibrated and d.threshold == pytest.approx(cal.threshold)
            assert d.path in ("BINARY_RESCORED", "FALLBACK_WIDENED", "FALLBACK_EXACT", "EXACT")
            # routed to the exact scan only when calibration measured it cheaper than the binary path
            assert (d.path == "EXACT") == (info.plan["route"] == "exact")
            if d.path in ("FALLBACK_EXACT", "EXACT"):
                assert d.confidence == 1.0
                _assert_exact(res, x3k, q)
            elif d.path == "BINARY_RESCORED":  # the first estimate stands only at or above the threshold
                assert d.confidence >= cal.threshold
            else:  # a widened one also when a 4x wider search left it unchanged (widen_accept_stable)
                assert len(d.pools) >= 2
        with pytest.raises(InvalidArgument) as ei:
            await e.calibrate("vecs", samples=5)
        assert ei.value.field == "samples"
    finally:
        await e.close()

    e2 = Engine(_settings(data))
    await e2.start()
    try:
        info = await e2.describe("vecs")
        assert info.threshold == cal.threshold
        assert asdict(info.calibration) == asdict(cal)
        res = await search(e2, qs[0])
        assert res.diagnostics.calibrated and res.diagnostics.threshold == pytest.approx(cal.threshold)
    finally:
        await e2.close()


async def test_served_queries_recalibrate_in_background(tmp_path: Path, x3k: np.ndarray) -> None:
    e = Engine(_settings(tmp_path / "data", calibration_query_rate=1.0, calibration_min_queries=40))
    await e.start()
    try:
        await _make(e, x3k)
        c = e._collections["vecs"]
        for q in _queries(x3k, 40, seed=7):
            await search(e, q, mode="RESCORED")
        # filtered searches are not sampled (their exact top-k is not the unfiltered one)
        await search(e, x3k[0], mode="RESCORED", filter="group == 1")
        deadline = time.monotonic() + 20
        while c.calibration.source != "queries" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cal = c.calibration
        assert cal.source == "queries", cal
        assert cal.calibrated and cal.samples == 40 and len(c.verified) == 40 and not c.pending
        assert sum(b["n"] for b in cal.reliability) == 40 and 0.0 <= cal.threshold <= 1.0
        assert (await e.describe("vecs")).calibration.source == "queries"
        m = json.loads((e.catalog.dir("vecs") / MANIFEST).read_text())
        assert m["calibration"]["source"] == "queries" and m["calibration"]["samples"] == 40
        # verified outcomes are real: RESCORED answers compared with the exact top-k (one batch each)
        assert all(len(steps) == 1 for steps in c.verified)
        outcomes = np.asarray([steps[-1] for steps in c.verified])
        assert set(np.unique(outcomes[:, 1])) <= {0.0, 1.0}
        assert np.all((outcomes[:, 2] == 1.0) == (outcomes[:, 1] == 1.0))
        assert np.all((outcomes[:, 2] >= 0.0) & (outcomes[:, 2] <= 1.0))
        # fewer than 25 new verified queries: no refit
        for q in _queries(x3k, 5, seed=8):
            await search(e, q, mode="RESCORED")
        assert calibrate.verify_served(c, e.searcher, e.settings) is None
        assert len(c.verified) == 45
    finally:
        await e.close()


# ---- derived codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["deleted", "truncated", "extra_rows"])
async def test_codes_reconciled_from_floats(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    x = _clustered(1200, seed=41)
    qs = _queries(x, 5, seed=42)
    e = Engine(_settings(data))
    await e.start()
    try:
        await _make(e, x)
        before = [await search(e, q, mode="RESCORED") for q in qs]
        codes_path = e.catalog.dir("vecs") / CODES
    finally:
        await e.close()
    good = tmp_path / "codes.copy"
    shutil.copyfile(codes_path, good)
    assert good.read_bytes() == binarize(x).tobytes() and good.stat().st_size == 1200 * DIM // 8
    if damage == "deleted":
        codes_path.unlink()
    elif damage == "truncated":
        with open(codes_path, "r+b") as f:
            f.truncate(500 * DIM // 8 + 3)  # 500 rows and a partial one
    else:
        with open(codes_path, "ab") as f:
            f.write(b"\xff" * (7 * DIM // 8))  # rows the float file never got

    e2 = Engine(_settings(data))
    await e2.start()
    try:
        assert codes_path.read_bytes() == good.read_bytes()
        assert e2._collections["vecs"].codes.rows == 1200
        for q, b in zip(qs, before):
            res = await search(e2, q, mode="RESCORED")
            assert _ids(res) == _ids(b)
            assert [h.score for h in res.hits] == [h.score for h in b.hits]
            assert [h.hamming_distance for h in res.hits] == [h.hamming_distance for h in b.hits]
        res = await search(e2, qs[0], mode="EXACT")
        _assert_exact(res, x, qs[0])
    finally:
        await e2.close()


def test_exhaustive_index_detection() -> None:
    """Only an index that visits every row can prove a short Hamming pool is the whole collection."""
    from types import SimpleNamespace

    from bitrag_server.domain import IndexConfig
    from bitrag_server.retrieve.fallback import widened_params as wp
    from bitrag_server.retrieve.pipeline import _exhaustive

    def widened_params(ix: IndexConfig, factor: int) -> dict[str, int]:
        return wp(ix.search_params, ix.build_params.get("nlist"), factor)

    def ex(ix: IndexConfig, factor: int = 1) -> bool:
        c = SimpleNamespace(manifest=SimpleNamespace(index=ix))
        return _exhaustive(c, widened_params(ix, factor))  # type: ignore[arg-type]

    assert ex(IndexConfig("BIN_FLAT"))
    assert ex(IndexConfig("BIN_IVF_FLAT", {"nlist": 16}, {"nprobe": 16}))
    assert ex(IndexConfig("BIN_IVF_FLAT", {"nlist": 16}, {"nprobe": 32}))
    assert not ex(IndexConfig("BIN_IVF_FLAT", {"nlist": 1024}, {"nprobe": 32}))
    assert not ex(IndexConfig("BIN_IVF_FLAT", {}, {"nprobe": 32}))
    # a widened attempt probes 4x more lists per 4x step, up to all of them
    ivf = IndexConfig("BIN_IVF_FLAT", {"nlist": 1024}, {"nprobe": 32})
    assert widened_params(ivf, 1) == {"nprobe": 32} and widened_params(ivf, 16) == {"nprobe": 512}
    assert widened_params(ivf, 64) == {"nprobe": 1024} and ex(ivf, 64) and not ex(ivf, 16)
    assert ivf.search_params == {"nprobe": 32}  # the collection's own parameters are untouched
    assert widened_params(IndexConfig("BIN_FLAT"), 16) == {}


# ---- the middle tier's codes, the plan, the stopping rule ------------------------------------------


async def test_unknown_tier_is_rejected(engine: Engine) -> None:
    with pytest.raises(InvalidArgument) as ei:
        await engine.create_collection(CollectionSpec(name="bad", dimension=DIM, embedder="none", tier="sq3"))
    assert ei.value.field == "tier" and "sq4" in ei.value.message
    assert await engine.list_collections() == [] and not engine.catalog.dir("bad").exists()
    info = await engine.create_collection(CollectionSpec(name="dflt", dimension=DIM, embedder="none"))
    assert info.tier == "sign" and info.bytes_tier == 0  # sq4 by default, ranked by the signs until fitted
    assert engine._collections["dflt"].manifest.tier == "sq4"


async def test_tier_is_fitted_at_calibration_appended_on_ingest_and_rebuilt_on_restart(tmp_path: Path) -> None:
    from bitrag_server.stores.catalog import TIER

    data = tmp_path / "data"
    x = _clustered(2400, seed=51)
    e = Engine(_settings(data))
    await e.start()
    try:
        await e.create_collection(CollectionSpec(name="vecs", dimension=DIM, embedder="none", tier="sq4"))
        await e.ingest("vecs", [], _records(x[:2000]))
        path = e.catalog.dir("vecs") / TIER
        assert not path.exists()  # no quantizer before the first calibration
        await e.calibrate("vecs", samples=60)
        c = e._collections["vecs"]
        assert c.quantizer is not None and c.middle_tier().tier == "sq4"
        assert path.stat().st_size == 2000 * DIM // 2
        np.testing.assert_array_equal(np.fromfile(path, np.uint8).reshape(2000, -1), c.quantizer.encode(x[:2000]))
        await e.ingest("vecs", [], [RecordIn(id=f"c{i}", document_id=f"doc{i}", vector=x[i], text="t")
                                    for i in range(2000, 2400)])
        assert path.stat().st_size == 2400 * DIM // 2  # appended with the float rows
        good = path.read_bytes()
        info = await e.describe("vecs")
        assert (info.tier, info.bytes_tier) == ("sq4", 2400 * DIM // 2)
        res = await search(e, x[5], mode="RESCORED")
        assert res.diagnostics.tier == "sq4" and res.hits[0].chunk_id == "c5"
    finally:
        await e.close()
    with open(path, "r+b") as f:  # a crash mid-append, then some rows lost
        f.truncate(1000 * DIM // 2 + 5)
    e2 = Engine(_settings(data))
    await e2.start()
    try:
        assert path.read_bytes() == good  # derived data: rebuilt from the float rows on open
        res = await search(e2, x[2300], mode="RESCORED")
        assert res.diagnostics.tier == "sq4" and res.hits[0].chunk_id == "c2300"
    finally:
        await e2.close()
    path.unlink()
    e3 = Engine(_settings(data))
    await e3.start()
    try:
        assert path.read_bytes() == good
    finally:
        await e3.close()


async def test_stopping_rule_reads_until_confident_and_calls_milvus_again_only_past_the_pool(
        tmp_path: Path, x3k: np.ndarray) -> None:
    """A calibrated collection on the binary route: each AUTO answer reads float rows in batches
    until confident; a query makes a second Milvus call only after reading its whole first pool
    (the pool's boundary reached), and recall meets the target on these queries. (The pool from
    Milvus: test_candidates.py has the pool from RAM.)"""
    e = Engine(_settings(tmp_path / "data", candidate_source="milvus"))
    await e.start()
    try:
        await e.create_collection(CollectionSpec(name="vecs", dimension=DIM, embedder="none", tier="sign"))
        await e.ingest("vecs", [], _records(x3k))
        await e.calibrate("vecs", samples=200)
        c = e._collections["vecs"]
        c.manifest.plan = {**c.manifest.plan, "route": "binary"}  # force the binary path (a scan is cheaper here)
        pool = c.plan.pool
        assert pool >= K
        recalls, calls = [], []
        for q in _queries(x3k, 60, seed=53):
            res = await search(e, q)
            d = res.diagnostics
            calls.append(d.milvus_calls)
            assert d.pools[0] == min(pool, N)
            if d.milvus_calls > 1:
                assert d.candidates_examined >= d.pools[0]  # the whole first pool was read first
                assert d.path in ("FALLBACK_WIDENED", "FALLBACK_EXACT")
            elif d.path == "BINARY_RESCORED":
                assert d.confidence >= d.threshold or d.confidence == 1.0
                assert d.candidates_examined % (K * 4) == 0 or d.candidates_examined == d.pools[0]
            ids, _ = _exact(x3k, q, K)
            recalls.append(len(set(ids) & set(_ids(res))) / K)
        assert np.mean(recalls) >= 0.97
        assert np.mean([m == 1 for m in calls]) >= 0.5
    finally:
        await e.close()


async def test_small_collection_routes_auto_to_the_exact_scan(tmp_path: Path) -> None:
    """Where calibration measured the exact scan cheaper than the binary path, AUTO takes it: path
    EXACT, exact answers, no Milvus search."""
    x = _clustered(800, seed=61)
    e = Engine(_settings(tmp_path / "data"))
    await e.start()
    try:
        await _make(e, x)
        await e.calibrate("vecs", samples=100)
        c = e._collections["vecs"]
        c.manifest.plan = {**c.manifest.plan, "route": "exact"}
        for q in _queries(x, 5, seed=62):
            res = await search(e, q)
            assert res.diagnostics.path == "EXACT" and res.diagnostics.milvus_calls == 0
            _assert_exact(res, x, q)
        # an explicit threshold of 1 still goes the binary way and through the fallbacks
        res = await search(e, x[0], confidence_threshold=1.0)
        assert res.diagnostics.path == "FALLBACK_EXACT" and res.diagnostics.pools  # a pool was taken first
    finally:
        await e.close()


def test_a_pool_larger_than_milvus_allows_is_refused_at_start() -> None:
    """Milvus caps a search's limit at 16,384: a server configured for more fails at start, naming
    the setting (widen_max_rows past max_candidates is refused per collection: test_invalid_gate_config)."""
    from pydantic import ValidationError

    for name in ("max_candidates", "widen_max_rows"):
        with pytest.raises(ValidationError) as ei:
            Settings(**{name: 16385}, _env_file=None)
        assert name in str(ei.value) and "16384" in str(ei.value)
    with pytest.raises(ValidationError) as ei:
        Settings(tier="sq8", _env_file=None)  # type: ignore[arg-type]
    assert "tier" in str(ei.value)


# ---- cancellation (the caller left) ----------------------------------------------------------------


async def test_a_cancelled_search_makes_no_further_milvus_call(
    loaded: Engine, x3k: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cancel` set: the pipeline stops before its next Milvus call and between exact-scan blocks
    (a typed error), whatever the mode; the real index records which calls were made."""
    import threading

    from bitrag_server.domain import Mode
    from bitrag_server.errors import BitragError
    from bitrag_server.retrieve.pipeline import Timer

    calls: list[str] = []
    cancel = threading.Event()
    idx = loaded.index
    assert idx is not None
    for name in ("search", "live_rows", "matching_rows", "search_float"):
        real = getattr(idx, name)

        def spy(*a: object, _real=real, _name=name, **kw: object) -> object:  # noqa: ANN001
            calls.append(_name)
            out = _real(*a, **kw)
            cancel.set()  # the caller leaves while this Milvus call runs
            return out

        monkeypatch.setattr(idx, name, spy)
    c = await loaded._get("vecs")
    s = loaded.searcher
    assert s is not None
    for mode in Mode:  # left before anything ran: no Milvus call at all
        cancel.set()
        with pytest.raises(BitragError):
            s.search(c, x3k[0], top_k=K, oversample=4, expr="", mode=mode, threshold_override=None,
                     timer=Timer(), cancel=cancel)
    assert calls == []
    cancel.clear()  # left during the first Milvus call of an AUTO search sent past its gate: none after it
    with pytest.raises(BitragError):
        s.search(c, x3k[0], top_k=K, oversample=4, expr="", mode=Mode.AUTO, threshold_override=1.0, timer=Timer(),
                 cancel=cancel)
    assert len(calls) <= 1, calls
    res = s.search(c, x3k[0], top_k=K, oversample=4, expr="", mode=Mode.EXACT, threshold_override=None,
                   timer=Timer(), cancel=None)
    assert len(res.hits) == K  # no event: the search runs to its end


# ---- AUTO's route before a plan is measured (retrieve/plan.py ObservedRoutes) --------------------


def test_observed_routes_take_the_cheaper_and_retime_the_dearer_only_when_close() -> None:
    r = ObservedRoutes()
    assert r.pick(3000, 64) == Route.BINARY  # nothing timed: the binary route first
    r.observe(Route.BINARY, 15_000.0)
    # the exact scan's estimate (rows x d / EXACT_FLOATS_PER_US) decides whether it is tried at all
    assert r.pick(1_000_000, 768) == Route.BINARY  # 768 ms estimated against 15 ms: never tried
    assert r.pick(20_000, 256) == Route.EXACT  # 5 ms estimated: tried
    r.observe(Route.EXACT, 6_000.0)  # the binary route within CLOSE x of it
    picks = [r.pick(20_000, 256) for _ in range(EXPLORE_EVERY * 2)]
    assert picks.count(Route.BINARY) == 2 and picks.count(Route.EXACT) == 2 * EXPLORE_EVERY - 2  # re-timed
    r.observe(Route.BINARY, 10_000.0)  # EWMA: 0.7 x 15 ms + 0.3 x 10 ms = 13.5 ms
    assert abs(r.us[Route.BINARY] - 13_500.0) < 1e-6
    r.us[Route.BINARY] = CLOSE * 6_000.0 + 1  # out of reach: no longer re-timed
    assert {r.pick(20_000, 256) for _ in range(EXPLORE_EVERY * 2)} == {Route.EXACT}


async def test_before_calibration_auto_serves_on_the_route_timed_cheaper(tmp_path: Path, x3k: np.ndarray) -> None:
    """An uncalibrated collection (no plan): the binary route is timed first, then the exact scan;
    every later query takes the route whose served time is lower (the dearer re-timed every
    EXPLORE_EVERY queries), the exact route answers exactly, and the binary route's answers are the
    widened ones the uncalibrated gate forces. Once a plan is measured, its route decides."""
    e = Engine(_settings(tmp_path / "data", route_unmeasured="timed"))
    await e.start()
    try:
        await _make(e, x3k)
        c = e._collections["vecs"]
        assert not c.plan.measured
        qs = _queries(x3k, 40, seed=91)
        paths = []
        for i, q in enumerate(qs):
            before = dict(c.routes.us)
            res = await search(e, q)
            p = res.diagnostics.path
            paths.append(p)
            if i == 0:
                assert p != "EXACT" and Route.BINARY in c.routes.us
            if p == "EXACT":
                _assert_exact(res, x3k, q)
            if len(before) == 2 and c.routes.n % EXPLORE_EVERY != 0:  # both timed, not a re-timing
                cheaper = min(before, key=before.get)
                assert (p == "EXACT") == (cheaper == Route.EXACT), (before, p)
        assert set(c.routes.us) == {Route.BINARY, Route.EXACT}  # 3k x 64: the exact estimate is tiny
        assert "EXACT" in paths and paths[0] != "EXACT"
        await e.calibrate("vecs", samples=60)
        assert c.plan.measured
        n = c.routes.n
        res = await search(e, qs[0])
        assert c.routes.n == n  # the plan's route now: no more timing
        assert (res.diagnostics.path == "EXACT") == (c.plan.route == "exact")
    finally:
        await e.close()
