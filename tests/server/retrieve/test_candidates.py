"""Stage 1's two pool sources (retrieve/candidates.py): the Hamming pool from Milvus or from the codes
in the server's RAM, the liveness check of a RAM pool's answer, the source chosen by measured cost at
calibration, and a bad setting refused. Engine in-process on Milvus Lite, raw vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitrag_server.domain import CollectionSpec
from bitrag_server.engine import Engine
from bitrag_server.quantize import binarize, hamming
from bitrag_server.retrieve.candidates import ram_candidates
from bitrag_server.stores.float_store import CodeStore

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


async def _engine(tmp_path: Path, x: np.ndarray, source: str) -> Engine:
    e = Engine(_settings(tmp_path / "data", candidate_source=source))
    await e.start()
    await e.create_collection(CollectionSpec(name="vecs", dimension=DIM, embedder="none"))
    await e.ingest("vecs", [], _records(x))
    await e.calibrate("vecs", samples=120)
    c = e._collections["vecs"]
    c.manifest.plan = {**c.manifest.plan, "route": "binary"}  # the binary path (an exact scan is cheaper here)
    return e


async def test_ram_source_answers_with_one_liveness_query_and_drops_deleted_rows(tmp_path: Path,
                                                                                 x: np.ndarray) -> None:
    """A RAM pool: no Milvus search, one Milvus query checks the answer's rows live; AUTO's answers
    match numpy's as well as from Milvus. A deleted row (still among the codes in RAM) in the answer
    sends the query to a Milvus pool: the answer holds only live rows, two Milvus calls."""
    e = await _engine(tmp_path, x, "ram")
    try:
        assert e._collections["vecs"].plan.source == "ram"
        recalls = []
        qs = _queries(x, 30, seed=73)
        for q in qs:
            res = await search(e, q)
            d = res.diagnostics
            stages = [s for s, _ in d.timings_us]
            assert stages[0] == "candidates" and "verify" in stages
            assert d.milvus_calls == 1 and d.pools[0] == min(N, e._collections["vecs"].plan.pool)
            ids, _ = _exact(x, q, K)
            recalls.append(len(set(ids) & set(_ids(res))) / K)
        assert np.mean(recalls) >= 0.97
        q = qs[0]
        first = _ids(await search(e, q))
        gone = int(first[0][1:])
        assert (await e.delete("vecs", [f"doc{gone}"])).chunks_deleted == 1
        res = await search(e, q)
        d = res.diagnostics
        assert f"c{gone}" not in _ids(res) and len(res.hits) == K
        assert d.milvus_calls == 2 and len(d.pools) >= 2  # the RAM pool, then Milvus' pool
        alive = np.setdiff1d(np.arange(N), [gone])
        ids, _ = _exact(x, q, K, alive)
        assert len(set(ids) & set(_ids(res))) >= K - 1
        # BINARY_ONLY from RAM is checked the same way
        res = await search(e, q, mode="BINARY_ONLY")
        assert f"c{gone}" not in _ids(res) and len(res.hits) == K
        # a filtered query asks Milvus, which applies the filter: no liveness query after it
        res = await search(e, q, filter="group == 2")
        assert all(h.metadata["group"] == 2 for h in res.hits)
        assert "verify" not in [s for s, _ in res.diagnostics.timings_us] and res.diagnostics.milvus_calls >= 1
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
        assert "verify" not in [s for s, _ in res.diagnostics.timings_us] and res.diagnostics.milvus_calls >= 1
    finally:
        await e.close()


def test_an_unknown_candidate_source_is_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as ei:
        _settings(tmp_path, candidate_source="gpu")
    assert "candidate_source" in str(ei.value)
