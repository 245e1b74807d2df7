"""Calibration: queries with a known exact top-k -> the search plan and the gate.

Two sources of queries:
- pseudo-queries: stored vectors, rotated away from themselves to a cosine drawn from
  [0.6, 0.9] (a stored vector as its own query is trivially easy; a perturbed one has a spread of
  neighbours like a real query's). Used when a collection is first calibrated and as it grows.
- served queries: a sample of real searches, verified against the exact top-k in the background.
  Once enough are verified they replace the pseudo-queries for the gate: it is then calibrated on
  the collection's own query distribution.
The exact top-k of a batch of queries comes from one blocked pass over the float32 file; rows
the live flags mark dead (deleted) are dropped before the top-k is taken.

From pseudo-queries (`calibrate_pseudo`):
  1. the plan's pool: candidate recall (share of the exact top-k inside the Hamming pool) for each
     size of a ladder, from one wide Milvus search per query; the smallest pool that leaves the
     float stage most of the allowed shortfall;
  2. nprobe (IVF): the fewest lists whose candidate recall at that pool is within a tolerance of
     probing every list; then the pool's source: one Milvus search at that pool and nprobe, or the
     scan of every code in RAM keeping the live rows, timed interleaved on the same queries, the
     cheaper one (`measure_source`);
  3. the gate: every query's stopping rule run over the whole pool, batch by batch, recording the
     feature z and whether the top-k was exact; the isotonic map and the threshold (gate.py);
  4. the costs (median server time of AUTO's binary route with that gate, its fallbacks
     included, and of an exact scan, timed interleaved on the same queries; of an in-RAM pass
     over every code) and the route: AUTO starts with the exact scan where it measured cheaper.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from .. import failpoints
from ..collection import Collection
from ..config import Settings
from ..domain import Fallback, Mode, Route, SearchPath, Source
from .candidates import live_candidates, ram_candidates
from .gate import Calibration, Steps, fit_calibration
from .pipeline import GateRule, Query, Searcher, Timer, _exhaustive
from .plan import NPROBE_TOLERANCE, POOL_LADDER, SearchPlan

log = logging.getLogger(__name__)
CALIBRATION_K = 10
MAX_VERIFIED = 2000
TIMED_QUERIES = 40  # queries timed on the binary path for the route decision
EXACT_TIMED_ALL_ROWS = 200_000  # up to here every timed query is also timed on the exact scan
NPROBE_QUERIES = 100


@dataclass
class Fit:
    calibration: Calibration
    plan: SearchPlan


def perturbed_queries(x: np.ndarray, rng: np.random.Generator, lo: float = 0.6, hi: float = 0.9) -> np.ndarray:
    """`[S, d]` unit rows -> unit rows at cosine U(lo, hi) from them, in a random orthogonal direction."""
    noise = rng.standard_normal(x.shape).astype(np.float32)
    noise -= (noise * x).sum(1, keepdims=True) * x  # orthogonal to x
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cos = rng.uniform(lo, hi, size=(x.shape[0], 1)).astype(np.float32)
    return cos * x + np.sqrt(1.0 - cos**2) * noise


def exact_top(
    queries: np.ndarray, c: Collection, k: int, margin: int = 16, block_rows: int = 65536
) -> list[np.ndarray]:
    """Exact top-k live rows for each of `queries` `[S, d]`, from one pass over the float file."""
    s = queries.shape[0]
    want = k + margin
    best_rows = np.empty((s, 0), np.int64)
    best_scores = np.empty((s, 0), np.float32)
    for start, block in c.floats.blocks(block_rows):
        sc = queries @ block.T  # [S, d] @ [d, b] -> [S, b]
        rows = np.broadcast_to(np.arange(start, start + block.shape[0]), sc.shape)
        all_sc = np.concatenate([best_scores, sc], axis=1)
        all_rows = np.concatenate([best_rows, rows], axis=1)
        m = min(want, all_sc.shape[1])
        part = np.argpartition(-all_sc, m - 1, axis=1)[:, :m]
        best_scores = np.take_along_axis(all_sc, part, 1)
        best_rows = np.take_along_axis(all_rows, part, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    best_rows = np.take_along_axis(best_rows, order, 1)
    alive = c.live.mask(best_rows.ravel()).reshape(best_rows.shape)  # one lookup for the batch
    return [row[a][:k] for row, a in zip(best_rows, alive)]


def _steps(steps: list[tuple[float, np.ndarray]], truth: np.ndarray, k: int) -> Steps:
    """(z, exact?, recall) per batch of a query whose exact top-k is `truth`."""
    t = set(truth.tolist())
    out = []
    for z, rows in steps:
        inter = len(t & set(rows.tolist()))
        out.append((float(z), float(inter == k), inter / k))
    return out


def _query(c: Collection, searcher: Searcher, vector: np.ndarray, k: int, gate: GateRule) -> Query:
    return Query(vector, k, c.manifest.default_oversample, "", Mode.AUTO, gate, Timer())


# ---- 1-2: pool and nprobe --------------------------------------------------------------------------


def _pool_recall(c: Collection, searcher: Searcher, queries: np.ndarray, truth: list[np.ndarray], cap: int,
                 params: dict[str, int]) -> tuple[dict[int, float], bool]:
    """Candidate recall per ladder pool size (one Milvus search of `cap` codes per query), and
    whether the pool held every eligible row (small collections)."""
    k = CALIBRATION_K
    ladder = [p for p in POOL_LADDER if p < cap] + [cap]
    hits = {p: 0 for p in ladder}
    covered = True
    for qv, t in zip(queries, truth):
        cands = searcher.index.search(c.milvus, _code(c, qv), cap, "", params)
        covered &= cands.ids.size < cap and _exhaustive(c, params)
        pos = {int(r): i for i, r in enumerate(cands.ids.tolist())}
        ranks = [pos.get(int(r), 1 << 30) for r in t]
        for p in ladder:
            hits[p] += sum(r < p for r in ranks)
    total = max(1, k * len(truth))
    return {p: hits[p] / total for p in ladder}, covered


def _code(c: Collection, qv: np.ndarray) -> bytes:
    from ..quantize import binarize

    return binarize(qv, c.thresholds).tobytes()


def measure_plan(c: Collection, searcher: Searcher, queries: np.ndarray, truth: list[np.ndarray]) -> SearchPlan:
    s = searcher.settings
    target = c.manifest.gate.target_recall
    allowed = (1.0 - target) / 2  # the rest of the shortfall is the float stage's
    # the ladder's top is Milvus' limit, not widen_max_rows (which bounds widening past the plan's
    # pool): where 4,096 codes miss the goal, a wider first pool beats a gate that never trusts it
    cap = min(s.max_candidates, POOL_LADDER[-1])
    ix = c.manifest.index
    nlist = int(ix.build_params.get("nlist") or 0)
    widest = dict(ix.search_params)
    if "nprobe" in widest and nlist:
        widest["nprobe"] = nlist
    recall, covered = _pool_recall(c, searcher, queries, truth, cap, widest)
    pool = next((p for p, r in recall.items() if r >= 1.0 - allowed), cap)
    plan = SearchPlan(pool=pool, k=CALIBRATION_K, candidate_recall=recall[pool],
                      pool_recall={str(p): round(r, 4) for p, r in recall.items()})
    if "nprobe" in ix.search_params and nlist and not covered:
        sub = slice(0, min(NPROBE_QUERIES, len(truth)))
        best = recall[pool]
        ladder = sorted({max(1, nlist // f) for f in (64, 32, 16, 8, 4, 2)} | {nlist})
        for npb in ladder:
            r, _ = _pool_recall(c, searcher, queries[sub], truth[sub], pool, {**ix.search_params, "nprobe": npb})
            plan.nprobe_recall[str(npb)] = round(r[pool], 4)
            if r[pool] >= best - NPROBE_TOLERANCE:
                plan.nprobe = npb
                plan.candidate_recall = r[pool]
                break
    return plan


def measure_source(c: Collection, searcher: Searcher, queries: np.ndarray, plan: SearchPlan) -> SearchPlan:
    """Median time of the pool from each source at the plan's pool: one Milvus search (at the
    plan's nprobe) against the scan of every code in RAM keeping the rows the live flags mark,
    interleaved on the same queries. The source: the cheaper, unless
    Settings.candidate_source fixes it. A RAM pool holds the exact Hamming order (every list)."""
    params = dict(c.manifest.index.search_params)
    if plan.nprobe and "nprobe" in params:
        params["nprobe"] = plan.nprobe
    milvus, ram = [], []
    for qv in queries[:TIMED_QUERIES]:
        code = _code(c, qv)
        t0 = time.perf_counter_ns()
        searcher.index.search(c.milvus, code, plan.pool, "", params)
        t1 = time.perf_counter_ns()
        live_candidates(c.codes, c.live, qv, c.thresholds, plan.pool)
        t2 = time.perf_counter_ns()
        milvus.append((t1 - t0) // 1000)
        ram.append((t2 - t1) // 1000)
    plan.milvus_pool_us = int(statistics.median(milvus)) if milvus else 0
    plan.ram_pool_us = int(statistics.median(ram)) if ram else 0
    fixed = searcher.settings.candidate_source
    cheaper = Source.RAM if ram and plan.ram_pool_us < plan.milvus_pool_us else Source.MILVUS
    plan.source = (cheaper if fixed == "auto" else Source(fixed)).value
    if plan.source == Source.RAM and str(plan.pool) in plan.pool_recall:
        plan.candidate_recall = plan.pool_recall[str(plan.pool)]  # every code: the widest search's recall
    return plan


# ---- 3-4: the gate, costs and route ------------------------------------------------------------------


def _gate_samples(c: Collection, searcher: Searcher, queries: np.ndarray, truth: list[np.ndarray]) -> list[Steps]:
    """Every query's stopping rule over its whole pool (a gate that never accepts), per batch."""
    never = GateRule(threshold=2.0, always=False)  # no confidence reaches 2: every batch is read
    samples = []
    for qv, t in zip(queries, truth):
        out = searcher.binary(c, _query(c, searcher, qv, CALIBRATION_K, never), fixed=False)
        assert out.rescored is not None
        samples.append(_steps([(st.z, st.rows) for st in out.rescored.steps], t, CALIBRATION_K))
    return samples


