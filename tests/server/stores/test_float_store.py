"""stores/float_store.py: append-only float32 rows, gather in caller order, durability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitrag_server.stores.float_store import FAULT_AROUND, FloatStore, LiveStore, RowFile, TierStore

D = 16


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)


@pytest.fixture
def store(tmp_path: Path):
    s = FloatStore(tmp_path / "vectors.f32", D)
    yield s
    s.close()


@pytest.fixture(params=["floats", "tier"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    """A store read from disk (floats: sorted, prefetched gathers) and one meant to stay in RAM
    (tier codes: `resident`, rows copied in the caller's order at once)."""
    s: RowFile = FloatStore(tmp_path / "vectors.f32", D) if request.param == "floats" else TierStore(tmp_path / "t.u8", D)
    assert s.resident == (request.param == "tier")
    yield s
    s.close()


def _rows_for(s: RowFile, n: int, seed: int) -> np.ndarray:
    if isinstance(s, FloatStore):
        return _rows(n, seed)
    return np.random.default_rng(seed).integers(0, 256, (n, D), dtype=np.uint8)


def test_new_store_is_empty(store: FloatStore) -> None:
    assert store.rows == 0 and store.bytes_on_disk == 0
    assert store.path.exists()
    assert list(store.blocks()) == []
    assert store.gather(np.array([], np.int64)).shape == (0, D)


def test_append_returns_consecutive_row_ids(store: FloatStore) -> None:
    assert store.append(_rows(5, 0)) == 0
    assert store.append(_rows(1, 1)) == 5
    assert store.append(_rows(10, 2)) == 6
    assert store.rows == 16
    assert store.bytes_on_disk == 16 * D * 4 == store.path.stat().st_size


def test_append_rejects_wrong_shape(store: FloatStore) -> None:
    with pytest.raises(ValueError):
        store.append(np.zeros((2, D + 1), np.float32))
    with pytest.raises(ValueError):
        store.append(np.zeros(D, np.float32))
    assert store.rows == 0


def test_file_is_float32_little_endian(store: FloatStore) -> None:
    x = _rows(3, 0)
    store.append(x.astype(np.float64))  # converted
    raw = np.fromfile(store.path, dtype="<f4").reshape(3, D)
    assert np.array_equal(raw, x)


def test_gather_caller_order_random_and_duplicates(any_store: RowFile) -> None:
    x = _rows_for(any_store, 200, 3)
    any_store.append(x[:120])
    any_store.append(x[120:])
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 200, size=500)  # random order, with duplicates
    got = any_store.gather(ids)
    assert got.dtype == x.dtype and got.shape == (500, D)
    assert np.array_equal(got, x[ids])
    ids = np.array([199, 0, 0, 5, 199, 3], np.int64)
    assert np.array_equal(any_store.gather(ids), x[ids])
    assert np.array_equal(any_store.gather(ids.tolist()), x[ids])  # plain lists too


def test_gathered_rows_are_a_copy_not_the_read_only_map(any_store: RowFile) -> None:
    x = _rows_for(any_store, 20, 7)
    any_store.append(x)
    got = any_store.gather(np.array([3, 1]))
    assert type(got) is np.ndarray and got.flags.writeable
    got[:] = 0  # a view of the read-only map would raise here
    assert np.array_equal(any_store.gather(np.array([3, 1])), x[[3, 1]])


def test_gather_after_further_appends_sees_new_rows(any_store: RowFile) -> None:
    x = _rows_for(any_store, 50, 5)
    any_store.append(x[:10])
    assert np.array_equal(any_store.gather(np.arange(10)), x[:10])  # maps 10 rows
    any_store.append(x[10:30])
    ids = np.array([29, 10, 3, 20])
    assert np.array_equal(any_store.gather(ids), x[ids])  # remapped
    any_store.append(x[30:])
    assert np.array_equal(any_store.gather(np.array([49, 0])), x[[49, 0]])
    blocks = list(any_store.blocks(block_rows=7))
    assert np.array_equal(np.concatenate([b for _, b in blocks]), x)


@pytest.mark.parametrize("bad", [[-1], [10], [0, 10], [100], [3, -2, 5]])
def test_out_of_range_ids_raise(any_store: RowFile, bad: list[int]) -> None:
    any_store.append(_rows_for(any_store, 10, 6))
    with pytest.raises(IndexError):
        any_store.gather(np.array(bad))


def test_gather_on_empty_store_raises(any_store: RowFile) -> None:
    with pytest.raises(IndexError):
        any_store.gather(np.array([0]))


