"""The one selection primitive every stage uses: positions of the n best scores, best first."""

from __future__ import annotations

import numpy as np


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` best of `scores` `[C]`, best first. Equal scores keep their input
    order when every position is returned (stable sort); a partial selection may reorder them."""
    n = min(n, scores.shape[0])
    if n <= 0:
        return np.empty(0, np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < scores.shape[0] else np.arange(scores.shape[0])
    return part[np.argsort(-scores[part], kind="stable")]
