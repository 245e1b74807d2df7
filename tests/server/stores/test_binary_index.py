"""stores/binary_index.py on a real Milvus Lite file: Hamming search order, lookups, deletes."""

from __future__ import annotations

import numpy as np
import pytest

from bitrag_server.errors import InvalidArgument
from bitrag_server.quantize import hamming
from bitrag_server.stores.binary_index import BinaryIndex
from bitrag_server.stores.catalog import IndexConfig

DIM = 64
N = 400


def _rows(codes: np.ndarray, start: int = 0, doc_of=lambda i: f"d{i // 3}") -> list[dict]:  # noqa: ANN001
    return [
        {
            "row": start + i,
            "code": codes[i].tobytes(),
            "doc_id": doc_of(start + i),
            "metadata": {"i": start + i, "even": (start + i) % 2 == 0},
        }
        for i in range(len(codes))
    ]


@pytest.fixture(scope="module")
def populated(lite_index: BinaryIndex) -> tuple[BinaryIndex, str, np.ndarray]:
    name = "binidx_main"
    lite_index.create(name, DIM, IndexConfig("BIN_FLAT"))
    codes = np.random.default_rng(42).integers(0, 256, size=(N, DIM // 8), dtype=np.uint8)
    lite_index.insert(name, _rows(codes))
    return lite_index, name, codes


def test_default_index_and_check_index(lite_index: BinaryIndex) -> None:
    assert lite_index.lite
    assert lite_index.default_index(1024, 32) == IndexConfig("BIN_FLAT", {}, {})
    lite_index.check_index(IndexConfig("BIN_FLAT"))
    for bad in ("BIN_IVF_FLAT", "HNSW", "FLAT", ""):
        with pytest.raises(InvalidArgument) as ei:
            lite_index.check_index(IndexConfig(bad, {"nlist": 8}, {}))
        assert ei.value.field == "index.type"
    assert "Lite" in str(ei.value)


def test_server_check_index_allows_ivf() -> None:
    server = BinaryIndex.__new__(BinaryIndex)  # no connection needed for the policy
    server.lite = False
    assert server.default_index(128, 8) == IndexConfig("BIN_IVF_FLAT", {"nlist": 128}, {"nprobe": 8})
    server.check_index(IndexConfig("BIN_IVF_FLAT"))
    server.check_index(IndexConfig("BIN_FLAT"))
    with pytest.raises(InvalidArgument):
        server.check_index(IndexConfig("IVF_FLAT"))


def test_exists_count(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, _ = populated
    assert idx.exists(name)
    assert not idx.exists("binidx_nope")
    assert idx.count(name) == N


def test_search_order_equals_bruteforce_hamming(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, codes = populated
    rng = np.random.default_rng(7)
    for _ in range(10):
        q = rng.integers(0, 256, size=DIM // 8, dtype=np.uint8)
        brute = hamming(codes, q)
        k = 50
        c = idx.search(name, q.tobytes(), k, "", {})
        assert c.ids.dtype == np.int64 and c.distances.dtype == np.int32
        assert len(c.ids) == k
        # distances are exactly the brute-force ones, ascending
        assert np.array_equal(c.distances, brute[c.ids])
        assert np.all(np.diff(c.distances) >= 0)
        # the distance profile equals the k smallest brute-force distances (ties may reorder ids)
        assert np.array_equal(c.distances, np.sort(brute)[:k])
        # every row strictly closer than the k-th distance is in the result
        kth = c.distances[-1]
        assert set(np.flatnonzero(brute < kth).tolist()) <= set(c.ids.tolist())


def test_search_exact_code_first_and_all_rows(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, codes = populated
    c = idx.search(name, codes[123].tobytes(), N, "", {})
    assert c.ids[0] == 123 and c.distances[0] == 0
    assert sorted(c.ids.tolist()) == list(range(N))
    assert np.array_equal(np.sort(c.distances), np.sort(hamming(codes, codes[123])))


def test_search_with_filter(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, codes = populated
    c = idx.search(name, codes[0].tobytes(), N, 'metadata["even"] == true and metadata["i"] < 100', {})
    assert sorted(c.ids.tolist()) == list(range(0, 100, 2))


def test_bad_expression_is_invalid_argument(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, codes = populated
    with pytest.raises(InvalidArgument) as ei:
        idx.search(name, codes[0].tobytes(), 5, 'metadata["i"] == inf', {})
    assert ei.value.field == "filter"


def test_rows_of_documents(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, _ = populated
    got = idx.rows_of_documents(name, ["d0", "d5", "missing", 'q"uote'])
    assert set(got) == {"d0", "d5"}
    assert sorted(got["d0"]) == [0, 1, 2]
    assert sorted(got["d5"]) == [15, 16, 17]
    assert idx.rows_of_documents(name, []) == {}
    # more ids than one query batch (256)
    many = idx.rows_of_documents(name, [f"d{i}" for i in range(300)])
    assert len(many) == (N + 2) // 3
    assert sum(len(v) for v in many.values()) == N
    # the lookups go through a Trie index on doc_id (unindexed, each scans every sealed row)
    assert "doc_id" in idx._client.list_indexes(name)
    assert idx._client.describe_index(name, "doc_id")["index_type"] == "Trie"


def test_schema_holds_what_searches_and_writes_filter_on(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    idx, name, _ = populated
    fields = [f["name"] for f in idx._client.describe_collection(name)["fields"]]
    assert fields == ["row", "code", "doc_id", "metadata"]  # chunk ids, text, hashes: the record store


def test_legacy_schema_and_iterate(lite_index: BinaryIndex, coll_name: str) -> None:
    """Collections created before the record store (layout 1) also hold chunk_id, doc_hash, text;
    `iterate` reads them back in row order from a given row (their migration)."""
    lite_index.create(coll_name, 8, IndexConfig("BIN_FLAT"), legacy=True)
    try:
        fields = [f["name"] for f in lite_index._client.describe_collection(coll_name)["fields"]]
        assert fields == ["row", "code", "chunk_id", "doc_id", "doc_hash", "text", "metadata"]
        rows = [dict(r, chunk_id=f"c{r['row']}", doc_hash="h", text=f"t{r['row']}")
                for r in _rows(np.arange(20, dtype=np.uint8).reshape(20, 1))]
        lite_index.insert(coll_name, rows)
        got = [r for b in lite_index.iterate(coll_name, ["row", "text"], 6, "row >= 5") for r in b]
        assert [int(r["row"]) for r in got] == list(range(5, 20))
        assert [r["text"] for r in got] == [f"t{i}" for i in range(5, 20)]
    finally:
        lite_index.drop(coll_name)


def test_insert_delete_count(lite_index: BinaryIndex, coll_name: str) -> None:
    idx = lite_index
    idx.create(coll_name, 16, IndexConfig("BIN_FLAT"))
    try:
        codes = np.random.default_rng(1).integers(0, 256, size=(30, 2), dtype=np.uint8)
        idx.insert(coll_name, _rows(codes, doc_of=lambda i: f"doc{i // 10}"))
        assert idx.count(coll_name) == 30
        idx.delete(coll_name, np.arange(10, 20))  # all of doc1, numpy ids
        assert idx.count(coll_name) == 20
        assert set(idx.rows_of_documents(coll_name, ["doc0", "doc1", "doc2"])) == {"doc0", "doc2"}
        assert idx.live_rows(coll_name, [9, 10, 19, 20]) == {9, 20}
        c = idx.search(coll_name, codes[15].tobytes(), 30, "", {})
        assert len(c.ids) == 20 and not set(c.ids.tolist()) & set(range(10, 20))
        idx.delete(coll_name, [])  # no-op
        idx.delete(coll_name, [10_000])  # unknown pk: no error
        assert idx.count(coll_name) == 20
    finally:
        idx.drop(coll_name)
    assert not idx.exists(coll_name)
    idx.drop(coll_name)  # idempotent


def test_insert_in_batches(lite_index: BinaryIndex, coll_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import bitrag_server.stores.binary_index as bi

    monkeypatch.setattr(bi, "INSERT_BATCH", 7)
    lite_index.create(coll_name, 8, IndexConfig("BIN_FLAT"))
    try:
        codes = np.arange(50, dtype=np.uint8).reshape(50, 1)
        lite_index.insert(coll_name, _rows(codes))
        assert lite_index.count(coll_name) == 50
        lite_index.delete(coll_name, range(0, 50, 2))
        assert lite_index.count(coll_name) == 25
    finally:
        lite_index.drop(coll_name)


def test_create_replaces_unacknowledged_collection(lite_index: BinaryIndex, coll_name: str) -> None:
    lite_index.create(coll_name, 8, IndexConfig("BIN_FLAT"))
    lite_index.insert(coll_name, _rows(np.zeros((3, 1), np.uint8)))
    lite_index.create(coll_name, 16, IndexConfig("BIN_FLAT"))  # leftover from a crash: recreated empty
    try:
        assert lite_index.count(coll_name) == 0
        lite_index.insert(coll_name, _rows(np.zeros((2, 2), np.uint8)))
        assert lite_index.count(coll_name) == 2
    finally:
        lite_index.drop(coll_name)


def test_rows_milvus_refuses_client_side_are_internal_not_retryable(populated: tuple[BinaryIndex, str, np.ndarray]) -> None:
    from bitrag_server.errors import Internal

    idx, name, codes = populated
    with pytest.raises(Internal) as ei:  # not Unavailable: a retry would fail the same way
        idx.insert(name, [{"row": 10**6, "code": codes[0].tobytes(), "doc_id": "x", "metadata": {}, "text": "t"}])
    assert "unexpected field" in ei.value.message
