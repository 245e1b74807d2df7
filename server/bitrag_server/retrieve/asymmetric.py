"""Stage 1b (in RAM): asymmetric scoring of the Hamming candidates.

The float query against the candidates' ±1 codes: `signs @ q`. It keeps the query's magnitudes
that Hamming distance throws away, so it orders candidates much closer to the float32 order than
Hamming does, at the cost of one small matmul on codes already in RAM. A wide Hamming pool
shortlisted this way sends far fewer rows to the disk stage for the same recall (scifact minilm,
k=10: 80 float rows after a 320-code Hamming pool reach recall@10 0.987 vs 0.931 without).
"""

from __future__ import annotations

import numpy as np

from ..quantize import unpack_signs
from .topk import top_positions


def asymmetric_scores(query: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """`query` `[d]` float32 x `codes` `[H, d/8]` packed bits -> `[H]` scores (q . sign(x))."""
    signs = unpack_signs(codes, query.shape[0])  # [H, d] in {-1, +1}
    return signs @ query  # [H, d] @ [d] -> [H]


def shortlist(scores: np.ndarray, keep: int) -> np.ndarray:
    """Positions of the `keep` best asymmetric scores, best first."""
    return top_positions(scores, keep)