@pytest.mark.parametrize("block_rows", [1, 3, 64, 1000])
def test_blocks_cover_all_rows(store: FloatStore, block_rows: int) -> None:
    x = _rows(64, 7)
    store.append(x[:40])
    store.append(x[40:])
    blocks = list(store.blocks(block_rows=block_rows))
    starts = [s for s, _ in blocks]
    assert starts == list(range(0, 64, block_rows))
    assert all(len(b) <= block_rows for _, b in blocks)
    assert np.array_equal(np.concatenate([b for _, b in blocks]), x)


def test_durable_across_reopen(tmp_path: Path) -> None:
    p = tmp_path / "v.f32"
    x = _rows(30, 8)
    s = FloatStore(p, D)
    s.append(x[:20])
    s.append(x[20:])
    s.close()
    s2 = FloatStore(p, D)
    try:
        assert s2.rows == 30
        assert np.array_equal(s2.gather(np.arange(30)[::-1]), x[::-1])
        assert s2.append(_rows(1, 9)) == 30  # appends continue after the existing rows
    finally:
        s2.close()


@pytest.mark.parametrize("junk", [1, 4, D * 4 - 1])
def test_partial_trailing_row_ignored_on_open_and_cut_by_the_next_writer(tmp_path: Path, junk: int) -> None:
    p = tmp_path / "v.f32"
    x = _rows(7, 10)
    s = FloatStore(p, D)
    s.append(x)
    s.close()
    with open(p, "ab") as f:  # a crash mid-append (or another process's append in progress)
        f.write(b"\xff" * junk)
    assert p.stat().st_size == 7 * D * 4 + junk
    s2 = FloatStore(p, D)
    try:
        assert s2.rows == 7  # a reader never sees a partial row, and never cuts it
        assert p.stat().st_size == 7 * D * 4 + junk
        assert np.array_equal(s2.gather(np.arange(7)), x)
        s2.repair()  # a writer (holding the write lock) cuts it
        assert p.stat().st_size == 7 * D * 4
        y = _rows(2, 11)
        assert s2.append(y) == 7
        assert np.array_equal(s2.gather(np.array([8, 7, 6])), np.stack([y[1], y[0], x[6]]))
    finally:
        s2.close()


def test_second_process_appends_are_seen_after_refresh(tmp_path: Path) -> None:
    """Two stores on one file (two replicas on a shared volume): rows one appends are gathered by
    the other (refresh on an out-of-range id), and appends continue at the file's true end."""
    p = tmp_path / "v.f32"
    a, b = FloatStore(p, D), FloatStore(p, D)
    try:
        x, y = _rows(5, 1), _rows(3, 2)
        assert a.append(x) == 0
        assert b.rows == 0
        assert np.array_equal(b.gather(np.array([4, 0])), np.stack([x[4], x[0]]))  # refreshed
        assert b.append(y) == 5  # after a's rows, not over them
        assert np.array_equal(a.gather(np.arange(8)), np.concatenate([x, y]))
        with pytest.raises(IndexError):
            a.gather(np.array([8]))
        assert [first for first, _ in a.blocks(4)] == [0, 4]
    finally:
        a.close()
        b.close()


def _mapped(path: Path) -> int:
    """Bytes of `path` resident in this process's mappings (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1]) * 1024
    return total


def test_scans_and_gathers_do_not_stay_resident(tmp_path: Path) -> None:
    """The floats live on disk: an exact scan unmaps each block once consumed, and gathers unmap
    everything past `map_budget`, so the process's resident memory does not grow with the file."""
    dim = 256  # 1 KiB rows
    s = FloatStore(tmp_path / "vectors.f32", dim)
    try:
        x = np.random.default_rng(0).standard_normal((16384, dim)).astype(np.float32)  # 16 MiB
        s.append(x)
        total = np.zeros(dim, np.float64)
        for _start, block in s.blocks(1024):
            total += block.sum(axis=0)
            assert _mapped(s.path) <= 2 * 1024 * dim * 4 + 2 * 4096  # this block (+ page edges), not the file
        np.testing.assert_allclose(total, x.sum(axis=0, dtype=np.float64), rtol=1e-4)

        s.map_budget = 2 << 20
        rng = np.random.default_rng(1)
        for _ in range(20):
            ids = rng.integers(0, len(x), 1000)
            np.testing.assert_array_equal(s.gather(ids), x[ids])  # correct after unmapping too
        assert _mapped(s.path) <= s.map_budget + 1000 * (s.row_bytes + FAULT_AROUND)

        s.map_budget = None  # kept mapped: the same gathers leave the file resident
        for _ in range(20):
            s.gather(rng.integers(0, len(x), 1000))
        assert _mapped(s.path) > 8 << 20
    finally:
        s.close()


