"""quantize.py: sign bits, big-endian packing, Hamming distance."""

from __future__ import annotations

import numpy as np
import pytest

from bitrag_server.quantize import binarize, hamming, l2_normalize, unpack_signs


def test_bit_for_dim0_is_msb_of_byte0() -> None:
    x = np.full(16, -1.0, np.float32)
    x[0] = 1.0
    assert binarize(x).tolist() == [0b1000_0000, 0]
    x = np.full(16, -1.0, np.float32)
    x[7] = 1.0
    x[8] = 1.0
    assert binarize(x).tolist() == [0b0000_0001, 0b1000_0000]


def test_packing_matches_manual_big_endian() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 48)).astype(np.float32)
    codes = binarize(x)
    assert codes.shape == (20, 6) and codes.dtype == np.uint8
    for i in range(20):
        for b in range(6):
            want = sum(int(x[i, b * 8 + j] > 0) << (7 - j) for j in range(8))
            assert codes[i, b] == want


def test_zero_is_not_positive() -> None:
    # bit is set where x > threshold, strictly
    assert binarize(np.zeros(8, np.float32)).tolist() == [0]


def test_thresholds_respected() -> None:
    x = np.array([0.5, 0.5, -0.5, -0.5, 2.0, 0.0, 0.1, -3.0], np.float32)
    t = np.array([0.4, 0.6, -0.6, -0.4, 2.0, -0.1, 0.0, -4.0], np.float32)
    # 0.5>0.4 1; 0.5>0.6 0; -0.5>-0.6 1; -0.5>-0.4 0; 2>2 0; 0>-0.1 1; 0.1>0 1; -3>-4 1
    assert binarize(x, t).tolist() == [0b1010_0111]
    # no thresholds == zeros: 0.5 0.5 -0.5 -0.5 2 0 0.1 -3 -> 1 1 0 0 1 0 1 0
    assert binarize(x).tolist() == [0b1100_1010]
    assert binarize(x, np.zeros(8, np.float32)).tolist() == [0b1100_1010]


def test_thresholds_batch() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 32)).astype(np.float32)
    t = rng.standard_normal(32).astype(np.float32)
    assert np.array_equal(unpack_signs(binarize(x, t), 32) > 0, x > t)
    assert not np.array_equal(binarize(x, t), binarize(x))


def test_hamming_equals_brute_count() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(100, 16), dtype=np.uint8)
    b = rng.integers(0, 256, size=16, dtype=np.uint8)
    d = hamming(a, b)
    brute = [sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(row, b)) for row in a]
    assert d.tolist() == brute
    assert hamming(b[None, :], b).tolist() == [0]
    assert hamming((~b)[None, :], b).tolist() == [128]


def test_hamming_of_codes_counts_sign_disagreements() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 64)).astype(np.float32)
    q = rng.standard_normal(64).astype(np.float32)
    d = hamming(binarize(x), binarize(q))
    assert d.tolist() == ((x > 0) != (q > 0)).sum(axis=1).tolist()


def test_unpack_signs_inverts_binarize() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 24)).astype(np.float32)
    signs = unpack_signs(binarize(x), 24)
    assert signs.dtype == np.float32 and signs.shape == (10, 24)
    assert set(np.unique(signs).tolist()) == {-1.0, 1.0}
    assert np.array_equal(signs, np.where(x > 0, 1.0, -1.0))
    # and binarize(unpack_signs(c)) == c
    assert np.array_equal(binarize(signs), binarize(x))
    # 1-D too
    assert np.array_equal(unpack_signs(binarize(x[0]), 24), signs[0])


@pytest.mark.parametrize("dim", [1, 7, 9, 12, 100])
def test_dimension_not_multiple_of_8_raises(dim: int) -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        binarize(np.ones(dim, np.float32))
    with pytest.raises(ValueError, match="multiple of 8"):
        binarize(np.ones((3, dim), np.float32))


def test_l2_normalize() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    n = l2_normalize(x)
    assert np.allclose(n[0], [0.6, 0.8])
    assert np.array_equal(n[1], [0.0, 0.0])  # zero rows stay zero (caller rejects them)
