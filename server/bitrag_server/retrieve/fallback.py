"""Stage 5 (AUTO below the threshold): the full-precision fallbacks, each a function that returns
an outcome or None (nothing to offer; the next fallback in the collection's order runs).

  widen       wider pools: Milvus searches with WIDEN_STEP x the pool (and x the IVF lists probed,
              since a larger pool from the same lists cannot find a row in an unprobed list), up to
              `widen_max_rows` candidates, each continuing the stopping rule from the rows already
              read; then, for an unfiltered query on a collection where it is cheaper than an exact
              scan, one pass over every code in RAM (no IVF misses). A widened answer stands when it
              is confident, or (widen_accept_stable) when a 4x wider pool left it unchanged.
  exact       the exact scan of the float file; bounded in time: skipped where the measured scan
              takes longer than `exact_fallback_max_ms` (10M rows: 12 s from disk), and the widened
              answer stands
  collection  the collection's legacy float32 store during a migration (migrate/live.py), or a float32
              collection in bitrag's Milvus; skipped (None) when legacy reads are off or it cannot answer
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..domain import Hit
from ..errors import FailedPrecondition
from ..stores.binary_index import BinaryIndex
from .exact import exact_scores
from .rescore import Rescored
from .topk import top_positions

WIDEN_STEP = 4


@dataclass
class ExactAnswer:
    rows: np.ndarray  # [k]
    scores: np.ndarray  # [k]
    scanned: int  # float rows scored


def widened_params(search_params: dict[str, int], nlist: int | None, factor: int) -> dict[str, int]:
    """The index's search parameters for a pool `factor` times the first: an IVF probes `factor`
    times more lists (up to all of them)."""
    params = dict(search_params)
    if factor > 1 and "nprobe" in params:
        params["nprobe"] = min(int(nlist or params["nprobe"]), int(params["nprobe"]) * factor)
    return params


def exact(index: BinaryIndex, milvus: str, floats, live, query: np.ndarray, top_k: int, expr: str,  # noqa: ANN001
          check=None, lap=None, block_rows: int = 65536) -> ExactAnswer:  # noqa: ANN001
    """Exact top-k over live rows matching `expr`: every float row is scored; the live flags
    (`live`, a LiveStore: deleted rows stay in the file) say which rows are live, Milvus which
    match a filter. `lap(stage)` times the scan ("exact_scan") and the liveness / filter check
    ("exact_verify")."""
    scores = exact_scores(query, floats, block_rows, check=check)  # [N]
    if lap is not None:
        lap("exact_scan")
    n = scores.shape[0]
    if expr:
        allowed = index.matching_rows(milvus, expr)
        allowed = allowed[allowed < n]
        rows = allowed[top_positions(scores[allowed], top_k)]
    else:
        want = top_k * 2 + 16
        while True:
            cand = top_positions(scores, want)
            rows = cand[live.mask(cand)][:top_k]
            if rows.size >= top_k or want >= n:
                break
            want *= WIDEN_STEP
    if lap is not None:
        lap("exact_verify")
    return ExactAnswer(rows, scores[rows] if rows.size else np.empty(0, np.float32), n)


def from_collection(index: BinaryIndex, gate, query: np.ndarray, top_k: int, expr: str, *,  # noqa: ANN001
                    legacy=None, collection: str = "", filter_text: str = "") -> list[Hit] | None:  # noqa: ANN001
    """Hits from the collection's legacy store (`gate.legacy_store`, through `legacy`, a
    migrate.live.LegacyReads), else from a float32 Milvus collection in bitrag's own Milvus
    (`gate.fallback_collection`). None: skipped (legacy reads switched off, or the legacy store
    cannot answer), and the chain goes on."""
    if legacy is not None and (gate.legacy_store.source or not legacy.enabled):
        return legacy.fallback(collection, gate.legacy_store, query, top_k, filter_text)
    if not gate.fallback_collection:
        raise FailedPrecondition("gate.fallback_collection is not set", field="gate.fallback_collection")
    res = index.search_float(gate.fallback_collection, gate.fallback_vector_field or "vector", query, top_k, expr)
    return [
        Hit(
            chunk_id=str(r.get("chunk_id") or r["id"]),
            document_id=str(r.get("doc_id") or r.get("document_id") or r.get("chunk_id") or r["id"]),
            score=float(r["distance"]),
            text=str(r.get("text") or ""),
            metadata=r.get("metadata") or {},
            hamming_distance=0,
        )
        for r in res
    ]


def unchanged(a: Rescored, b: Rescored) -> bool:
    """Did a wider pool leave the top-k as it was?"""
    return set(a.rows.tolist()) == set(b.rows.tolist())
