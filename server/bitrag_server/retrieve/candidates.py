"""Stage 1: the Hamming pool, from one of two sources (the plan's `source`, chosen by measured cost):

  milvus  one search of the Milvus binary collection (BIN_FLAT / BIN_IVF_FLAT at the plan's nprobe);
          the only source for a filtered query (Milvus applies the filter)
  ram     one exact Hamming scan of every code in the server's RAM (`codes.u8`, FAISS' counting
          top-k, SIMD popcount): no IVF misses, and its cost hardly grows with the pool, where a
          Milvus search's grows with the results it returns (bench/results/scale_standalone_1m.md).
          The codes include deleted rows, so the answer's rows are checked live in Milvus afterwards
          (pipeline.py: one small query)
"""

from __future__ import annotations

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


def ram_candidates(codes: CodeStore, query: np.ndarray, thresholds: np.ndarray | None, limit: int) -> Candidates:
    """The `limit` codes nearest the query's in Hamming distance, over every row of `codes` (deleted
    rows included: the caller checks liveness); nearest first, ties in any order."""
    import faiss  # noqa: PLC0415 - the server's only FAISS use; loaded on the first RAM scan

    allc = codes.view()  # [N, d/8] uint8, mapped and kept in RAM
    n = int(allc.shape[0])
    k = min(int(limit), n)
    if k <= 0:
        return Candidates(np.empty(0, np.int64), np.empty(0, np.int32))
    qcode = binarize(query, thresholds).reshape(1, -1)  # [1, d/8]
    dist, ids = faiss.knn_hamming(qcode, np.ascontiguousarray(allc), k, variant="mc")  # [1, k] each
    return Candidates(ids[0].astype(np.int64, copy=False), dist[0].astype(np.int32, copy=False))
