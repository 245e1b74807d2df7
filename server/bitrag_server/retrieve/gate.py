"""Stage 4: the confidence gate, which is also the stopping rule of the float reads.

Confidence = an estimate of P(rescored top-k == exact float32 top-k), from what the query has
already computed (no exact search):

  The rows read so far give pairs (middle-tier estimate a_i, exact float score s_i). A
  least-squares line s ~ alpha + beta * a, with residual spread sigma, predicts the float score of
  the best candidate that was *not* read (estimate a_bound: the best unread one, or, once the whole
  pool is read, the best at the pool's Hamming boundary, standing for the rows Milvus did not
  return). Every row left behind scores at most about that, so
      z = (s_k - (alpha + beta * a_bound)) / sigma
  says how many sigmas the k-th result sits above the best row left behind. Large z: the top-k
  cannot change. Small z: a row left behind may belong in it; read more (rescore.py).

`z` is mapped to a probability by an isotonic (monotone, piecewise-constant) calibration fitted
on queries whose exact top-k is known: stored vectors used as pseudo-queries at first, then a
sample of the collection's own served queries verified in the background. Each calibration query
contributes one (z, exact?) pair per batch of the stopping rule. The gate's threshold is the
lowest confidence at which the calibration queries, each stopping at its first batch whose
confidence reaches it (and the rest taking the full-precision path), still reach the target
recall, evaluated out of fold.

The guarantee is marginal, not per query: over queries drawn like the calibration queries, mean
recall@k meets the target (with the safety margin of `derive_threshold`); a given query may miss.

Cost: one `[R]` least-squares fit and a table lookup (microseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Z_COVERED = 1e9  # the candidate pool held every eligible row: the result is exact
PRIOR = 0.5  # isotonic steps shrink toward 1/2 by half an observation of each outcome


def confidence_feature(
    shortlist_asym: np.ndarray,  # [R] asymmetric scores of the rescored rows
    shortlist_exact: np.ndarray,  # [R] their exact float scores
    kth_score: float,  # s_k, the k-th best exact score
    bound_asym: float | None,  # best asymmetric score not rescored; None = nothing left behind
) -> float:
    """The gate's feature `z` (see module docstring). `Z_COVERED` when nothing was left behind."""
    if bound_asym is None:
        return Z_COVERED
    r = shortlist_asym.shape[0]
    if r < 3:
        return 0.0
    a = shortlist_asym.astype(np.float64)
    s = shortlist_exact.astype(np.float64)
    a_mean, s_mean = a.mean(), s.mean()
    var_a = float(((a - a_mean) ** 2).sum())
    beta = float(((a - a_mean) * (s - s_mean)).sum() / var_a) if var_a > 0 else 0.0
    alpha = s_mean - beta * a_mean
    resid = s - (alpha + beta * a)
    sigma = float(np.sqrt((resid**2).sum() / max(1, r - 2))) + 1e-6
    return float((kth_score - (alpha + beta * bound_asym)) / sigma)


def _pool(vals: list[float], wts: list[float], ends: list[float]) -> tuple[list[float], list[float], list[float]]:
    """Pool adjacent steps until values strictly increase (weighted means)."""
    ov: list[float] = []
    ow: list[float] = []
    oe: list[float] = []
    for v, w, e in zip(vals, wts, ends):
        ov.append(v)
        ow.append(w)
        oe.append(e)
        while len(ov) > 1 and ov[-2] >= ov[-1]:
            tw = ow[-2] + ow[-1]
            tv = (ov[-2] * ow[-2] + ov[-1] * ow[-1]) / tw
            ov[-2:], ow[-2:], oe[-2:] = [tv], [tw], [oe[-1]]
    return ov, ow, oe


