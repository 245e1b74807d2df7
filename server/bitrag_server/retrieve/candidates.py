"""Stage 1: the Hamming pool, from one of two sources (the plan's `source`, chosen by measured cost):

  milvus  one search of the Milvus binary collection (BIN_FLAT / BIN_IVF_FLAT at the plan's nprobe);
          the only source for a filtered query (Milvus applies the filter)
  ram     one exact Hamming scan of every code in the server's RAM (`codes.u8`, FAISS' counting
          top-k, SIMD popcount): no IVF misses, and its cost hardly grows with the pool, where a
          Milvus search's grows with the results it returns (bench/results/scale_standalone_1m.md).
          The codes include deleted rows, so the answer's rows are checked live in Milvus afterwards
          (pipeline.py: one small query). Concurrent scans share one lane (RamScanner)
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..quantize import binarize
from ..stores.binary_index import BinaryIndex, Candidates
from ..stores.float_store import CodeStore


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
    """Every RAM scan of the process goes through one lane, for two measured reasons (1M x 768-bit
    codes here, FAISS 1.15, 2 cores): the scan is bound by the memory one core reads (17 ms for
    one query; a native popcount loop 12 ms), and FAISS' counting top-k reads each block of codes
    once for all the queries it is given. So the queries waiting when a scan starts go in one
    FAISS call (8 queries: 43 ms in one call, 61 ms as 8 concurrent calls), and a lone query's scan
    is split into one shard per core (12 ms instead of 17). A query arriving while a scan runs
    waits for it and goes in the next one: at concurrency 1 nobody waits.

    A caller's thread runs the batch it leads (no thread of its own): the first caller finding
    the lane free takes every waiting query up to `max_batch`, scans, hands the results out and
    frees the lane; a waiting caller whose query was left over leads the next batch."""

    def __init__(self, max_batch: int = 16, shards: int | None = None, shard_min_rows: int = 200_000) -> None:
        self.max_batch = max_batch
        self.shards = shards if shards is not None else max(1, min(4, len(os.sched_getaffinity(0))))
        self.shard_min_rows = shard_min_rows
        self._cv = threading.Condition()
        self._queue: list[_Scan] = []
        self._running = False
        self._pool: ThreadPoolExecutor | None = None
        self.scans = 0  # FAISS passes over a code array (a batch of queries, or a sharded lone query)
        self.queries = 0  # queries they answered

    def knn(self, codes: np.ndarray, qcode: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances [k], ids [k]) of the `k` codes nearest `qcode` ([d/8] uint8), nearest first."""
        item = _Scan(codes, qcode, k)
        with self._cv:
            self._queue.append(item)
            while not item.done:
                if self._running:  # wait for the running batch: it may hold our query
                    self._cv.wait()
                    continue
                self._running = True  # lead the next batch (it holds our query or brings it nearer)
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                self._cv.release()
                try:
                    self._run(batch)
                finally:
                    self._cv.acquire()
                    self._running = False
                    self._cv.notify_all()
        return item.result()

    def _run(self, batch: list[_Scan]) -> None:
        groups: dict[tuple[int, tuple[int, ...]], list[_Scan]] = {}
        for it in batch:
            groups.setdefault((it.codes.ctypes.data, it.codes.shape), []).append(it)
        for items in groups.values():
            self.scans += 1
            self.queries += len(items)
            try:
                self._scan(items)
            except BaseException as e:  # noqa: BLE001 - handed to every caller of the group
                for it in items:
                    it.error = e
            for it in items:
                it.done = True

    def _scan(self, items: list[_Scan]) -> None:
        import faiss  # noqa: PLC0415 - the server's only FAISS use; loaded on the first RAM scan

        codes = items[0].codes
        n = int(codes.shape[0])
        kmax = max(it.k for it in items)
        if len(items) == 1 and self.shards > 1 and n >= self.shard_min_rows:
            dist, ids = self._sharded(codes, items[0].qcode.reshape(1, -1), kmax)
            items[0].out = (dist, ids)
            return
        q = np.stack([it.qcode for it in items])  # [m, d/8]
        dist, ids = faiss.knn_hamming(q, codes, kmax, variant="mc")  # [m, kmax] each, nearest first
        for i, it in enumerate(items):
            it.out = (dist[i, : it.k], ids[i, : it.k])

    def _sharded(self, codes: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss  # noqa: PLC0415

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.shards, thread_name_prefix="bitrag-scan")
        n = int(codes.shape[0])
        bounds = np.linspace(0, n, self.shards + 1).astype(np.int64)

        def one(s: int) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = int(bounds[s]), int(bounds[s + 1])
            d, i = faiss.knn_hamming(q, codes[lo:hi], min(k, hi - lo), variant="mc")  # releases the GIL
            return d[0], i[0] + lo

        parts = list(self._pool.map(one, range(self.shards)))
        dist = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        order = np.argsort(dist, kind="stable")[:k]
        return dist[order], ids[order]


@dataclass(eq=False)
class _Scan:
    codes: np.ndarray  # [N, d/8] uint8, C-contiguous
    qcode: np.ndarray  # [d/8] uint8
    k: int
    out: tuple[np.ndarray, np.ndarray] | None = None
    error: BaseException | None = None
    done: bool = False

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.error is not None:
            raise self.error
        assert self.out is not None
        return self.out


SCANNER = RamScanner()


def ram_candidates(codes: CodeStore, query: np.ndarray, thresholds: np.ndarray | None, limit: int) -> Candidates:
    """The `limit` codes nearest the query's in Hamming distance, over every row of `codes` (deleted
    rows included: the caller checks liveness); nearest first, ties in any order. Through the
    process' scan lane (RamScanner: concurrent scans batched, a lone one split per core)."""
    allc = np.ascontiguousarray(codes.view())  # [N, d/8] uint8, mapped and kept in RAM
    n = int(allc.shape[0])
    k = min(int(limit), n)
    if k <= 0:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.int32))
    dist, ids = SCANNER.knn(allc, binarize(query, thresholds).reshape(-1), k)
    return Candidates(ids.astype(np.int64, copy=False), dist.astype(np.int32, copy=False))
