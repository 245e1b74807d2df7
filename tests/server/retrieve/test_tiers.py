"""The middle tier: multi-bit scalar codes round-trip, their lookup-table estimates are the decoded
inner products, and every tier orders candidates close to the exact order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitrag_server.domain import Tier
from bitrag_server.quantize import ScalarQuantizer, binarize, l2_normalize
from bitrag_server.retrieve.tiers import TIER_BITS, MiddleTier, lookup, tier_bytes
from bitrag_server.stores.float_store import CodeStore, TierStore


def _data(n: int = 2000, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, d)).astype(np.float32)
    return l2_normalize(centers[rng.integers(0, 20, n)] + 0.7 * rng.standard_normal((n, d)).astype(np.float32))


@pytest.mark.parametrize("bits", [2, 4])
def test_scalar_codes_round_trip(bits: int) -> None:
    x = _data()
    q = ScalarQuantizer.fit(x, bits)
    codes = q.encode(x)
    assert codes.shape == (2000, 64 * bits // 8) and codes.dtype == np.uint8
    levels = q.levels_of(x)
    assert levels.max() <= (1 << bits) - 1
    dec = q.decode(codes)
    np.testing.assert_array_equal(q.levels_of(dec), levels)  # decode -> encode is the identity on levels
    np.testing.assert_array_equal(q.encode(dec), codes)
    # inside the fitted range a value is off by at most half a step
    inside = (x >= q.lo) & (x <= q.lo + q.step * q.levels)
    assert np.all(np.abs(dec - x)[inside] <= (q.step / 2 + 1e-6)[np.nonzero(inside)[1]])
    # the quantizer survives the manifest (JSON) round trip
    q2 = ScalarQuantizer.from_dict(q.to_dict())
    np.testing.assert_array_equal(q2.encode(x), codes)


def test_packing_order_is_big_endian_within_a_byte() -> None:
    q = ScalarQuantizer(4, np.zeros(8, np.float32), np.ones(8, np.float32))
    codes = q.encode(np.array([[1, 2, 3, 4, 5, 6, 7, 8]], np.float32))
    assert codes.tolist() == [[0x12, 0x34, 0x56, 0x78]]
    q2 = ScalarQuantizer(2, np.zeros(8, np.float32), np.ones(8, np.float32))
    assert q2.encode(np.array([[0, 1, 2, 3, 3, 2, 1, 0]], np.float32)).tolist() == [[0b00011011, 0b11100100]]


@pytest.mark.parametrize("bits", [2, 4])
def test_lookup_table_equals_decoded_inner_product(bits: int) -> None:
    x = _data(seed=1)
    q = ScalarQuantizer.fit(x, bits)
    codes = q.encode(x)
    query = _data(5, seed=2)
    for v in query:
        exact = q.decode(codes) @ v
        np.testing.assert_allclose(lookup(q.byte_table(v), codes), exact, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(q.dot(v, codes), exact, rtol=1e-4, atol=1e-5)
        # in blocks that do not divide the rows: the last, shorter block is scored too
        np.testing.assert_allclose(q.dot(v, codes, block=7), exact, rtol=1e-4, atol=1e-5)
    assert q.dot(query[0], codes[:0]).shape == (0,)


def test_bad_quantizer_settings() -> None:
    with pytest.raises(ValueError, match="bits must be 2 or 4"):
        ScalarQuantizer(3, np.zeros(8), np.ones(8))
    with pytest.raises(ValueError, match="multiple of 8"):
        ScalarQuantizer.fit(np.zeros((10, 12), np.float32), 4)


def test_tier_bytes() -> None:
    assert tier_bytes(Tier.SIGN, 768) == 0
    assert tier_bytes(Tier.SQ2, 768) == 192 and tier_bytes(Tier.SQ4, 768) == 384
    assert set(TIER_BITS) == {Tier.SQ2, Tier.SQ4}


def _recall_after(est: np.ndarray, exact: np.ndarray, read: int, k: int = 10) -> float:
    order = np.argsort(-est, kind="stable")[:read]
    top = order[np.argsort(-exact[order], kind="stable")[:k]]
    return len(set(top.tolist()) & set(np.argsort(-exact)[:k].tolist())) / k


def test_every_tier_orders_candidates_and_more_bits_read_fewer_rows(tmp_path: Path) -> None:
    """Rescoring the 20 best estimates of a 500-row pool: the finer the codes, the closer to the
    exact top-10 (averaged over queries; the estimates come from the stores the server uses)."""
    x = _data(500, seed=3)
    codes = CodeStore(tmp_path / "codes.u8", 64)
    codes.append(binarize(x))
    rows = np.arange(500)
    queries = _data(40, seed=4)
    recall = {}
    for tier in Tier:
        if tier == Tier.SIGN:
            mt = MiddleTier(tier, codes)
        else:
            q = ScalarQuantizer.fit(x, TIER_BITS[tier])
            store = TierStore(tmp_path / f"{tier}.u8", q.row_bytes)
            store.append(q.encode(x))
            mt = MiddleTier(tier, codes, store, q)
        assert mt.tier == tier
        recall[tier] = float(np.mean([_recall_after(mt.scores(v, rows), x @ v, 20) for v in queries]))
    assert recall[Tier.SQ4] >= recall[Tier.SQ2] >= recall[Tier.SIGN] - 0.02
    assert recall[Tier.SQ4] > 0.95 and recall[Tier.SIGN] > 0.5
    # a multi-bit tier without its codes (not fitted yet) ranks with the sign codes
    assert MiddleTier(Tier.SQ4, codes).tier == Tier.SIGN
