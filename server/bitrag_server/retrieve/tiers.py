"""Stage 2 (in RAM): the middle tier ranks the Hamming pool before any float row is read.

Each tier turns the float query and a candidate's in-RAM code into an estimate of the inner
product without decoding the codes: the sign tier through a per-query byte lookup table
(`table[j * 256 + v]`: byte j of a code equal to v; `[P, d/8]` lookups), the scalar tiers by one
shift-and-mask and one small matmul per position within a byte (`ScalarQuantizer.dot`).

  sign  the float query against the +-1 sign codes (`codes.u8`, already in RAM for Hamming work);
        no extra memory. A biased estimate (q . sign(x) grows with |x|_1), good enough to order.
  sq2 / sq4  2- or 4-bit scalar codes per dimension (`tier.u8`, d/4 or d/2 bytes per row, ranges
        fitted per dimension to the collection's data): est ~ q . x, with a small spread.

How many float rows a query then needs is decided by the stopping rule (rescore.py) from these
estimates; a better tier reads fewer. Measured on real embeddings (scifact, Hamming pool 1,000,
recall@10 after rescoring the R best by the tier's estimate), R = 20: sign 0.945 / 0.868, sq2
0.980 / 0.951, sq4 0.999 / 1.000 (mpnet / MiniLM); bench/results/tiers_*.md.
"""

from __future__ import annotations

import numpy as np

from ..domain import Tier
from ..quantize import ScalarQuantizer
from ..stores.float_store import CodeStore, TierStore
from .asymmetric import byte_table as sign_byte_table

TIER_BITS = {Tier.SQ2: 2, Tier.SQ4: 4}


def tier_bytes(tier: Tier, dim: int) -> int:
    """Bytes per row a tier keeps in RAM beyond the sign codes."""
    return dim * TIER_BITS[tier] // 8 if tier in TIER_BITS else 0


def lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """`sum_j table[j * 256 + codes[:, j]]`: `[P, B]` uint8 codes -> `[P]` float32."""
    if codes.shape[0] == 0:
        return np.empty(0, np.float32)
    offsets = np.arange(codes.shape[1], dtype=np.intp) * 256
    return np.take(table, codes + offsets).sum(axis=1, dtype=np.float32)


class MiddleTier:
    """The estimates of one collection's tier. `scores(query, rows)` -> `[P]` float32."""

    def __init__(self, tier: Tier, codes: CodeStore, store: TierStore | None = None,
                 quantizer: ScalarQuantizer | None = None) -> None:
        if tier != Tier.SIGN and (store is None or quantizer is None):
            tier = Tier.SIGN  # not fitted yet (too few rows so far): the sign codes stand in
        self.tier = tier
        self.codes = codes
        self.store = store
        self.quantizer = quantizer

    def scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Estimates of `query . x` for candidate `rows` `[P]` (any order)."""
        if self.tier == Tier.SIGN:
            # bits(x) . q from the byte table, then q . sign(x) = 2 bits(x) . q - sum(q)
            t = sign_byte_table(query)
            return 2.0 * lookup(t, self.codes.gather(rows)) - np.float32(query.sum(dtype=np.float32))
        assert self.store is not None and self.quantizer is not None
        return self.quantizer.dot(query, self.store.gather(rows))