def isotonic_fit(x: np.ndarray, y: np.ndarray, prior: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: non-decreasing step function of x fitted to y in [0, 1].
    Returns (upper edges of the steps `[m]`, step values `[m]`); evaluate with `isotonic_predict`.
    `prior` > 0 shrinks each step toward 1/2 as if it held `2 * prior` more samples, half of
    each outcome (a step of 60 exact outcomes predicts 0.992, not a certainty it has not seen),
    then pools again wherever the shrinking broke monotonicity."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order].astype(np.float64), y[order].astype(np.float64)
    vals, wts, ends = _pool(ys.tolist(), [1.0] * len(ys), xs.tolist())
    if prior > 0 and vals:
        shrunk = [(v * w + prior) / (w + 2 * prior) for v, w in zip(vals, wts)]
        vals, wts, ends = _pool(shrunk, wts, ends)
    return np.asarray(ends), np.asarray(vals)


def isotonic_predict(edges: np.ndarray, values: np.ndarray, z: float) -> float:
    if edges.size == 0:
        return 0.0
    i = int(np.searchsorted(edges, z, side="left"))
    return float(values[min(i, values.size - 1)])


@dataclass
class Calibration:
    """z -> P(exact top-k), and the threshold that meets `target_recall`."""

    edges: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    threshold: float = 1.0  # until calibrated: every uncovered query takes the fallback
    target_recall: float = 0.99
    samples: int = 0
    source: str = ""  # "pseudo" (stored vectors) or "queries" (served queries, verified)
    rows_at_calibration: int = 0
    calibrated_unix_ms: int = 0
    reliability: list[dict] = field(default_factory=list)  # cross-validated, for reports

    @property
    def calibrated(self) -> bool:
        return self.samples > 0

    def confidence(self, z: float) -> float:
        if z >= Z_COVERED:
            return 1.0
        if not self.calibrated:
            return 0.0
        return isotonic_predict(np.asarray(self.edges), np.asarray(self.values), z)


# One calibration query: its batches in order, each (z, exact top-k?, recall@k).
Steps = list[tuple[float, float, float]]


def stopped_recall(conf: list[np.ndarray], recall: list[np.ndarray], t: float) -> float:
    """Mean recall when each query stops at its first batch with confidence >= t (a query that
    never does takes the full-precision path: recall 1)."""
    total = 0.0
    for c, r in zip(conf, recall):
        hit = np.flatnonzero(c >= t)
        total += float(r[hit[0]]) if hit.size else 1.0
    return total / max(1, len(conf))


def derive_threshold(conf: list[np.ndarray], recall: list[np.ndarray], target: float, safety: float = 0.5) -> float:
    """Lowest threshold t such that stopping each query at its first batch with confidence >= t
    (queries that never reach it: full precision, recall 1) averages >= target.

    `safety`: the samples must stay within this fraction of the allowed shortfall (1 - target),
    so the threshold still meets the target on queries it was not fitted on."""
    if not conf:
        return 1.0
    goal = 1.0 - (1.0 - target) * safety
    for t in np.unique(np.concatenate([[0.0], *conf])):  # ascending; recall rises with t
        if stopped_recall(conf, recall, float(t)) >= goal:
            return float(t)
    return 1.0


def fit_calibration(samples: list[Steps], *, target_recall: float, folds: int = 5, seed: int = 0) -> Calibration:
    """Fit the isotonic map on every batch of every query; the reliability table and the
    threshold come from out-of-fold predictions (each query predicted by a map that did not see
    it). The reliability table is over each query's last batch (what it answered with when it
    read everything it was given)."""
    n = len(samples)
    flat = [st for q in samples for st in q]
    z = np.asarray([st[0] for st in flat], np.float64)
    ex = np.asarray([st[1] for st in flat], np.float64)
    edges, values = isotonic_fit(z, ex, PRIOR) if flat else (np.empty(0), np.empty(0))
    owner = np.repeat(np.arange(n), [len(q) for q in samples])
    idx = np.random.default_rng(seed).permutation(n)
    oof = np.empty(z.shape[0])
    for f in range(folds):
        test = np.isin(owner, idx[f::folds])
        e, v = isotonic_fit(z[~test], ex[~test], PRIOR) if (~test).any() else (np.empty(0), np.empty(0))
        oof[test] = [1.0 if zi >= Z_COVERED else isotonic_predict(e, v, zi) for zi in z[test]]
    bounds = np.cumsum([0] + [len(q) for q in samples])
    conf = [oof[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    recall = [np.asarray([st[2] for st in q]) for q in samples]
    threshold = derive_threshold(conf, recall, target_recall)
    last = np.asarray([c[-1] for c in conf]) if conf else np.empty(0)
    last_ex = np.asarray([q[-1][1] for q in samples]) if samples else np.empty(0)
    return Calibration(
        edges=edges.tolist(), values=values.tolist(), threshold=threshold, target_recall=target_recall,
        samples=int(n), reliability=reliability_table(last, last_ex),
    )


def reliability_table(pred: np.ndarray, outcome: np.ndarray, bins: int = 5) -> list[dict]:
    """Predicted vs measured share of exact top-k, by equal-count bins of predicted confidence."""
    if pred.size == 0:
        return []
    order = np.argsort(pred, kind="stable")
    rows = []
    for chunk in np.array_split(order, min(bins, pred.size)):
        if chunk.size:
            rows.append({
                "lo": float(pred[chunk].min()), "hi": float(pred[chunk].max()), "n": int(chunk.size),
                "predicted": float(pred[chunk].mean()), "measured": float(outcome[chunk].mean()),
            })
    return rows
