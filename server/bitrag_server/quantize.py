"""float32 -> packed sign bits. One function for documents and queries, so both are binarized the
same way: bit i is 1 where x[i] > thresholds[i] (thresholds are zeros unless learned), packed
big-endian with `np.packbits` (dimension must be a multiple of 8)."""

from __future__ import annotations

import numpy as np


def binarize(x: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Pack the sign bits of `x` (`[n, d]` or `[d]` float32) into `[n, d/8]` (or `[d/8]`) uint8."""
    if x.shape[-1] % 8:
        raise ValueError(f"dimension {x.shape[-1]} is not a multiple of 8")
    t = 0.0 if thresholds is None else thresholds
    return np.packbits(x > t, axis=-1)


def unpack_signs(codes: np.ndarray, dim: int) -> np.ndarray:
    """Inverse view of `binarize`: `[n, d/8]` uint8 -> `[n, d]` float32 in {-1, +1}."""
    bits = np.unpackbits(codes, axis=-1, count=dim)
    return bits.astype(np.float32) * 2.0 - 1.0


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between packed codes `a` `[n, B]` and one code `b` `[B]` -> `[n]`."""
    return np.unpackbits(np.bitwise_xor(a, b), axis=-1).sum(axis=-1)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (float32). Zero rows are the caller's to reject."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)
