"""The confidence gate's pure functions (retrieve/gate.py) and the in-RAM / full-precision scoring
stages (retrieve/asymmetric.py, retrieve/exact.py), checked against hand-built cases and numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitrag_server.quantize import binarize, l2_normalize, unpack_signs
from bitrag_server.retrieve.asymmetric import asymmetric_scores, shortlist
from bitrag_server.retrieve import exact
from bitrag_server.retrieve.exact import exact_scores
from bitrag_server.retrieve.topk import top_positions
from bitrag_server.retrieve.gate import (
    Z_COVERED,
    Calibration,
    confidence_feature,
    derive_threshold,
    fit_calibration,
    isotonic_fit,
    isotonic_predict,
    reliability_table,
    stopped_recall,
)
from bitrag_server.stores.float_store import FloatStore

# ---- isotonic regression ---------------------------------------------------------------------------


def _step_of(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the step each x falls in: edges are the steps' upper ends (inclusive)."""
    return np.searchsorted(edges, x, side="left")


def test_isotonic_fit_hand_example() -> None:
    x = np.array([6.0, 1.0, 3.0, 2.0, 5.0, 4.0])  # unsorted on purpose
    # sorted by x: 0 1 0 1 1 1 -> (2, 3) pooled to 0.5, equal steps (4, 5, 6) pooled to one
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    edges, values = isotonic_fit(x, y)
    assert edges.tolist() == [1.0, 3.0, 6.0]
    assert values.tolist() == [0.0, 0.5, 1.0]
    # at an edge, between edges (takes the step above), below the first and beyond the last
    assert isotonic_predict(edges, values, 1.0) == 0.0
    assert isotonic_predict(edges, values, 3.0) == 0.5
    assert isotonic_predict(edges, values, 1.5) == 0.5
    assert isotonic_predict(edges, values, 3.5) == 1.0
    assert isotonic_predict(edges, values, 6.0) == 1.0
    assert isotonic_predict(edges, values, -10.0) == 0.0
    assert isotonic_predict(edges, values, 1e6) == 1.0
    assert isotonic_predict(np.empty(0), np.empty(0), 0.3) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotonic_fit_is_monotone_and_step_means(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-2 * x))).astype(float)  # noisy, increasing in x
    edges, values = isotonic_fit(x, y)
    assert edges.size == values.size >= 2
    assert np.all(np.diff(edges) > 0)  # strictly increasing upper ends
    assert np.all(np.diff(values) >= 0)  # non-decreasing step function
    assert edges[-1] == x.max()
    step = _step_of(edges, x)
    counts = np.bincount(step, minlength=edges.size)
    assert np.all(counts > 0) and counts.sum() == x.size  # every step holds samples
    for j in range(edges.size):
        assert values[j] == pytest.approx(y[step == j].mean(), abs=1e-12)  # PAV: step = mean of its y
    # predictions on the training points are the step values; fit minimises squared error among
    # monotone fits, so it beats the constant fit
    pred = np.array([isotonic_predict(edges, values, xi) for xi in x])
    assert np.allclose(pred, values[step])
    assert ((pred - y) ** 2).sum() <= ((y.mean() - y) ** 2).sum()


def test_isotonic_fit_separable_gives_zero_one_steps() -> None:
    x = np.array([0.3, -1.0, 2.0, 0.1, 5.0, -0.5, 1.5])
    y = (x > 1.0).astype(float)
    edges, values = isotonic_fit(x, y)
    assert set(values.tolist()) == {0.0, 1.0}
    assert np.all(np.diff(values) >= 0)
    for xi, yi in zip(x, y):
        assert isotonic_predict(edges, values, xi) == yi
    assert isotonic_predict(edges, values, -100.0) == 0.0
    assert isotonic_predict(edges, values, 100.0) == 1.0
    assert isotonic_predict(edges, values, 1.0) == 1.0  # between 0.3 (last 0) and 1.5 (first 1): step above


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_isotonic_fit_prior_shrinks_and_stays_monotone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-3 * x))).astype(float)
    edges, values = isotonic_fit(x, y, prior=0.5)
    assert np.all(np.diff(values) >= 0)  # shrinking light steps more must not break monotonicity
    assert np.all(np.diff(edges) > 0) and edges[-1] == x.max()
    assert np.all((values > 0.0) & (values < 1.0))  # no certainty it has not seen
    _, raw = isotonic_fit(x, y)
    assert values[0] >= raw[0] and values[-1] <= raw[-1]  # ends pulled toward 1/2
    # one step of 60 exact outcomes: (60 + 0.5) / (60 + 1)
    e, v = isotonic_fit(np.arange(60.0), np.ones(60), prior=0.5)
    assert e.tolist() == [59.0] and v.tolist() == pytest.approx([60.5 / 61])


