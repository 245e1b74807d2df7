"""The search path per mode, and the gate with its fallbacks. Runs in a worker thread.

  RESCORED / AUTO   Hamming pool (Milvus, k * oversample * hamming_pool_factor codes)
                    -> asymmetric shortlist in RAM (k * oversample rows)
                    -> exact float32 rescoring (rows read from disk) -> top k
                    -> confidence (gate.py)
  AUTO, below the threshold, the collection's fallbacks in order:
      widen        the same with 4x larger pools (and 4x more IVF lists probed), until the
                   answer is unchanged by a 4x widening (and confident, unless
                   widen_accept_stable), or widen_max_rows
      exact        exact scan of the float32 file, liveness + filter checked in Milvus
      collection   a float32 Milvus collection (a legacy RAG index, mid-migration)
  BINARY_ONLY       Hamming order, score = 1 - 2 * hamming / d
  EXACT             the exact scan
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics
from .collection import Collection, QuerySample
from .config import Settings
from .domain import Diagnostics, Hit, SearchResult
from .errors import FailedPrecondition
from .quantize import binarize, hamming
from .retrieve.asymmetric import asymmetric_scores, shortlist
from .retrieve.candidates import hamming_candidates
from .retrieve.exact import exact_scores
from .retrieve.gate import Z_COVERED, confidence_feature
from .retrieve.rescore import rescore
from .retrieve.topk import top_positions
from .stores.binary_index import BinaryIndex
from .stores.catalog import IndexConfig

WIDEN_STEP = 4


class Timer:
    """Per-stage wall time in microseconds, in pipeline order of first appearance; a stage that
    runs again (the attempts of a widen fallback) adds to its total."""

    def __init__(self) -> None:
        self.stages: dict[str, int] = {}
        self._t0 = self._last = time.perf_counter_ns()

    def lap(self, stage: str) -> None:
        now = time.perf_counter_ns()
        self.stages[stage] = self.stages.get(stage, 0) + (now - self._last) // 1000
        self._last = now

    def total_us(self) -> int:
        return (time.perf_counter_ns() - self._t0) // 1000


@dataclass
class Attempt:
    rows: np.ndarray  # [k] row ids, best first
    scores: np.ndarray  # [k]
    z: float = Z_COVERED
    pools: list[int] = field(default_factory=list)
    rescored: int = 0  # float rows scored
    covered: bool = False  # the pool held every eligible row


def _exhaustive(ix: IndexConfig, search_params: dict[str, int]) -> bool:
    """Does a search visit every row? BIN_FLAT always; BIN_IVF_FLAT when it probes every list."""
    if ix.type == "BIN_FLAT":
        return True
    nlist = ix.build_params.get("nlist")
    return ix.type == "BIN_IVF_FLAT" and nlist is not None and search_params.get("nprobe", 0) >= nlist


def widened_params(ix: IndexConfig, factor: int) -> dict[str, int]:
    """The index's search parameters for a pool `factor` times the first: an IVF probes `factor`
    times more lists (up to all of them). A larger pool from the same lists cannot find a row in a
    list that was never probed, so a widened answer would look stable while missing it."""
    params = dict(ix.search_params)
    if factor > 1 and "nprobe" in params:
        nlist = int(ix.build_params.get("nlist") or params["nprobe"])
        params["nprobe"] = min(nlist, int(params["nprobe"]) * factor)
    return params


class Searcher:
    def __init__(self, index: BinaryIndex, settings: Settings) -> None:
        self.index = index
        self.settings = settings

    # ---- stages --------------------------------------------------------------------------------

    def rescored(
        self, c: Collection, query: np.ndarray, top_k: int, rescore_rows: int, expr: str, timer: Timer,
        widen: int = 1,
    ) -> Attempt:
        """One attempt; `widen` > 1: a widened one (IVF probes that many times more lists)."""
        s = self.settings
        pool = min(rescore_rows * s.hamming_pool_factor, s.max_candidates)
        params = widened_params(c.manifest.index, widen)
        cands = hamming_candidates(self.index, c.milvus, query, c.thresholds, pool, expr, params)
        # Fewer codes than asked for: Milvus returned every eligible row (exhaustive index only).
        covered = cands.ids.size < pool and _exhaustive(c.manifest.index, params)
        timer.lap("candidates")
        codes = c.codes.gather(cands.ids)  # [H, d/8], page cache
        asym = asymmetric_scores(query, codes)  # [H]
        # When the pool holds every eligible row (a small collection, a selective filter), rescoring
        # all of them (at most hamming_pool_factor x the budget) makes the answer exact; otherwise
        # the shortlist keeps the budget. A cut shortlist is never "covered": the bound below then
        # comes from the rows it left out.
        keep = shortlist(asym, cands.ids.size if covered else rescore_rows)  # best asymmetric first
        timer.lap("asymmetric")
        rows = c.floats.gather(cands.ids[keep])  # [R, d], one sorted read
        order, exact = rescore(query, rows, top_k)  # exact: [R] scores of every rescored row
        scores = exact[order]
        timer.lap("rescore")
        if covered or keep.size == cands.ids.size == 0:
            bound = None
        elif keep.size < asym.size:
            rest = np.ones(asym.size, bool)
            rest[keep] = False
            bound = float(asym[rest].max())
        else:  # everything returned was rescored, but rows remain outside the pool
            bound = float(asym[keep].min())
        z = Z_COVERED
        if bound is not None and scores.size:
            z = confidence_feature(asym[keep], exact, float(scores[-1]), bound) if scores.size >= top_k else 0.0
        timer.lap("gate")  # the confidence feature; the calibration lookup adds to it
        return Attempt(cands.ids[keep][order], scores, z, [pool], int(keep.size), covered)

    def binary_only(self, c: Collection, query: np.ndarray, top_k: int, expr: str, timer: Timer) -> Attempt:
        cands = hamming_candidates(
            self.index, c.milvus, query, c.thresholds, top_k, expr, c.manifest.index.search_params
        )
        timer.lap("candidates")
        scores = 1.0 - 2.0 * cands.distances.astype(np.float32) / c.dim
        return Attempt(cands.ids, scores, 0.0, [top_k], 0)

    def exact(self, c: Collection, query: np.ndarray, top_k: int, expr: str, timer: Timer) -> Attempt:
        """Exact top-k over live rows matching `expr`: every float row is scored; Milvus says which
        rows are live (deleted rows stay in the file) and which match the filter."""
        scores = exact_scores(query, c.floats)  # [N]
        timer.lap("exact_scan")
        n = scores.shape[0]
        if expr:
            allowed = self.index.matching_rows(c.milvus, expr)
            allowed = allowed[allowed < n]
            pos = top_positions(scores[allowed], top_k)
            rows = allowed[pos]
        else:
            want = top_k * 2 + 16
            while True:
                cand = top_positions(scores, want)
                live = self.index.live_rows(c.milvus, cand.tolist())
                rows = np.asarray([r for r in cand if int(r) in live], dtype=np.int64)[:top_k]
                if rows.size >= top_k or want >= n:
                    break
                want *= WIDEN_STEP
        timer.lap("exact_verify")
        return Attempt(rows, scores[rows] if rows.size else np.empty(0, np.float32), Z_COVERED, [], n, True)

    def from_collection(self, c: Collection, query: np.ndarray, top_k: int, expr: str, timer: Timer) -> list[Hit]:
        g = c.manifest.gate
        if not g.fallback_collection:
            raise FailedPrecondition("gate.fallback_collection is not set", field="gate.fallback_collection")
        res = self.index.search_float(g.fallback_collection, g.fallback_vector_field or "vector", query, top_k, expr)
        timer.lap("fallback_collection")
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

    # ---- the path ------------------------------------------------------------------------------

    def search(
        self,
        c: Collection,
        query: np.ndarray,
        *,
        top_k: int,
        oversample: int,
        expr: str,
        mode: str,
        threshold_override: float | None,
        timer: Timer,
        sample: bool = True,
    ) -> SearchResult:
        cal = c.calibration
        threshold = threshold_override if threshold_override is not None else c.threshold()
        # An explicit threshold of 1 (per request or fixed in the gate) sends every AUTO query to the
        # fallback. A derived one of 1 (uncalibrated, or a target no confidence reaches) still lets
        # through answers that are provably exact (confidence 1: the pool held every eligible row).
        always = threshold >= 1.0 and (threshold_override is not None or c.manifest.gate.confidence_threshold > 0)

        def passes(conf: float) -> bool:
            return conf >= threshold and not always
        pools: list[int] = []
        examined = 0
        hits: list[Hit] | None = None
        if mode == "EXACT":
            att, path, conf = self.exact(c, query, top_k, expr, timer), "EXACT", 1.0
            examined = att.rescored
        elif mode == "BINARY_ONLY":
            att, path, conf = self.binary_only(c, query, top_k, expr, timer), "BINARY_ONLY", 0.0
            pools = att.pools
        else:
            rescore_rows = top_k * oversample
            att = self.rescored(c, query, top_k, rescore_rows, expr, timer)
            pools, examined = list(att.pools), att.rescored
            conf = cal.confidence(att.z)
            path = "BINARY_RESCORED"
            if sample and not expr and self.settings.calibration_query_rate > 0:
                if np.random.random() < self.settings.calibration_query_rate:
                    c.pending.append(QuerySample(query.copy(), top_k, att.z, att.rows.copy()))
            timer.lap("gate")
            if mode == "AUTO" and not passes(conf):
                for strategy in c.manifest.gate.fallback:
                    metrics.FALLBACKS.labels(strategy).inc()
                    if strategy == "widen":
                        # A fallback promises (near) full precision: the threshold is derived
                        # assuming fallback answers are exact. A widened answer stands when it is
                        # provably exact (covered), or unchanged by the last 4x widening and either
                        # confident or (widen_accept_stable) simply stable: a 4x larger pool and
                        # shortlist found nothing better. Measured on synthetic mpnet-like vectors
                        # (no clusters, the hard case), stable answers kept recall@10 >= 0.998
                        # (bench/README.md). Else the next fallback runs.
                        path = "FALLBACK_WIDENED"
                        limit = max(c.manifest.gate.widen_max_rows, rescore_rows)
                        stable_stands = self.settings.widen_accept_stable and not always
                        settled = False
                        widen = 1
                        while not att.covered and rescore_rows < limit:
                            rescore_rows = min(rescore_rows * WIDEN_STEP, limit)
                            widen *= WIDEN_STEP
                            prev = set(att.rows.tolist())
                            att = self.rescored(c, query, top_k, rescore_rows, expr, timer, widen)
                            pools += att.pools
                            examined += att.rescored
                            conf = cal.confidence(att.z)
                            settled = set(att.rows.tolist()) == prev and (stable_stands or passes(conf))
                            if settled:
                                break
                        timer.lap("widen")
                        if settled or (att.covered and not always):
                            if att.covered:
                                conf = 1.0
                            break
                    elif strategy == "exact":
                        att, path, conf = self.exact(c, query, top_k, expr, timer), "FALLBACK_EXACT", 1.0
                        examined += att.rescored
                        break
                    elif strategy == "collection":
                        hits = self.from_collection(c, query, top_k, expr, timer)
                        path, conf = "FALLBACK_COLLECTION", 1.0
                        break
        if hits is None:
            hits = self._hits(c, query, att, timer)
        total_us = timer.total_us()
        metrics.observe_search(path, total_us / 1e6, conf if mode in ("AUTO", "RESCORED") else None, examined)
        return SearchResult(
            hits,
            Diagnostics(
                path=path, candidates_examined=examined, oversample=oversample,
                timings_us=list(timer.stages.items()), total_us=total_us, mode=mode,
                confidence=float(conf), threshold=float(threshold), pools=pools, calibrated=cal.calibrated,
            ),
        )

    def _hits(self, c: Collection, query: np.ndarray, att: Attempt, timer: Timer) -> list[Hit]:
        """The hits' records from the record store: no Milvus round trip. Every row here was live in
        Milvus when this search ran (its candidates, or the exact scan's liveness check)."""
        fetched: list[dict[str, Any]] = c.records.get(att.rows.tolist())
        qcode = binarize(query, c.thresholds)
        ham = hamming(c.codes.gather(att.rows), qcode) if att.rows.size else np.empty(0, np.int64)
        timer.lap("fetch")
        return [
            Hit(
                chunk_id=r["chunk_id"], document_id=r["doc_id"], score=float(score), text=r["text"],
                metadata=r.get("metadata") or {}, hamming_distance=int(h),
            )
            for r, score, h in zip(fetched, att.scores.tolist(), ham.tolist())
        ]
