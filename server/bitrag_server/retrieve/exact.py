"""Full precision: exact inner products of the query with every float32 row (blocked matmul over
the memory map). Liveness (deleted rows stay in the file) and metadata filters are checked by the
caller against Milvus, so this module is pure numpy."""

from __future__ import annotations

import numpy as np

from ..stores.float_store import FloatStore


def exact_scores(query: np.ndarray, floats: FloatStore, block_rows: int = 65536) -> np.ndarray:
    """`[N]` scores of every row in the float file (row id == position)."""
    out = np.empty(floats.rows, dtype=np.float32)
    for start, block in floats.blocks(block_rows):
        out[start : start + block.shape[0]] = block @ query  # [b, d] @ [d] -> [b]
    return out


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` best scores, best first."""
    n = min(n, scores.shape[0])
    if n == 0:
        return np.empty(0, np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.shape[0] else np.arange(scores.shape[0])
    return part[np.argsort(-scores[part], kind="stable")]