# ---- threshold ---------------------------------------------------------------------------------------


def _one(values) -> list[np.ndarray]:  # noqa: ANN001 - one batch per query
    return [np.array([v]) for v in values]


def test_derive_threshold_all_exact_is_zero() -> None:
    conf = _one([0.1, 0.4, 0.9])
    assert derive_threshold(conf, _one([1.0] * 3), target=0.99) == 0.0
    assert derive_threshold(conf, _one([1.0] * 3), target=1.0, safety=1.0) == 0.0


def test_derive_threshold_unreachable_or_empty_is_one() -> None:
    # even at the highest threshold the most confident sample is still answered with recall 0
    assert derive_threshold(_one([0.5, 0.5, 0.7]), _one([0.0] * 3), target=0.9) == 1.0
    assert derive_threshold([], [], target=0.9) == 1.0


def test_derive_threshold_picks_lowest_meeting_goal() -> None:
    conf = _one([0.2, 0.5, 0.8, 0.9])
    recall = _one([0.6, 0.8, 1.0, 1.0])
    # t = 0 / 0.2: mean recall 0.85; t = 0.5: (1 + 0.8 + 1 + 1) / 4 = 0.95; t = 0.8: 1.0
    # safety 1: goal = target
    assert derive_threshold(conf, recall, target=0.80, safety=1.0) == 0.0
    assert derive_threshold(conf, recall, target=0.90, safety=1.0) == 0.5
    assert derive_threshold(conf, recall, target=0.96, safety=1.0) == 0.8
    # safety 0.25: goal = 1 - 0.1 * 0.25 = 0.975 > 0.95 -> the next threshold up
    assert derive_threshold(conf, recall, target=0.90, safety=0.25) == 0.8
    # default safety 0.5: goal = 1 - 0.3 * 0.5 = 0.85 -> 0 is enough; target 0.8 alone would be too
    assert derive_threshold(conf, recall, target=0.70) == 0.0
    assert derive_threshold(conf, recall, target=0.75) == 0.5  # goal 0.875 > 0.85
    # the threshold is always one of the candidates 0 or a sample's confidence
    for target in np.linspace(0.5, 1.0, 11):
        t = derive_threshold(conf, recall, target=float(target))
        assert t in (0.0, 0.2, 0.5, 0.8, 0.9, 1.0)


def test_stopping_rule_stops_at_the_first_batch_that_reaches_the_threshold() -> None:
    """Each query stops at its first batch whose confidence reaches t; one that never does takes
    the full-precision path (recall 1)."""
    conf = [np.array([0.3, 0.7, 0.95]), np.array([0.9]), np.array([0.1, 0.2])]
    recall = [np.array([0.5, 0.9, 1.0]), np.array([0.8]), np.array([0.4, 0.6])]
    assert stopped_recall(conf, recall, 0.0) == pytest.approx((0.5 + 0.8 + 0.4) / 3)
    assert stopped_recall(conf, recall, 0.5) == pytest.approx((0.9 + 0.8 + 1.0) / 3)  # q3 never reaches 0.5
    assert stopped_recall(conf, recall, 0.92) == pytest.approx((1.0 + 1.0 + 1.0) / 3)
    # goal (safety 1) 0.9: reached first at t = 0.7 (a candidate: some batch's confidence)
    assert derive_threshold(conf, recall, target=0.9, safety=1.0) == 0.7


