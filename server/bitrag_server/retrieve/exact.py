"""Full precision: exact inner products of the query with every float32 row (blocked matmul over
the memory map). Liveness (deleted rows stay in the file) and metadata filters are checked by the
caller against Milvus, so this module is pure numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import failpoints, metrics
from ..errors import BitragError
from ..stores.float_store import FloatStore


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
        out[start : start + block.shape[0]] = block @ query  # [b, d] @ [d] -> [b]
        metrics.EXACT_ROWS_SCANNED.inc(block.shape[0])
    return out
