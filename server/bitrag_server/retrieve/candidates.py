"""Stage 1: the Hamming pool, from one of two sources (the plan's `source`, chosen by measured cost):

  milvus  one search of the Milvus binary collection (BIN_FLAT / BIN_IVF_FLAT at the plan's nprobe);
          the only source for a filtered query (Milvus applies the filter)
  ram     one exact Hamming scan of every code in the server's RAM (`codes.u8`, FAISS' counting
          top-k, SIMD popcount): no IVF misses, and its cost hardly grows with the pool, where a
          Milvus search's grows with the results it returns (bench/results/scale_standalone_1m.md).
          The codes include deleted rows (until a compaction): the pool keeps only the rows the
          collection's live flags (`live.u8`) mark live, with no Milvus round trip. A scan with no
          other search in flight is split per core (RamScanner)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..quantize import binarize
from ..stores.binary_index import BinaryIndex, Candidates
from ..stores.float_store import CodeStore, LiveStore
from .exact import CORES


def hamming_candidates(
    index: BinaryIndex,
    milvus_collection: str,
    query: np.ndarray,  # [d] float32
    thresholds: np.ndarray | None,  # [d] or None (zeros)
    limit: int,
    expr: str,
    search_params: dict[str, int],
) -> Candidates:
    code = binarize(query, thresholds).tobytes()  # [d/8] packed, same bits as the documents'
    return index.search(milvus_collection, code, limit, expr, search_params)


class RamScanner:
    """Every RAM scan of the process goes through here, for what was measured (1M x 768-bit codes,
    k 5,120, FAISS 1.15, 2 cores; bench/ram_scan.py, bench/results/ram_scan.md: threads looping a
    scan, then a few ms of numpy): one scan is bound by the memory one core reads (a native
    popcount loop took 12 ms), so a scan while no other search is in flight is split into one
    shard per core, each scanned by a thread of this lane with FAISS single-threaded (concurrency
    1: p50 10.1 ms, 93 QPS, against 18.2 ms and 54 for one whole scan), and a scan beside other
    searches stays whole in its caller's thread (concurrency 8: 147 QPS either way). Tried and
    dropped: splitting beside other searches, and batching the waiting queries into one FAISS
    pass (a convoy: 95-106 QPS against 118 at concurrency 8 in the same kind of loop)."""

    def __init__(self, shards: int | None = None, shard_min_rows: int = 200_000) -> None:
        self.shards = shards if shards is not None else CORES
        self.shard_min_rows = shard_min_rows
        self._lock = threading.Lock()
        self._running = 0
        self._searching = 0  # searches in flight (Searcher.search: `searching()`)
        self._pool: ThreadPoolExecutor | None = None
        self.scans = 0  # scans done
        self.split = 0  # of them split into shards

    def knn(self, codes: np.ndarray, qcode: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances [k], ids [k]) of the `k` codes nearest `qcode` ([d/8] uint8), nearest first."""
        n = int(codes.shape[0])
        with self._lock:
            alone = self._running == 0 and self._searching <= 1
            self._running += 1
            self.scans += 1
            split = alone and self.shards > 1 and n >= self.shard_min_rows
            self.split += split
        try:
            q = qcode.reshape(1, -1)
            if not split:  # FAISS as configured (pinning it to one OpenMP thread here cost 8% of QPS at c8)
                d, i = _knn(q, codes, 0, n, k)
                return d[0], i[0]
            bounds = np.linspace(0, n, self.shards + 1).astype(np.int64)
            parts = list(self._threads().map(lambda s: _knn(q, codes, int(bounds[s]), int(bounds[s + 1]), k),
                                             range(self.shards)))
            dist = np.concatenate([p[0][0] for p in parts])
            ids = np.concatenate([p[1][0] for p in parts])
            order = np.argsort(dist, kind="stable")[:k]
            return dist[order], ids[order]
        finally:
            with self._lock:
                self._running -= 1

    @contextlib.contextmanager
    def searching(self) -> Iterator[None]:
        """Marks one search in flight: a scan is split only when its own search is the only one
        (the others' stages would wait for the cores the shards take)."""
        with self._lock:
            self._searching += 1
        try:
            yield
        finally:
            with self._lock:
                self._searching -= 1

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.shards, thread_name_prefix="bitrag-scan",
                                                initializer=_one_omp_thread)
            return self._pool


def _one_omp_thread() -> None:
    import faiss  # noqa: PLC0415 - the server's only FAISS use; loaded on the first RAM scan

    faiss.omp_set_num_threads(1)  # this thread's FAISS calls: no OpenMP team


def _knn(q: np.ndarray, codes: np.ndarray, lo: int, hi: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest of codes[lo:hi] for each query of `q` [m, d/8]: ([m, k'] distances, [m, k'] row
    ids), nearest first, k' = min(k, hi - lo). FAISS releases the GIL."""
    import faiss  # noqa: PLC0415

    d, i = faiss.knn_hamming(q, codes[lo:hi], min(k, hi - lo), variant="mc")
    return d, i + lo


SCANNER = RamScanner()


def ram_candidates(codes: CodeStore, query: np.ndarray, thresholds: np.ndarray | None, limit: int) -> Candidates:
    """The `limit` codes nearest the query's in Hamming distance, over every row of `codes` (deleted
    rows included: the caller checks liveness); nearest first, ties in any order. Through the
    process' RamScanner (split per core while no other search is in flight)."""
    allc = np.ascontiguousarray(codes.view())  # [N, d/8] uint8, mapped and kept in RAM
    n = int(allc.shape[0])
    k = min(int(limit), n)
    if k <= 0:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.int32))
    dist, ids = SCANNER.knn(allc, binarize(query, thresholds).reshape(-1), k)
    return Candidates(ids.astype(np.int64, copy=False), dist.astype(np.int32, copy=False))


LIVE_COUNT_AGE_S = 1.0  # how stale the live-row count behind the dead-row estimate may be


def live_candidates(
    codes: CodeStore, live: LiveStore, query: np.ndarray, thresholds: np.ndarray | None, limit: int
) -> tuple[Candidates, bool]:
    """The `limit` live rows nearest the query's code, over every code in RAM (fewer only when the
    collection has fewer), and whether the scan reached every code (then the pool holds every live
    row). Dead rows are dropped from the scan's top: with few of them (<= 4 x `limit`) the scan asks
    for `limit` + all of them (FAISS' counting top-k hardly costs more for it); with more, for the
    dead share's worth more, twice over, doubled until `limit` live rows are in. The dead count comes
    from a live count up to `LIVE_COUNT_AGE_S` old (deletes since then cost at most the doubling)."""
    n = codes.refresh()
    dead = max(0, n - live.count(max_age_s=LIVE_COUNT_AGE_S))
    ask = min(n, limit + dead) if dead <= 4 * limit else min(n, -(-2 * limit * n // max(1, n - dead)))
    while True:
        scan = ram_candidates(codes, query, thresholds, ask)
        keep = live.mask(scan.ids)
        if ask >= n or int(np.count_nonzero(keep)) >= limit:
            break
        ask = min(n, 2 * ask)
    ids, dists = scan.ids[keep][:limit], scan.distances[keep][:limit]
    return Candidates(ids, dists), scan.ids.size >= n