# ---- the feature z ---------------------------------------------------------------------------------


def test_confidence_feature_covered_and_too_few_rows() -> None:
    a = np.array([3.0, 2.0, 1.0, 0.5])
    s = np.array([0.9, 0.8, 0.7, 0.6])
    assert confidence_feature(a, s, 0.8, None) == Z_COVERED
    assert confidence_feature(a[:2], s[:2], 0.8, 0.1) == 0.0
    assert confidence_feature(a[:0], s[:0], 0.8, 0.1) == 0.0


def test_confidence_feature_matches_regression_and_grows_with_margin() -> None:
    rng = np.random.default_rng(3)
    a = np.sort(rng.normal(size=40))[::-1]
    s = 0.3 + 0.1 * a + 0.01 * rng.normal(size=40)
    kth = float(np.sort(s)[::-1][9])
    beta, alpha = np.polyfit(a, s, 1)
    resid = s - (alpha + beta * a)
    sigma = np.sqrt((resid**2).sum() / (40 - 2)) + 1e-6
    bound = float(a.min()) - 0.5
    z = confidence_feature(a, s, kth, bound)
    assert z == pytest.approx((kth - (alpha + beta * bound)) / sigma, rel=1e-6)
    # the further the best row left behind sits below the k-th score, the larger z
    zs = [confidence_feature(a, s, kth, b) for b in (a.max() + 1.0, a.max(), a.min(), a.min() - 1.0, a.min() - 3.0)]
    assert all(lo < hi for lo, hi in zip(zs, zs[1:])), zs
    assert zs[0] < 0 < zs[-1]  # a bound predicted above s_k: negative
    # same bound, higher k-th score: larger z
    assert confidence_feature(a, s, kth + 0.05, bound) > z


# ---- calibration -------------------------------------------------------------------------------------


def test_fit_calibration_reliability_and_threshold() -> None:
    rng = np.random.default_rng(5)
    n = 237
    samples = []
    for i in range(n):  # 1-3 batches per query, z growing with each batch read
        steps = []
        z = rng.normal(0.0, 3.0)
        for _ in range(int(rng.integers(1, 4))):
            zz = Z_COVERED if i < 20 else z  # covered queries: exact by construction
            ex = float(zz >= Z_COVERED or rng.random() < 1 / (1 + np.exp(-zz)))
            steps.append((zz, ex, 1.0 if ex else float(rng.uniform(0.5, 0.9))))
            z += abs(rng.normal(1.0, 0.5))
        samples.append(steps)
    cal = fit_calibration(samples, target_recall=0.95)
    assert cal.calibrated and cal.samples == n and cal.target_recall == 0.95
    assert 0.0 <= cal.threshold <= 1.0
    assert len(cal.edges) == len(cal.values) >= 2
    assert np.all(np.diff(cal.values) >= 0) and np.all(np.diff(cal.edges) >= 0)  # a monotone map
    assert all(0.0 <= v <= 1.0 for v in cal.values)
    rel = cal.reliability
    assert len(rel) == 5
    assert sum(b["n"] for b in rel) == n  # one row per query: its last batch
    assert all(b["lo"] <= b["predicted"] <= b["hi"] and 0.0 <= b["measured"] <= 1.0 for b in rel)
    assert all(a["hi"] <= b["lo"] for a, b in zip(rel, rel[1:]))  # equal-count bins, ascending
    assert rel[-1]["measured"] > rel[0]["measured"]  # the confidence means something
    assert cal.confidence(Z_COVERED) == 1.0
    assert cal.confidence(-50.0) <= cal.confidence(0.0) <= cal.confidence(50.0)


def test_reliability_table_small_and_empty() -> None:
    assert reliability_table(np.empty(0), np.empty(0)) == []
    rows = reliability_table(np.array([0.9, 0.1, 0.5]), np.array([1.0, 0.0, 1.0]))
    assert [r["n"] for r in rows] == [1, 1, 1]
    assert [r["predicted"] for r in rows] == [0.1, 0.5, 0.9]
    assert [r["measured"] for r in rows] == [0.0, 1.0, 1.0]