def test_gather_budget_counts_the_pages_mapped_around_each_row(tmp_path: Path) -> None:
    """A fault on a cached file maps its neighbours too (fault-around): 200 random rows of a
    256 MiB file leave ~13 MiB mapped, not 200 rows' worth. The budget must count that, or the
    mapped pages pile up between unmaps (the 10M run: 3 GiB mapped under a 256 MiB budget)."""
    dim = 256
    s = FloatStore(tmp_path / "vectors.f32", dim)
    try:
        rng = np.random.default_rng(2)
        for _ in range(16):
            s.append(rng.standard_normal((16384, dim)).astype(np.float32))  # 256 MiB, in the page cache
        s.map_budget = 4 << 20
        worst = 0
        for _ in range(12):
            s.gather(rng.integers(0, s.rows, 200))
            worst = max(worst, _mapped(s.path))
        assert worst <= s.map_budget + 200 * (s.row_bytes + FAULT_AROUND)
    finally:
        s.close()


# ---- LiveStore: which rows Milvus holds ------------------------------------------------------------


def test_live_flags_start_dead_and_follow_marks_in_runs(tmp_path: Path) -> None:
    """Appended rows are not live until marked; marks set scattered rows and runs, in place, and
    leave the others as they were; a row past the file is not live; count agrees."""
    live = LiveStore(tmp_path / "live.u8")
    try:
        assert live.count() == 0 and live.mask(np.array([0, 5])).tolist() == [False, False]
        live.pad_to(10)
        assert live.rows == 10 and live.count() == 0
        live.mark(range(2, 8), True)
        live.mark([0, 9, 9], True)
        live.mark(np.array([4, 6]), False)
        want = [0, 2, 3, 5, 7, 9]
        assert np.flatnonzero(live.mask(np.arange(12))).tolist() == want  # 10, 11: past the file
        assert live.count() == len(want)
        assert live.mask(np.array([9, 0, 4])).tolist() == [True, True, False]  # caller order
        live.mark([], False)  # nothing to do
        with pytest.raises(IndexError):
            live.mark([10], True)
        live.flush()
    finally:
        live.close()
    again = LiveStore(tmp_path / "live.u8")  # durable, same bytes
    try:
        assert np.flatnonzero(again.mask(np.arange(10))).tolist() == want
        assert (tmp_path / "live.u8").read_bytes() == bytes(int(i in want) for i in range(10))
    finally:
        again.close()


def test_live_count_may_be_recent_but_never_misses_appended_rows(tmp_path: Path) -> None:
    """`count()` counts now; `count(max_age_s)` may answer the count of a moment ago (marks since
    then unseen), but counts again once the file has grown or the count is older than that."""
    live = LiveStore(tmp_path / "live.u8")
    try:
        live.pad_to(10)
        live.mark(range(6), True)
        assert live.count(max_age_s=3600) == 6
        live.mark([0, 1], False)
        assert live.count(max_age_s=3600) == 6  # the recent count
        assert live.count() == 4  # counted now
        live.mark([2], False)
        assert live.count(max_age_s=0.0) == 3  # no age allowed: counted now
        live.append(np.ones((2, 1), np.uint8))
        assert live.count(max_age_s=3600) == 5  # grown since: counted again
    finally:
        live.close()


def test_live_marks_of_one_process_are_seen_by_another_at_once(tmp_path: Path) -> None:
    """Two stores on one file (replicas sharing a volume): a mark written by one is read by the
    other through its existing map, and rows it appends are seen after a refresh."""
    a, b = LiveStore(tmp_path / "live.u8"), LiveStore(tmp_path / "live.u8")
    try:
        a.pad_to(4)
        a.mark([0, 1, 2, 3], True)
        assert b.mask(np.arange(4)).all()  # b maps the file now
        a.mark([2], False)
        assert b.mask(np.arange(4)).tolist() == [True, True, False, True]
        a.append(np.ones((2, 1), np.uint8))
        assert b.mask(np.array([5])).tolist() == [True]  # past b's rows: refreshed
    finally:
        a.close()
        b.close()


def test_live_file_built_from_the_rows_milvus_holds(tmp_path: Path) -> None:
    """`build`: the rows given live, every other row of `rows` not (ids out of range ignored)."""
    LiveStore.build(tmp_path / "live.u8", 6, np.array([5, 1, 3, 99, -1]))
    live = LiveStore(tmp_path / "live.u8")
    try:
        assert live.rows == 6 and np.flatnonzero(live.mask(np.arange(6))).tolist() == [1, 3, 5]
        assert not (tmp_path / "live.u8.tmp").exists()
    finally:
        live.close()
