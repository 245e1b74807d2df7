"""Stage 1's two pool sources (retrieve/candidates.py): the Hamming pool from Milvus or from the codes
in the server's RAM, a RAM pool's rows kept live by the live flags (no Milvus call), the source
chosen by measured cost at calibration, and a bad setting refused; the RAM scan (split per core while no other search runs)
and widening by slices of one scan. Engine in-process on Milvus Lite, raw vectors."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bitrag_server.domain import CollectionSpec, Fallback
from bitrag_server.engine import Engine
from bitrag_server.quantize import binarize, hamming
from bitrag_server.retrieve import candidates
from bitrag_server.retrieve.candidates import SCANNER, RamScanner, live_candidates, ram_candidates
from bitrag_server.stores.float_store import CodeStore, LiveStore

from test_pipeline import DIM, K, _clustered, _exact, _ids, _queries, _records, _settings, search

N = 3000


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return _clustered(N, seed=71)


def test_ram_pool_is_the_exact_hamming_top(tmp_path: Path, x: np.ndarray) -> None:
    """The pool holds the `limit` smallest Hamming distances over every code, nearest first, with
    each row's true distance; a limit past the row count returns every row; no rows, no pool."""
    store = CodeStore(tmp_path / "codes.u8", DIM)
    empty = ram_candidates(store, x[0], None, 10)
    assert empty.ids.size == 0 and empty.distances.size == 0
    codes = binarize(x, None)
    store.append(codes)
    for q in _queries(x, 5, seed=72):
        true = hamming(codes, binarize(q, None))  # [N]
        got = ram_candidates(store, q, None, 200)
        assert got.ids.size == 200 and len(set(got.ids.tolist())) == 200
        assert np.array_equal(got.distances, true[got.ids])  # each row's own distance
        assert np.all(np.diff(got.distances) >= 0)  # nearest first
        assert np.array_equal(np.sort(got.distances), np.sort(true)[:200])  # the 200 smallest (ties either way)
    every = ram_candidates(store, x[1], None, N + 50)
    assert sorted(every.ids.tolist()) == list(range(N))


@contextlib.contextmanager
def _all_live(tmp_path: Path, x: np.ndarray) -> Iterator[tuple[np.ndarray, CodeStore, LiveStore]]:
    """The sign codes of `x` in a code store, every row marked live: (codes, store, live)."""
    codes = binarize(x, None)
    store, live = CodeStore(tmp_path / "codes.u8", DIM), LiveStore(tmp_path / "live.u8")
    try:
        store.append(codes)
        live.pad_to(N)
        live.mark(range(N), True)
        yield codes, store, live
    finally:
        store.close()
        live.close()