def _median_us(fn, n: int) -> int:  # noqa: ANN001 - Callable[[int], object]
    times = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(i)
        times.append((time.perf_counter_ns() - t0) // 1000)
    return int(statistics.median(times)) if times else 0


def _auto_binary_route(c: Collection, searcher: Searcher, vector: np.ndarray, gate: GateRule) -> None:
    """AUTO on the binary route as a request runs it: the binary path, then the fallbacks where
    the gate is not confident (the legacy-collection fallback left out: a remote call)."""
    q = _query(c, searcher, vector, CALIBRATION_K, gate)
    out = searcher.binary(c, q, fixed=False)
    if not gate.passes(out.confidence) and out.rescored is not None and not out.rescored.covered:
        searcher.fallbacks(c, q, out)


def measure_costs(c: Collection, searcher: Searcher, queries: np.ndarray, cal: Calibration, plan: SearchPlan,
                  samples: list[Steps]) -> SearchPlan:
    """Times of AUTO's binary route (fallbacks included), an exact scan and an in-RAM code pass;
    the route. The binary route and the exact scan are timed interleaved on the same queries
    (a few exact scans only on large collections), so load on the machine weighs on both alike."""
    gate = GateRule(cal.threshold, False)
    nq = min(TIMED_QUERIES, len(queries))
    interleave = c.floats.rows <= EXACT_TIMED_ALL_ROWS

    def exact_us(i: int) -> int:
        t0 = time.perf_counter_ns()
        searcher.exact(c, _query(c, searcher, queries[i], CALIBRATION_K, gate), SearchPath.EXACT)
        return (time.perf_counter_ns() - t0) // 1000

    # Large collections: a few scans first, so the timed fallbacks keep to the exact-fallback bound.
    exact = [] if interleave else [exact_us(i) for i in range(min(nq, 3 if c.floats.rows <= 2_000_000 else 1))]
    plan.exact_us = int(statistics.median(exact)) if exact else 0
    local = [f for f in c.manifest.gate.fallback if f != Fallback.COLLECTION.value]
    trial = replace(c, calibration=cal)  # the same collection with the new gate and plan, for timing
    trial.manifest = replace(c.manifest, plan=plan.to_dict(), gate=replace(c.manifest.gate, fallback=local))
    binary = []
    for i in range(nq):
        t0 = time.perf_counter_ns()
        _auto_binary_route(trial, searcher, queries[i], gate)
        binary.append((time.perf_counter_ns() - t0) // 1000)
        if interleave:
            exact.append(exact_us(i))
    plan.binary_us = int(statistics.median(binary)) if binary else 0
    plan.exact_us = int(statistics.median(exact)) if exact else 0
    plan.scan_us = _median_us(lambda i: ram_candidates(c.codes, queries[i], c.thresholds, plan.pool * 4), 3)
    confs = [[cal.confidence(st[0]) for st in q] for q in samples]
    plan.fallback_share = float(np.mean([not any(v >= cal.threshold for v in q) for q in confs])) if confs else 1.0
    plan.route = (Route.EXACT if plan.exact_us <= plan.binary_us else Route.BINARY).value
    return plan


def calibrate_pseudo(c: Collection, searcher: Searcher, samples: int, seed: int = 0) -> Fit:
    t0 = time.perf_counter()
    n = c.floats.refresh()
    failpoints.hit("calibrate.pseudo")  # tests drop the collection here
    rng = np.random.default_rng(seed)
    pick = np.unique(rng.choice(n, size=min(n, samples * 2), replace=False))
    pick = pick[c.live.mask(pick)]
    pick = rng.permutation(pick)[:samples]
    queries = perturbed_queries(c.floats.gather(pick), rng)
    truth = exact_top(queries, c, CALIBRATION_K)
    keep = [i for i, t in enumerate(truth) if t.size == CALIBRATION_K]  # fewer than k live rows: nothing to learn
    queries, truth = queries[keep], [truth[i] for i in keep]
    plan = measure_plan(c, searcher, queries, truth)
    plan = measure_source(c, searcher, queries, plan)
    planned = replace(c, manifest=replace(c.manifest, plan=plan.to_dict()))
    gate_samples = _gate_samples(planned, searcher, queries, truth)
    cal = fit_calibration(gate_samples, target_recall=c.manifest.gate.target_recall)
    cal.source = "pseudo"
    cal.rows_at_calibration = n
    cal.calibrated_unix_ms = int(time.time() * 1000)
    plan = measure_costs(planned, searcher, queries, cal, plan, gate_samples)
    plan.rows = n
    plan.measured_unix_ms = cal.calibrated_unix_ms
    last = [q[-1] for q in gate_samples]
    log.info(
        "calibrated %s on %d pseudo-queries in %.1fs: pool %d (candidate recall %.4f) from %s (milvus %d us, "
        "ram %d us), nprobe %s, threshold %.3f, "
        "route %s (binary %d us, exact %d us, fallback share %.2f); whole-pool recall %.4f",
        c.name, cal.samples, time.perf_counter() - t0, plan.pool, plan.candidate_recall, plan.source,
        plan.milvus_pool_us, plan.ram_pool_us, plan.nprobe or "index",
        cal.threshold, plan.route, plan.binary_us, plan.exact_us, plan.fallback_share,
        float(np.mean([st[2] for st in last])) if last else 0.0,
    )
    return Fit(cal, plan)


def verify_served(c: Collection, searcher: Searcher, settings: Settings) -> Calibration | None:
    """Verify pending served queries; refit the gate from them once there are enough new ones."""
    batch = []
    while c.pending:
        batch.append(c.pending.popleft())
    if batch:
        k = max(b.top_k for b in batch)
        truth = exact_top(np.stack([b.query for b in batch]), c, k)
        for b, t in zip(batch, truth):
            t = t[: b.top_k]
            if t.size < b.top_k:
                continue
            c.verified.append(_steps(b.steps, t, b.top_k))
        del c.verified[:-MAX_VERIFIED]
    n = len(c.verified)
    if n < settings.calibration_min_queries or n - c.verified_at_fit < max(25, n // 10):
        return None
    cal = fit_calibration(list(c.verified), target_recall=c.manifest.gate.target_recall)
    cal.source = "queries"
    cal.rows_at_calibration = c.floats.rows
    cal.calibrated_unix_ms = int(time.time() * 1000)
    c.verified_at_fit = n
    log.info("recalibrated %s on %d verified served queries: threshold %.3f", c.name, n, cal.threshold)
    return cal
