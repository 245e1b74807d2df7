"""The asymmetric stage's lookup-table scoring equals the float query against the unpacked ±1 codes."""

from __future__ import annotations

import numpy as np
import pytest

from bitrag_server.quantize import binarize, unpack_signs
from bitrag_server.retrieve.asymmetric import asymmetric_scores, byte_table, shortlist


@pytest.mark.parametrize("dim", [8, 64, 384, 768])
@pytest.mark.parametrize("rows", [1, 7, 500])
def test_table_scores_equal_unpacked_signs(dim: int, rows: int) -> None:
    rng = np.random.default_rng(dim * 1000 + rows)
    x = rng.standard_normal((rows, dim)).astype(np.float32)
    q = rng.standard_normal(dim).astype(np.float32)
    codes = binarize(x)
    got = asymmetric_scores(q, codes)
    want = unpack_signs(codes, dim) @ q
    assert got.shape == (rows,) and got.dtype == np.float32
    assert np.allclose(got, want, rtol=1e-5, atol=1e-4 * np.sqrt(dim))
    # and it is what its name says: q . sign(x)
    assert np.allclose(got, np.where(x > 0, 1.0, -1.0) @ q, rtol=1e-5, atol=1e-4 * np.sqrt(dim))


def test_byte_table_entries() -> None:
    q = np.arange(16, dtype=np.float32)  # two bytes
    t = byte_table(q)
    assert t.shape == (512,)
    assert t[0] == 0 and t[256] == 0  # no bit set
    assert t[0b10000000] == q[0] and t[0b00000001] == q[7]  # most significant bit first, like packbits
    assert t[255] == q[:8].sum() and t[256 + 255] == q[8:].sum()
    assert t[256 + 0b10100000] == q[8] + q[10]


def test_empty_pool_and_gathered_codes() -> None:
    q = np.ones(64, np.float32)
    assert asymmetric_scores(q, np.empty((0, 8), np.uint8)).shape == (0,)
    rng = np.random.default_rng(3)
    codes = binarize(rng.standard_normal((50, 64)).astype(np.float32))
    sub = codes[[4, 2, 40]]  # a gather, as the searcher passes it
    assert np.allclose(asymmetric_scores(q, sub), unpack_signs(sub, 64) @ q, atol=1e-4)
    order = shortlist(asymmetric_scores(q, codes), 5)
    full = unpack_signs(codes, 64) @ q
    assert np.allclose(np.sort(full)[::-1][:5], full[order], atol=1e-4)
