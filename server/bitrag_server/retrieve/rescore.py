"""Stage 2: exact rescoring of the Hamming candidates against their float32 rows."""

from __future__ import annotations

import numpy as np


def rescore(query: np.ndarray, rows: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner products of `query` `[d]` with candidate `rows` `[C, d]`; best `top_k` first.

    Returns (positions into rows `[k]`, scores `[k]`). Both sides are L2-normalised, so the
    scores are cosine similarities. Ties keep the Hamming order (stable sort).
    """
    scores = rows @ query  # [C, d] @ [d] -> [C]
    k = min(top_k, scores.shape[0])
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if k < scores.shape[0]:
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
    else:
        order = np.argsort(-scores, kind="stable")
    return order, scores[order]