@pytest.mark.parametrize("dead_near", [40, 700])
def test_live_pool_holds_the_nearest_live_rows_when_dead_ones_crowd_the_query(tmp_path: Path, x: np.ndarray,
                                                                               dead_near: int) -> None:
    """The `dead_near` codes nearest the query are dead (a replaced document), plus a scattered
    tenth of the rest: the pool still holds `limit` rows, every one live, and they are the `limit`
    nearest live rows (distances equal to numpy's); asking for more than the live rows returns
    them all and says the scan reached every code."""
    with _all_live(tmp_path, x) as (codes, store, live):
        q = _queries(x, 1, seed=75)[0]
        true = hamming(codes, binarize(q, None))
        order = np.argsort(true, kind="stable")
        rng = np.random.default_rng(76)
        dead = np.union1d(order[:dead_near], rng.choice(N, N // 10, replace=False))
        live.mark(dead, False)
        alive = np.setdiff1d(np.arange(N), dead)
        got, every = live_candidates(store, live, q, None, 200)
        assert got.ids.size == 200 and not every
        assert not np.isin(got.ids, dead).any()
        assert np.array_equal(got.distances, true[got.ids])
        assert np.array_equal(got.distances, np.sort(true[alive])[:200])
        got, every = live_candidates(store, live, q, None, N)
        assert every and sorted(got.ids.tolist()) == alive.tolist()


def test_live_pool_is_whole_when_rows_died_since_the_live_count(tmp_path: Path, x: np.ndarray,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's dead-row estimate comes from a recent live count: rows deleted after it (here
    the 300 nearest the query, with the count held for an hour) are still kept out, and the pool
    still holds the `limit` nearest live rows."""
    monkeypatch.setattr(candidates, "LIVE_COUNT_AGE_S", 3600.0)
    with _all_live(tmp_path, x) as (codes, store, live):
        q = _queries(x, 1, seed=77)[0]
        true = hamming(codes, binarize(q, None))
        live_candidates(store, live, q, None, 200)  # counts: every row live
        dead = np.argsort(true, kind="stable")[:300]
        live.mark(dead, False)
        assert live.count(max_age_s=3600) == N  # the estimate has not seen the deletes
        got, every = live_candidates(store, live, q, None, 200)
        assert got.ids.size == 200 and not every and not np.isin(got.ids, dead).any()
        assert np.array_equal(got.distances, np.sort(np.delete(true, dead))[:200])


async def _engine(tmp_path: Path, x: np.ndarray, source: str) -> Engine:
    e = Engine(_settings(tmp_path / "data", candidate_source=source))
    await e.start()
    await e.create_collection(CollectionSpec(name="vecs", dimension=DIM, embedder="none"))
    await e.ingest("vecs", [], _records(x))
    await e.calibrate("vecs", samples=120)
    c = e._collections["vecs"]
    c.manifest.plan = {**c.manifest.plan, "route": "binary"}  # the binary path (an exact scan is cheaper here)
    return e


async def test_ram_source_answers_with_no_milvus_call_and_drops_deleted_rows(tmp_path: Path,
                                                                              x: np.ndarray) -> None:
    """A RAM pool: no Milvus call at all (no search, no liveness query); AUTO's answers match
    numpy's as well as from Milvus. A deleted row (still among the codes in RAM) is out of the pool
    at once, by its live flag: the answer holds only live rows, still with no Milvus call, and so
    does the exact path. A filtered query asks Milvus, which applies the filter."""
    e = await _engine(tmp_path, x, "ram")
    try:
        assert e._collections["vecs"].plan.source == "ram"
        recalls = []
        qs = _queries(x, 30, seed=73)
        for q in qs:
            res = await search(e, q)
            d = res.diagnostics
            stages = [s for s, _ in d.timings_us]
            assert stages[0] == "candidates" and "verify" not in stages
            assert d.milvus_calls == 0 and d.pools[0] == min(N, e._collections["vecs"].plan.pool)
            ids, _ = _exact(x, q, K)
            recalls.append(len(set(ids) & set(_ids(res))) / K)
        assert np.mean(recalls) >= 0.97
        q = qs[0]
        first = _ids(await search(e, q))
        gone = [int(h[1:]) for h in first[:3]]
        assert (await e.delete("vecs", [f"doc{g}" for g in gone])).chunks_deleted == 3
        alive = np.setdiff1d(np.arange(N), gone)
        ids, _ = _exact(x, q, K, alive)
        for mode in ("AUTO", "RESCORED", "BINARY_ONLY", "EXACT"):
            res = await search(e, q, mode=mode)
            got = _ids(res)
            assert not {f"c{g}" for g in gone} & set(got) and len(res.hits) == K, mode
            assert res.diagnostics.milvus_calls == 0, mode
            if mode in ("AUTO", "EXACT"):
                assert len(set(ids) & set(got)) >= K - 1, mode
        res = await search(e, q, filter="group == 2")
        assert all(h.metadata["group"] == 2 for h in res.hits)
        assert res.diagnostics.milvus_calls >= 1
    finally:
        await e.close()


async def test_calibration_times_both_sources_and_takes_the_cheaper(tmp_path: Path, x: np.ndarray) -> None:
    """`auto`: both sources timed at the plan's pool, the cheaper one is the plan's; `milvus`
    fixes it whatever the times, and then no query scans the codes in RAM."""
    e = await _engine(tmp_path / "a", x, "auto")
    try:
        p = e._collections["vecs"].plan
        assert p.milvus_pool_us > 0 and p.ram_pool_us > 0
        assert p.source == ("ram" if p.ram_pool_us < p.milvus_pool_us else "milvus")
    finally:
        await e.close()
    e = await _engine(tmp_path / "m", x, "milvus")
    try:
        assert e._collections["vecs"].plan.source == "milvus"
        res = await search(e, _queries(x, 1, seed=74)[0])
        assert res.diagnostics.milvus_calls >= 1
    finally:
        await e.close()


def test_an_unknown_candidate_source_is_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as ei:
        _settings(tmp_path, candidate_source="gpu")
    assert "candidate_source" in str(ei.value)


# ---- the scan lane (RamScanner) ---------------------------------------------------------------------


def _codes(n: int, seed: int) -> np.ndarray:
    return binarize(_clustered(n, seed=seed), None)  # [n, DIM/8] uint8


def _assert_nearest(codes: np.ndarray, q: np.ndarray, k: int, dist: np.ndarray, ids: np.ndarray) -> None:
    true = hamming(codes, q)
    assert ids.size == k and len(set(ids.tolist())) == k
    assert np.array_equal(dist, true[ids]) and np.all(np.diff(dist) >= 0)
    assert np.array_equal(dist, np.sort(true)[:k])


def test_a_scan_split_per_core_finds_the_same_nearest_codes() -> None:
    """Shards of the code array scanned apart and merged: the k smallest distances over all rows,
    nearest first, whatever k against the shard sizes (k past a shard's rows, past all rows)."""
    codes = _codes(2500, seed=75)
    qs = _codes(4, seed=76)
    lane = RamScanner(shards=3, shard_min_rows=0)
    for q in qs:
        for k in (1, 10, 900, 2500):
            dist, ids = lane.knn(codes, q, k)
            _assert_nearest(codes, q, k, dist, ids)
    assert lane.scans == lane.split == 16


def test_a_scan_beside_other_searches_stays_whole_with_the_same_answer() -> None:
    """While another search is in flight, a scan is not split (its shards would take the cores the
    other search needs); the answer is the same nearest codes. Concurrent scans each get their own."""
    codes = _codes(3000, seed=77)
    qs = _codes(12, seed=78)
    lane = RamScanner(shards=2, shard_min_rows=0)
    with lane.searching(), lane.searching():  # this search and another one
        dist, ids = lane.knn(codes, qs[0], 50)
    _assert_nearest(codes, qs[0], 50, dist, ids)
    assert (lane.scans, lane.split) == (1, 0)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def one(i: int) -> None:
        with lane.searching():
            out[i] = lane.knn(codes, qs[i], 5 + 40 * i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i in range(12):
        _assert_nearest(codes, qs[i], 5 + 40 * i, *out[i])
    assert lane.scans == 13 and lane._running == 0 and lane._searching == 0


def test_a_failed_scan_reaches_its_caller_and_frees_the_lane() -> None:
    codes = _codes(500, seed=80)
    lane = RamScanner(shards=2, shard_min_rows=0)
    with pytest.raises(AssertionError):  # FAISS refuses a query code of another width
        lane.knn(codes, np.zeros(3, np.uint8), 5)
    assert lane._running == 0
    dist, ids = lane.knn(codes, codes[7], 5)
    _assert_nearest(codes, codes[7], 5, dist, ids)
    assert lane.split == 2  # alone again: split


async def test_widening_from_ram_scans_once_and_slices_the_wider_pools(tmp_path: Path, x: np.ndarray) -> None:
    """AUTO from RAM with every answer sent on (threshold 1): the first scan keeps the widest pool
    widening may ask for, and each wider pool is a slice of it: one pass over the codes per query."""
    e = await _engine(tmp_path, x, "ram")
    try:
        e._collections["vecs"].manifest.gate.fallback = [Fallback.WIDEN]
        q = _queries(x, 1, seed=81)[0]
        before = SCANNER.scans
        res = await search(e, q, confidence_threshold=1.0)
        d = res.diagnostics
        assert d.path == "FALLBACK_WIDENED" and len(d.pools) >= 2 and d.pools[-1] > d.pools[0]
        assert SCANNER.scans - before == 1, d.pools
        ids, _ = _exact(x, q, K)
        assert len(set(ids) & set(_ids(res))) >= K - 1
    finally:
        await e.close()
