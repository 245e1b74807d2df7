"""Stage 2: exact rescoring of the Hamming candidates against their float32 rows."""

from __future__ import annotations

import numpy as np

from .topk import top_positions


def rescore(query: np.ndarray, rows: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner products of `query` `[d]` with candidate `rows` `[C, d]`.

    Returns (positions of the best `top_k` rows, best first `[k]`; every row's score `[C]`). Both
    sides are L2-normalised, so the scores are cosine similarities. All scores are returned
    because the gate fits its confidence on them.
    """
    scores = rows @ query  # [C, d] @ [d] -> [C]
    return top_positions(scores, top_k), scores
