"""Stage 1: Hamming candidates from the Milvus binary collection."""

from __future__ import annotations

import numpy as np

from ..quantize import binarize
from ..stores.binary_index import BinaryIndex, Candidates


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
