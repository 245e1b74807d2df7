"""Full precision: exact inner products of the query with every float32 row (blocked matmul over
the memory map). Liveness (deleted rows stay in the file) and metadata filters are checked by the
caller against Milvus, so this module is pure numpy."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import failpoints, metrics
from ..errors import BitragError
from ..stores.float_store import FloatStore


# The server runs BLAS single-threaded (server.py: its worker threads spin after each call and took
# the cores from the RAM scan's shards), so a large scan splits each block over the cores itself:
# 1M x 768 here, 250 ms with 2 BLAS threads, 430 ms with 1, and this split back to the former.
CORES = max(1, min(4, len(os.sched_getaffinity(0))))  # also the RAM scan's shards (candidates.py)
_SPLIT_MIN_ROWS = 16384
_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(CORES, thread_name_prefix="bitrag-exact")
    return _pool


def _scores_into(block: np.ndarray, query: np.ndarray, dst: np.ndarray) -> None:
    """dst[:] = block @ query, the rows split over the cores for a large block (numpy releases the GIL)."""
    b = block.shape[0]
    if CORES == 1 or b < _SPLIT_MIN_ROWS:
        np.matmul(block, query, out=dst)
        return
    cuts = np.linspace(0, b, CORES + 1).astype(np.int64)
    parts = [_threads().submit(np.matmul, block[lo:hi], query, out=dst[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:])]
    for f in parts:
        f.result()


def exact_scores(query: np.ndarray, floats: FloatStore, block_rows: int = 65536,
                 check: Callable[[], None] | None = None) -> np.ndarray:
    """`[N]` scores of every row in the float file (row id == position). `check` runs before each
    block and raises to stop the scan (the caller is gone: `bitrag_search_cancelled_total`)."""
    n = floats.refresh()  # rows other replicas appended count too
    out = np.empty(n, dtype=np.float32)
    for start, block in floats.blocks(block_rows, rows=n):
        if check is not None:
            try:
                check()
            except BitragError:
                metrics.SEARCH_CANCELLED.labels("exact_scan").inc()
                raise
        failpoints.hit("exact.block")  # tests stall a scan here to land a deadline inside it
        _scores_into(block, query, out[start : start + block.shape[0]])  # [b, d] @ [d] -> [b]
        metrics.EXACT_ROWS_SCANNED.inc(block.shape[0])
    return out
