"""The search path of one query, as a sequence of stage calls (stage order: retrieve/__init__.py).
Runs in a worker thread.

  AUTO         route: a collection whose exact scan is cheaper than the binary path (measured
               at calibration; before that, timed on served queries) goes straight to the exact
               scan. Else the binary path:
               the Hamming pool (the measured pool size) from its measured source: ONE Milvus
               search (at the plan's nprobe), or, unfiltered, a scan of every code in RAM -> the
               middle tier ranks the pool in RAM -> float rows read best estimate first until the
               gate is confident (the stopping rule) -> below the threshold once the pool is
               exhausted, the collection's fallbacks in order (widen: a second pool only now, then
               all codes in RAM; exact; collection). The codes and floats in RAM and on disk still
               hold deleted rows: a RAM pool and the exact scan keep the rows the live flags mark
               (`live.u8`), with no Milvus round trip.
  RESCORED     the binary path with a fixed float budget (k x oversample rows), no gate
  BINARY_ONLY  Hamming order, score = 1 - 2 * hamming / d
  EXACT        the exact scan
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import metrics
from ..collection import Collection, QuerySample
from ..config import Settings
from ..domain import Diagnostics, Fallback, Hit, Mode, Route, SearchPath, SearchResult, Source
from ..errors import DeadlineExceeded
from ..quantize import binarize, hamming
from ..stores.binary_index import BinaryIndex, Candidates
from . import fallback
from .candidates import SCANNER, hamming_candidates, live_candidates
from .gate import Z_COVERED
from .rescore import Rescored, rescore_fixed, rescore_until


class Timer:
    """Per-stage wall time in microseconds, in pipeline order of first appearance; a stage that
    runs again (a widened pool) adds to its total."""

    def __init__(self) -> None:
        self.stages: dict[str, int] = {}
        self._t0 = self._last = time.perf_counter_ns()

    def lap(self, stage: str) -> None:
        now = time.perf_counter_ns()
        self.stages[stage] = self.stages.get(stage, 0) + (now - self._last) // 1000
        self._last = now

    def total_us(self) -> int:
        return (time.perf_counter_ns() - self._t0) // 1000


@dataclass(frozen=True)
class GateRule:
    """When an answer stands: its confidence reaches `threshold`, unless `always` (an explicit
    threshold of 1, per request or fixed in the collection's gate) sends every AUTO query on. A
    derived threshold of 1 (uncalibrated, or a target no confidence reaches) still accepts an
    answer that is provably exact (confidence 1: the pool held every eligible row)."""

    threshold: float
    always: bool

    @classmethod
    def of(cls, c: Collection, override: float | None) -> GateRule:
        t = override if override is not None else c.threshold()
        return cls(t, t >= 1.0 and (override is not None or c.manifest.gate.confidence_threshold > 0))

    def passes(self, confidence: float) -> bool:
        return confidence >= self.threshold and not self.always


@dataclass
class Outcome:
    """What a path produced: the answer and what it cost."""

    rows: np.ndarray  # [k] row ids, best first
    scores: np.ndarray  # [k]
    path: SearchPath
    confidence: float
    examined: int = 0  # float rows scored
    pools: list[int] = field(default_factory=list)
    milvus_calls: int = 0
    tier_scored: int = 0
    hits: list[Hit] | None = None  # set by the collection fallback (rows live elsewhere)
    rescored: Rescored | None = None


@dataclass
class Query:
    """One search's request-level values."""

    vector: np.ndarray  # [d]
    top_k: int
    oversample: int
    expr: str
    mode: Mode
    gate: GateRule
    timer: Timer
    cancel: threading.Event | None = None
    filter_text: str = ""  # the request's filter, for a legacy store (migrate/legacy_filter.py)
    ram_scan: Candidates | None = None  # the nearest `ram_scan_limit` live rows by their codes in RAM, nearest first
    ram_scan_limit: int = 0
    ram_scan_all: bool = False  # that scan reached every code (it holds every live row)

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DeadlineExceeded("the caller cancelled or its deadline passed: search stopped")


def _exhaustive(c: Collection, params: dict[str, int]) -> bool:
    """Does a search visit every row? BIN_FLAT always; BIN_IVF_FLAT when it probes every list."""
    ix = c.manifest.index
    if ix.type == "BIN_FLAT":
        return True
    nlist = ix.build_params.get("nlist")
    return ix.type == "BIN_IVF_FLAT" and nlist is not None and params.get("nprobe", 0) >= nlist


def _boundary(est: np.ndarray, dists: np.ndarray) -> float:
    """An estimate standing for the rows outside a Hamming pool: the best estimate among the pool's
    farthest codes (the last two distances), which rows beyond them resemble at best."""
    shell = dists >= dists.max() - 1
    return float(est[shell].max())


class Searcher:
    def __init__(self, index: BinaryIndex, settings: Settings, legacy: Any = None) -> None:
        self.index = index
        self.settings = settings
        self.legacy = legacy  # migrate.live.LegacyReads: a collection's legacy store (the collection fallback)

    # ---- stages ----------------------------------------------------------------------------------

    def search_params(self, c: Collection, factor: int = 1) -> dict[str, int]:
        """The index's search parameters with the plan's nprobe, `factor` x more lists when widened."""
        ix = c.manifest.index
        params = dict(ix.search_params)
        if c.plan.nprobe and "nprobe" in params:
            params["nprobe"] = c.plan.nprobe
        return fallback.widened_params(params, ix.build_params.get("nlist"), factor)

    def pool(self, c: Collection, q: Query) -> int:
        s = self.settings
        default = q.top_k * q.oversample * s.hamming_pool_factor
        return c.plan.pool_for(q.top_k, default, s.max_candidates)

    def widen_cap(self, c: Collection, pool: int) -> int:
        """The widest pool widening asks for."""
        return min(self.settings.max_candidates, max(c.manifest.gate.widen_max_rows, pool))

    def from_ram(self, c: Collection, q: Query) -> bool:
        """Does this query's pool come from the codes in RAM? (Settings.candidate_source, or the
        plan's measured source when it is "auto"; never for a filtered query.)"""
        source = self.settings.candidate_source
        ram = source == Source.RAM or (source == "auto" and c.plan.source == Source.RAM)
        return ram and not q.expr

    def candidates(self, c: Collection, q: Query, pool: int, factor: int = 1, scan: int = 0) -> tuple[Candidates, bool]:
        """One pool, from Milvus (one search) or from the codes in RAM: (candidates, covered: the
        pool held every eligible row). A RAM scan asks for max(pool, `scan`) codes and keeps them
        for the query: a wider pool later (widen) is a slice of it, not another scan."""
        q.check()
        if self.from_ram(c, q):
            if q.ram_scan is None or q.ram_scan_limit < pool:
                q.ram_scan_limit = max(pool, scan)
                q.ram_scan, q.ram_scan_all = live_candidates(c.codes, c.live, q.vector, c.thresholds, q.ram_scan_limit)
            cands = Candidates(q.ram_scan.ids[:pool], q.ram_scan.distances[:pool])
            q.timer.lap("candidates")
            return cands, q.ram_scan_all and cands.ids.size == q.ram_scan.ids.size
        params = self.search_params(c, factor)
        cands = hamming_candidates(self.index, c.milvus, q.vector, c.thresholds, pool, q.expr, params)
        q.timer.lap("candidates")
        return cands, cands.ids.size < pool and _exhaustive(c, params)

    def binary(self, c: Collection, q: Query, fixed: bool) -> Outcome:
        """Stages 1-4: one Milvus pool, the middle tier, float rows until the gate is confident
        (`fixed`: a fixed budget of k x oversample rows instead)."""
        pool = self.pool(c, q)
        # AUTO from RAM: the scan keeps the widest pool widening may want (its cost hardly grows with k)
        cands, covered = self.candidates(c, q, pool, scan=self.widen_cap(c, pool) if q.mode == Mode.AUTO else 0)
        tier = c.middle_tier()
        est = tier.scores(q.vector, cands.ids)  # [P]
        q.timer.lap("tier")
        boundary = None if covered or cands.ids.size == 0 else _boundary(est, cands.distances)
        budget = q.top_k * q.oversample
        if covered:  # the pool is every eligible row: rescoring all of it (<= the pool) is exact
            budget = max(budget, int(cands.ids.size))
        if fixed or q.gate.always:  # always: no answer stands, so no reason to read past the budget
            res = rescore_fixed(q.vector, cands.ids, est, c.floats, q.top_k, budget, boundary)
        else:
            cal = c.calibration
            res = rescore_until(q.vector, cands.ids, est, c.floats, q.top_k, first=q.top_k * q.oversample,
                                accept=lambda z: q.gate.passes(cal.confidence(z)), boundary=boundary, check=q.check)
        q.timer.lap("rescore")
        conf = c.calibration.confidence(res.z)
        q.timer.lap("gate")
        ram = self.from_ram(c, q)
        return Outcome(res.rows, res.scores, SearchPath.BINARY_RESCORED, conf, res.read, [int(cands.ids.size)],
                       0 if ram else 1, int(cands.ids.size), rescored=res)

    def binary_only(self, c: Collection, q: Query) -> Outcome:
        cands, _ = self.candidates(c, q, q.top_k)
        scores = 1.0 - 2.0 * cands.distances.astype(np.float32) / c.dim
        ram = self.from_ram(c, q)
        return Outcome(cands.ids, scores, SearchPath.BINARY_ONLY, 0.0, 0, [int(cands.ids.size)], 0 if ram else 1)

    def exact(self, c: Collection, q: Query, path: SearchPath) -> Outcome:
        a = fallback.exact(self.index, c.milvus, c.floats, c.live, q.vector, q.top_k, q.expr, check=q.check,
                           lap=q.timer.lap, block_rows=self.settings.exact_block_rows)
        return Outcome(a.rows, a.scores, path, 1.0, a.scanned)

    def widen(self, c: Collection, q: Query, out: Outcome) -> tuple[Outcome, bool]:
        """Wider pools from Milvus, then (unfiltered, where cheaper than an exact scan) every code in
        RAM; each continues the stopping rule from the rows already read. Returns the widest answer
        and whether it stands (confident, provably exact, or unchanged by the last widening)."""
        s = self.settings
        res = out.rescored
        if res is None:
            return out, False
        cal = c.calibration
        cap = self.widen_cap(c, out.pools[-1])
        tier = c.middle_tier()
        pool, factor = out.pools[-1], 1
        pools, calls, scored = list(out.pools), out.milvus_calls, out.tier_scored
        ram = self.from_ram(c, q)

        def accept(z: float) -> bool:
            return q.gate.passes(cal.confidence(z))

        def outcome(r: Rescored, confidence: float) -> Outcome:
            return Outcome(r.rows, r.scores, SearchPath.FALLBACK_WIDENED, confidence, r.read, pools, calls, scored,
                           rescored=r)

        while pool < cap:
            pool, factor = min(cap, pool * fallback.WIDEN_STEP), factor * fallback.WIDEN_STEP
            cands, covered = self.candidates(c, q, pool, factor, scan=cap)
            calls += 0 if ram else 1
            pools.append(int(cands.ids.size))
            est = tier.scores(q.vector, cands.ids)
            scored += int(cands.ids.size)
            boundary = None if covered or cands.ids.size == 0 else _boundary(est, cands.distances)
            prev = res
            res = rescore_until(q.vector, cands.ids, est, c.floats, q.top_k, first=q.top_k * q.oversample,
                                accept=accept, boundary=boundary, done=res, check=q.check)
            q.timer.lap("widen")
            if res.covered:
                return outcome(res, 1.0), not q.gate.always
            if accept(res.z) or (s.widen_accept_stable and not q.gate.always and fallback.unchanged(prev, res)):
                return outcome(res, cal.confidence(res.z)), True
        plan = c.plan
        # (a RAM pool is already every code's nearest: the loop above scanned them all)
        if not ram and not q.expr and plan.scan_us and (not plan.exact_us or plan.scan_us < plan.exact_us):
            every, _ = live_candidates(c.codes, c.live, q.vector, c.thresholds, cap)
            ids, dists = every.ids, every.distances
            pools.append(int(ids.size))
            est = tier.scores(q.vector, ids)
            scored += int(ids.size)
            prev = res
            res = rescore_until(q.vector, ids, est, c.floats, q.top_k, first=q.top_k * q.oversample, accept=accept,
                                boundary=_boundary(est, dists) if ids.size else None, done=res, check=q.check)
            q.timer.lap("widen_scan")
            if accept(res.z) or (s.widen_accept_stable and not q.gate.always and fallback.unchanged(prev, res)):
                return outcome(res, cal.confidence(res.z)), True
        return outcome(res, cal.confidence(res.z)), False

    def fallbacks(self, c: Collection, q: Query, out: Outcome) -> Outcome:
        """AUTO below the threshold: the collection's fallbacks in order; the first whose answer
        stands wins. None did: the last (widest) answer stands, with its confidence."""
        for strategy in c.manifest.gate.fallback:
            metrics.FALLBACKS.labels(strategy).inc()
            if strategy == Fallback.WIDEN:
                out, stands = self.widen(c, q, out)
                if stands:
                    return out
            elif strategy == Fallback.EXACT:
                limit = self.settings.exact_fallback_max_ms * 1000
                if not c.plan.exact_us or c.plan.exact_us <= limit:
                    got = self.exact(c, q, SearchPath.FALLBACK_EXACT)
                    got.examined += out.examined
                    got.pools, got.milvus_calls = out.pools, out.milvus_calls
                    return got
            elif strategy == Fallback.COLLECTION:
                hits = fallback.from_collection(self.index, c.manifest.gate, q.vector, q.top_k, q.expr,
                                                legacy=self.legacy, collection=c.name, filter_text=q.filter_text)
                q.timer.lap("fallback_collection")
                if hits is None:  # skipped: legacy reads off, or the legacy store cannot answer
                    continue
                return Outcome(np.empty(0, np.int64), np.empty(0, np.float32), SearchPath.FALLBACK_COLLECTION, 1.0,
                               out.examined, out.pools, out.milvus_calls + 1, out.tier_scored, hits=hits)
        return out

    # ---- the path --------------------------------------------------------------------------------

    def search(
        self,
        c: Collection,
        query: np.ndarray,
        *,
        top_k: int,
        oversample: int,
        expr: str,
        mode: Mode,
        threshold_override: float | None,
        timer: Timer,
        sample: bool = True,
        cancel: threading.Event | None = None,
        filter_text: str = "",
    ) -> SearchResult:
        q = Query(query, top_k, oversample, expr, Mode(mode), GateRule.of(c, threshold_override), timer, cancel,
                  filter_text)
        with SCANNER.searching():  # a RAM scan is split per core only while no other search runs
            out = self.run(c, q, sample)
        hits = out.hits if out.hits is not None else self._hits(c, query, out, timer)
        total_us = timer.total_us()
        metrics.observe_search(out.path, total_us / 1e6, out.confidence if q.mode in (Mode.AUTO, Mode.RESCORED) else None,
                               out.examined)
        return SearchResult(
            hits,
            Diagnostics(
                path=out.path, candidates_examined=out.examined, oversample=oversample,
                timings_us=list(timer.stages.items()), total_us=total_us, mode=q.mode,
                confidence=float(out.confidence), threshold=float(q.gate.threshold), pools=out.pools,
                calibrated=c.calibration.calibrated, milvus_calls=out.milvus_calls, tier=c.middle_tier().tier.value,
                tier_scored=out.tier_scored,
            ),
        )

    def run(self, c: Collection, q: Query, sample: bool) -> Outcome:
        """The query's path by mode and route: stages 0-5. AUTO's route is the plan's, measured at
        calibration; before a plan exists (route_unmeasured "timed"), the one timed cheaper on
        served queries (plan.ObservedRoutes), each AUTO answer's time then counting for its route."""
        if q.mode == Mode.EXACT:
            return self.exact(c, q, SearchPath.EXACT)
        if q.mode == Mode.BINARY_ONLY:
            return self.binary_only(c, q)
        if q.mode != Mode.AUTO or q.gate.always:
            return self.gated(c, q, sample)
        timed = not c.plan.measured and self.settings.route_unmeasured == "timed"
        route = c.routes.pick(c.floats.rows, c.dim) if timed else Route(c.plan.route)
        t0 = time.perf_counter_ns()
        # the exact route: measured cheaper than the binary path here
        out = self.exact(c, q, SearchPath.EXACT) if route == Route.EXACT else self.gated(c, q, sample)
        if timed:
            c.routes.observe(route, (time.perf_counter_ns() - t0) / 1000)
        return out

    def gated(self, c: Collection, q: Query, sample: bool) -> Outcome:
        """The binary path; AUTO below the threshold (the pool not covering every row): its fallbacks."""
        out = self.binary(c, q, fixed=q.mode == Mode.RESCORED)
        if sample:
            self._sample(c, q, out)
        if q.mode == Mode.AUTO and not q.gate.passes(out.confidence) and out.rescored is not None \
                and not (out.rescored.covered and not q.gate.always):
            out = self.fallbacks(c, q, out)
        return out

    def _sample(self, c: Collection, q: Query, out: Outcome) -> None:
        """A share of served AUTO / RESCORED queries is kept for background verification (the gate's
        recalibration on the collection's own queries)."""
        rate = self.settings.calibration_query_rate
        if q.expr or rate <= 0 or out.rescored is None or np.random.random() >= rate:
            return
        steps = [(st.z, st.rows.copy()) for st in out.rescored.steps]
        c.pending.append(QuerySample(q.vector.copy(), q.top_k, steps))

    def _hits(self, c: Collection, query: np.ndarray, out: Outcome, timer: Timer) -> list[Hit]:
        """The hits' records from the record store: no Milvus round trip. Every row here was live when
        this search ran (a pool from Milvus, or rows the live flags marked)."""
        fetched: list[dict[str, Any]] = c.records.get(out.rows.tolist())
        qcode = binarize(query, c.thresholds)
        ham = hamming(c.codes.gather(out.rows), qcode) if out.rows.size else np.empty(0, np.int64)
        timer.lap("fetch")
        return [
            Hit(
                chunk_id=r["chunk_id"], document_id=r["doc_id"], score=float(score), text=r["text"],
                metadata=r.get("metadata") or {}, hamming_distance=int(h),
            )
            for r, score, h in zip(fetched, out.scores.tolist(), ham.tolist())
        ]


__all__ = ["GateRule", "Outcome", "Query", "Searcher", "Timer", "Z_COVERED"]
