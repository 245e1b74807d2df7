"""What a legacy vector must be to be imported as it is, and what happens when it is not.

bitrag ranks by cosine similarity over unit vectors (inner product == cosine) and packs one sign
bit per dimension into bytes. So:
  - dimension: a multiple of 8 (and at most 32768). Anything else is refused: padding with zeros
    would keep every score but change the vectors (and every query) the application sends.
  - norm: a vector whose norm is within UNIT_TOLERANCE of 1 is stored bit for bit as the source
    returned it. Any other vector is refused unless the user passes --normalize: then v / |v| is
    stored (computed in float64, rounded once to float32), and verification compares against that.
  - metric: on unit vectors cosine, inner product and L2 rank identically (|a-b|^2 = 2 - 2 cos), so
    a COSINE, IP or L2 store is imported unchanged; its scores are reported as cosine similarities.
    For unnormalised vectors, IP and L2 rank differently from cosine: --normalize then changes
    the ranking, and `bitrag migrate shadow` measures by how much before anyone switches.
Non-finite values and zero vectors are refused (they have no direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNIT_TOLERANCE = 1e-5  # the server keeps vectors this close to unit norm as sent (engine.parse_vector)
MAX_DIMENSION = 32768


class PolicyError(Exception):
    """A vector (or the source's shape) that is not imported without the user's say-so."""


def check_dimension(dim: int) -> None:
    if dim <= 0:
        raise PolicyError("the source has no vectors (dimension 0)")
    if dim % 8 or dim > MAX_DIMENSION:
        raise PolicyError(
            f"dimension {dim}: bitrag packs one sign bit per dimension into bytes, so it needs a multiple of 8 "
            f"(at most {MAX_DIMENSION}). Zero-padding would keep every score but change the vectors (and the "
            "queries your application sends), so it is not done for you: re-embed, or pad both yourself."
        )


def unit(v: np.ndarray) -> np.ndarray:
    """Rows divided by their norms: accumulated in float64 per row, rounded once to float32 (the
    same row gives the same bits in any batch)."""
    v64 = np.asarray(v, dtype=np.float64)
    return (v64 / norms(v64)[:, None]).astype(np.float32)


def norms(v: np.ndarray) -> np.ndarray:
    """Row norms `[n]`, each a float64 sum over its own row (no matrix product: batch-independent)."""
    v64 = np.asarray(v, dtype=np.float64)
    return np.sqrt((v64 * v64).sum(axis=1))


def _why(metric: str) -> str:
    if metric == "cosine":
        return ("The store ranks by cosine, which ignores the norm, so --normalize keeps its ranking and scores; "
                "the stored vectors are then v/|v|, not the source's bits")
    what = "inner product" if metric == "ip" else "Euclidean distance"
    return (f"The store ranks by {what}, which for vectors of different norms is not the cosine ranking bitrag "
            "uses: --normalize imports v/|v| and changes the ranking; run `bitrag migrate shadow` to measure "
            "the agreement before switching")


@dataclass
class VectorPolicy:
    metric: str
    normalize: bool = False
    normalised_rows: int = 0
    min_norm: float = float("inf")
    max_norm: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.metric in ("ip", "l2"):
            self.notes.append(
                f"the legacy store's metric is {self.metric.upper()}: on unit vectors it ranks exactly as "
                "cosine (|a-b|^2 = 2 - 2 cos); bitrag reports cosine similarities, the shadow report converts "
                "the legacy scores to compare"
            )

    def apply(self, ids: list[str], vectors: np.ndarray) -> np.ndarray:
        """The rows to store for a batch `[n, d]`, or PolicyError naming the first offending row."""
        if vectors.size == 0:
            return vectors
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PolicyError(f"row {ids[i]!r}: non-finite values (NaN or inf) cannot be ranked")
        n = norms(vectors)
        if (n == 0).any():
            raise PolicyError(f"row {ids[int(np.flatnonzero(n == 0)[0])]!r}: a zero vector has no direction")
        self.min_norm = min(self.min_norm, float(n.min()))
        self.max_norm = max(self.max_norm, float(n.max()))
        off = np.abs(n - 1.0) > UNIT_TOLERANCE
        if not off.any():
            return vectors
        if not self.normalize:
            i = int(np.flatnonzero(off)[0])
            raise PolicyError(
                f"row {ids[i]!r} has norm {n[i]:.6g}, and bitrag stores unit vectors (cosine). {_why(self.metric)}. "
                "Nothing was converted."
            )
        self.normalised_rows += int(off.sum())
        out = vectors.copy()
        out[off] = unit(vectors[off])
        return out

    def expected(self, vectors: np.ndarray) -> np.ndarray:
        """What the import stores for these source rows (verification)."""
        if not self.normalize or vectors.size == 0:
            return vectors
        off = np.abs(norms(vectors) - 1.0) > UNIT_TOLERANCE
        out = vectors.copy()
        out[off] = unit(vectors[off])
        return out

    def summary(self) -> dict[str, object]:
        return {
            "metric": self.metric, "normalize": self.normalize, "normalised_rows": self.normalised_rows,
            "min_norm": None if self.max_norm == 0 else round(self.min_norm, 7),
            "max_norm": None if self.max_norm == 0 else round(self.max_norm, 7), "notes": list(self.notes),
        }