def test_calibration_confidence() -> None:
    uncal = Calibration()
    assert not uncal.calibrated and uncal.threshold == 1.0
    assert uncal.confidence(Z_COVERED) == 1.0
    assert uncal.confidence(100.0) == 0.0
    cal = Calibration(edges=[0.0, 2.0, 5.0], values=[0.1, 0.6, 0.95], threshold=0.6, samples=50)
    assert cal.calibrated
    assert cal.confidence(Z_COVERED) == 1.0
    assert cal.confidence(-3.0) == 0.1
    assert cal.confidence(1.0) == 0.6
    assert cal.confidence(2.0) == 0.6
    assert cal.confidence(4.0) == 0.95
    assert cal.confidence(1e6) == 0.95


# ---- asymmetric stage and exact scan ------------------------------------------------------------


def test_asymmetric_scores_are_signs_times_query() -> None:
    rng = np.random.default_rng(7)
    d = 64
    x = rng.standard_normal((200, d)).astype(np.float32)
    q = l2_normalize(rng.standard_normal(d).astype(np.float32))
    codes = binarize(x)
    got = asymmetric_scores(q, codes)
    signs = np.where(x > 0, 1.0, -1.0).astype(np.float32)  # independent of unpack_signs
    assert got.shape == (200,)
    assert np.allclose(got, signs @ q, atol=1e-5)
    assert np.allclose(got, unpack_signs(codes, d) @ q, atol=1e-6)


def test_shortlist_best_first() -> None:
    rng = np.random.default_rng(8)
    scores = rng.normal(size=500).astype(np.float32)
    for keep in (1, 7, 100, 499):
        pos = shortlist(scores, keep)
        assert pos.tolist() == np.argsort(-scores, kind="stable")[:keep].tolist()
    assert shortlist(scores, 500).tolist() == np.argsort(-scores, kind="stable").tolist()
    assert shortlist(scores, 10_000).size == 500
    ties = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert shortlist(ties, 5).tolist() == [1, 2, 4, 3, 0]  # stable: ties keep their order
    two = shortlist(ties, 2).tolist()
    assert len(set(two)) == 2 and set(two) <= {1, 2, 4}  # two of the three 3.0s
    assert set(shortlist(ties, 3).tolist()) == {1, 2, 4}


def test_exact_scores_and_top_positions(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    d = 32
    x = l2_normalize(rng.standard_normal((1003, d)).astype(np.float32))
    q = l2_normalize(rng.standard_normal(d).astype(np.float32))
    fs = FloatStore(tmp_path / "v.f32", d)
    try:
        fs.append(x[:600])
        fs.append(x[600:])
        for block_rows in (65536, 100, 7):  # several blocks, a ragged last one
            sc = exact_scores(q, fs, block_rows=block_rows)
            assert sc.shape == (1003,) and sc.dtype == np.float32
            assert np.allclose(sc, x @ q, atol=1e-6)
    finally:
        fs.close()
    # a block large enough to be split over the cores (exact._SPLIT_MIN_ROWS), with a ragged end
    big = l2_normalize(rng.standard_normal((3 * exact._SPLIT_MIN_ROWS + 5, d)).astype(np.float32))
    fs = FloatStore(tmp_path / "big.f32", d)
    try:
        fs.append(big)
        for block_rows in (65536, exact._SPLIT_MIN_ROWS + 1):
            sc = exact_scores(q, fs, block_rows=block_rows)
            assert sc.shape == (big.shape[0],) and np.allclose(sc, big @ q, atol=1e-6)
    finally:
        fs.close()
    want = np.argsort(-(x @ q), kind="stable")
    sc = x @ q
    for n in (1, 10, 1002, 1003, 5000):
        assert top_positions(sc, n).tolist() == want[: min(n, 1003)].tolist()
    assert top_positions(sc, 0).size == 0
    assert top_positions(np.empty(0, np.float32), 5).size == 0
