"""Stage 1b (in RAM): asymmetric scoring of the Hamming candidates.

The float query against the candidates' ±1 codes: `sign(x) . q`. It keeps the query's magnitudes
that Hamming distance throws away, so it orders candidates much closer to the float32 order than
Hamming does, at the cost of a few table lookups per candidate on codes already in RAM. A wide
Hamming pool shortlisted this way sends far fewer rows to the disk stage for the same recall
(scifact minilm, k=10: 80 float rows after a 320-code Hamming pool reach recall@10 0.987 vs 0.931
without).

Computed with a per-query lookup table rather than by unpacking the codes to ±1 floats: for byte
position j and byte value v, `table[j, v]` = the sum of q over the bits set in v at position j, so
`bits(x) . q` is the sum of d/8 table entries and `sign(x) . q = 2 bits(x) . q - sum(q)`. That
never materialises the `[H, d]` float matrix: ~15x faster (d=768: 10,240 codes in 1.7 ms instead
of 30 ms), which is what makes wide pools (the widen fallback) affordable.
"""

from __future__ import annotations

import numpy as np

from .topk import top_positions

_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32)  # [256, 8]


def byte_table(query: np.ndarray) -> np.ndarray:
    """`[d/8 * 256]` float32: entry `j * 256 + v` = sum of `query[8j:8j+8]` over the bits of byte
    value `v` (most significant bit first, like `np.packbits`)."""
    return (query.reshape(-1, 8).astype(np.float32) @ _BYTE_BITS.T).ravel()


def asymmetric_scores(query: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """`query` `[d]` float32 x `codes` `[H, d/8]` packed bits -> `[H]` float32 scores (q . sign(x))."""
    n_bytes = codes.shape[-1]
    if codes.shape[0] == 0:
        return np.empty(0, np.float32)
    offsets = np.arange(n_bytes, dtype=np.intp) * 256
    bits_dot_q = np.take(byte_table(query), codes + offsets).sum(axis=1, dtype=np.float32)  # [H]
    return 2.0 * bits_dot_q - np.float32(query.sum(dtype=np.float32))


def shortlist(scores: np.ndarray, keep: int) -> np.ndarray:
    """Positions of the `keep` best asymmetric scores, best first."""
    return top_positions(scores, keep)
