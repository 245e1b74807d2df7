"""Calibration of the confidence gate: queries with a known exact top-k -> (z, exact?, recall).

Two sources:
- pseudo-queries: stored vectors, rotated away from themselves to a cosine drawn from
  [0.6, 0.9] (a stored vector as its own query is trivially easy; a perturbed one has a spread of
  neighbours like a real query's). Used when a collection is first calibrated and as it grows.
- served queries: a sample of real searches, verified against the exact top-k in the background.
  Once enough are verified they replace the pseudo-queries: the gate is then calibrated on the
  collection's own query distribution.
The exact top-k of a batch of queries comes from one blocked pass over the float32 file; rows
that Milvus no longer has (deleted) are dropped before the top-k is taken.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .collection import Collection
from .config import Settings
from .retrieve.gate import Calibration, fit_calibration
from .searcher import Searcher, Timer
from .stores.binary_index import BinaryIndex

log = logging.getLogger(__name__)
CALIBRATION_K = 10
MAX_VERIFIED = 2000


def perturbed_queries(x: np.ndarray, rng: np.random.Generator, lo: float = 0.6, hi: float = 0.9) -> np.ndarray:
    """`[S, d]` unit rows -> unit rows at cosine U(lo, hi) from them, in a random orthogonal direction."""
    noise = rng.standard_normal(x.shape).astype(np.float32)
    noise -= (noise * x).sum(1, keepdims=True) * x  # orthogonal to x
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cos = rng.uniform(lo, hi, size=(x.shape[0], 1)).astype(np.float32)
    return cos * x + np.sqrt(1.0 - cos**2) * noise


def exact_top(
    queries: np.ndarray, c: Collection, index: BinaryIndex, k: int, margin: int = 16, block_rows: int = 65536
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
    live = index.live_rows(c.milvus, np.unique(best_rows).tolist())
    return [np.asarray([r for r in row if int(r) in live][:k], np.int64) for row in best_rows]


def _outcomes(
    c: Collection, searcher: Searcher, queries: np.ndarray, k: int, oversample: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth = exact_top(queries, c, searcher.index, k)
    z, exact, recall = [], [], []
    for q, t in zip(queries, truth):
        if t.size < k:
            continue  # fewer than k live rows: nothing to learn
        att = searcher.rescored(c, q, k, k * oversample, "", Timer())
        inter = len(set(att.rows.tolist()) & set(t.tolist()))
        z.append(att.z)
        exact.append(float(inter == k))
        recall.append(inter / k)
    return np.asarray(z), np.asarray(exact), np.asarray(recall)


def calibrate_pseudo(c: Collection, searcher: Searcher, samples: int, seed: int = 0) -> Calibration:
    t0 = time.perf_counter()
    n = c.floats.refresh()
    rng = np.random.default_rng(seed)
    pick = np.unique(rng.choice(n, size=min(n, samples * 2), replace=False))
    live = searcher.index.live_rows(c.milvus, pick.tolist())
    pick = np.asarray([r for r in pick if int(r) in live], np.int64)
    pick = rng.permutation(pick)[:samples]
    queries = perturbed_queries(c.floats.gather(pick), rng)
    z, exact, recall = _outcomes(c, searcher, queries, CALIBRATION_K, c.manifest.default_oversample)
    cal = fit_calibration(z, exact, recall, target_recall=c.manifest.gate.target_recall)
    cal.source = "pseudo"
    cal.rows_at_calibration = n
    cal.calibrated_unix_ms = int(time.time() * 1000)
    log.info(
        "calibrated %s on %d pseudo-queries in %.1fs: threshold %.3f (share exact %.3f, recall %.4f)",
        c.name, cal.samples, time.perf_counter() - t0, cal.threshold,
        float(exact.mean()) if exact.size else 0.0, float(recall.mean()) if recall.size else 0.0,
    )
    return cal


def verify_served(c: Collection, searcher: Searcher, settings: Settings) -> Calibration | None:
    """Verify pending served queries; refit from them once there are enough new ones."""
    batch = []
    while c.pending:
        batch.append(c.pending.popleft())
    if batch:
        k = max(b.top_k for b in batch)
        truth = exact_top(np.stack([b.query for b in batch]), c, searcher.index, k)
        for b, t in zip(batch, truth):
            t = t[: b.top_k]
            if t.size < b.top_k:
                continue
            inter = len(set(b.rows.tolist()) & set(t.tolist()))
            c.verified.append((b.z, float(inter == b.top_k), inter / b.top_k))
        del c.verified[:-MAX_VERIFIED]
    n = len(c.verified)
    if n < settings.calibration_min_queries or n - c.verified_at_fit < max(25, n // 10):
        return None
    z, exact, recall = (np.asarray(col) for col in zip(*c.verified))
    cal = fit_calibration(z, exact, recall, target_recall=c.manifest.gate.target_recall)
    cal.source = "queries"
    cal.rows_at_calibration = c.floats.rows
    cal.calibrated_unix_ms = int(time.time() * 1000)
    c.verified_at_fit = n
    log.info("recalibrated %s on %d verified served queries: threshold %.3f", c.name, n, cal.threshold)
    return cal
