"""The synthetic generator: fitted statistics reproduced, deterministic, blocked, resumable."""

from __future__ import annotations

import json

import numpy as np

from bitrag_server.bench.common import exact_topk_blocked
from dataclasses import replace

import pytest

from bitrag_server.bench.synth import (
    CHUNK,
    FIRST_BATCH,
    STREAM_CORPUS,
    VectorCache,
    batch_bounds,
    batch_of,
    fit,
    fit_tree,
    neighbour_stats,
)


def test_fit_reproduces_mean_and_spectrum(model) -> None:
    """The PPCA part (the tree process' marginal): rows drawn independently (rho = 0) have the real
    mean and spectrum. With the tree, rows of one corpus share ancestors, so a sample's mean wanders
    more, but converges as the corpus grows (checked on 30,000 rows)."""
    tree = model.sample(30000, seed=1)
    mt = tree.mean(0)
    assert float(model.mean @ mt / np.linalg.norm(model.mean) / np.linalg.norm(mt)) > 0.95
    ev_tree = np.linalg.eigvalsh(np.cov(tree.T.astype(np.float64)))[::-1]
    assert abs(ev_tree.sum() - model.eigenvalues.sum()) / model.eigenvalues.sum() < 0.05
    model = replace(model, rho=0.0, nu=0.0)
    x = model.sample(6000, seed=1, stream=STREAM_CORPUS)
    assert x.shape == (6000, 768) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)  # renormalised
    # mean direction and length
    m_real, m_syn = model.mean, x.mean(0)
    assert float(m_real @ m_syn / np.linalg.norm(m_real) / np.linalg.norm(m_syn)) > 0.99
    assert abs(np.linalg.norm(m_syn) - np.linalg.norm(m_real)) < 0.02
    # covariance spectrum: total variance, the leading eigenvalues, the low-rank share
    ev = np.linalg.eigvalsh(np.cov(x.T.astype(np.float64)))[::-1]
    real = model.eigenvalues
    assert abs(ev.sum() - real.sum()) / real.sum() < 0.05
    np.testing.assert_allclose(ev[:10], real[:10], rtol=0.15)
    def share(e: np.ndarray, r: int) -> float:
        return float(e[:r].sum() / e.sum())

    for r in (16, 64, 256):
        assert abs(share(ev, r) - share(real, r)) < 0.03, r
    # sign bits balanced like the real ones (what Hamming codes see)
    assert abs(float((x > 0).mean()) - 0.5) < 0.02


def test_model_spectrum_matches_ppca(model) -> None:
    s = model.spectrum()
    np.testing.assert_allclose(s[: model.rank], model.eigenvalues[: model.rank], rtol=1e-4)
    np.testing.assert_allclose(s[model.rank :], model.sigma**2, rtol=1e-6)


def test_deterministic_given_seed_and_prefix_stable(model) -> None:
    a = model.sample(1000, seed=7)
    b = model.sample(1000, seed=7)
    c = model.sample(1000, seed=8)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    # N rows are the prefix of any larger corpus, bit for bit (batches are computed whole, then cut),
    # across batch boundaries too (16, 32, 64, ... rows)
    big = model.sample(5000, seed=7)
    np.testing.assert_array_equal(big[:1000], a)
    np.testing.assert_array_equal(model.sample(50, seed=7), big[:50])
    assert [batch_bounds(b) for b in range(4)] == [(0, 16), (16, 32), (48, 64), (112, 128)]
    assert batch_bounds(12) == (FIRST_BATCH * (2**12 - 1), CHUNK) and batch_bounds(13)[0] == batch_bounds(12)[0] + CHUNK
    assert all(batch_of(sum(batch_bounds(b)) - 1) == b and batch_of(batch_bounds(b)[0]) == b for b in range(15))


def test_rows_are_families_and_queries_are_about_rows(model) -> None:
    """A row correlates with its parent by rho: the nearest earlier row of a row is much closer than
    in one Gaussian of the same spectrum; queries come from the corpus they are about, per N."""
    assert 0.5 < model.rho < 1.0 and 0.3 < model.rho_query < 1.0
    x = model.sample(4000, seed=2)
    flat = replace(model, rho=0.0, nu=0.0).sample(4000, seed=2)
    def nearest_earlier(v: np.ndarray) -> float:
        s = v[2000:3000] @ v[:2000].T
        return float(s.max(1).mean())
    assert nearest_earlier(x) > nearest_earlier(flat) + 0.15
    q1, q2 = model.queries(x, 50, seed=2), model.queries(x, 50, seed=2)
    np.testing.assert_array_equal(q1, q2)
    assert not np.allclose(model.queries(x[:3000], 50, seed=2), q1)  # another corpus size, other queries
    np.testing.assert_allclose(np.linalg.norm(q1, axis=1), 1.0, atol=1e-5)
    # a query's best match is about as close as the fitted real queries' (scifact mpnet: ~0.62)
    assert 0.45 < float((q1 @ x.T).max(1).mean()) < 0.85


def test_neighbour_stats_on_a_known_case() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    st = neighbour_stats(x[:20], x)  # every query is in the corpus: its own top-1 (cosine 1)
    assert st["top1_cos"] == pytest.approx(1.0, abs=1e-5)
    assert st["candidates@1000"] == 1.0  # the pool holds the whole corpus
    assert 0.0 <= st["rescored@x1"] <= st["rescored@x4"] <= st["candidates@160"] <= 1.0


def test_fit_tree_recovers_known_parameters(model) -> None:
    """Data drawn from the tree process with known rho / rho_q: the fit finds them within its grid
    step (here a small grid, to keep the test short)."""
    truth = replace(model, rho=0.8, rho_query=0.55, nu=0.0)
    x = truth.sample(1500, seed=9)
    q = truth.queries(x, 150, seed=9)
    got = fit_tree(replace(model, rho=0.0, rho_query=0.0, nu=0.0), x, q, seeds=(1,), n_queries=150,
                   grid=(np.array([0.6, 0.7, 0.8, 0.9]), np.array([0.35, 0.45, 0.55, 0.65, 0.75])), refine=False)
    step = 0.1 + 1e-9  # one grid step (float rounding aside)
    assert abs(got.rho - 0.8) <= step and abs(got.rho_query - 0.55) <= step, (got.rho, got.rho_query)


def test_vector_cache_grows_resumes_and_serves_prefixes(model, tmp_path) -> None:
    n = CHUNK + 1000  # crosses into the first full-size batch
    cache = VectorCache(tmp_path, model, seed=3)
    small = np.array(cache.get("corpus", 500, progress=False))
    assert cache.rows("corpus") == 500
    big = cache.get("corpus", n, progress=False)  # extends the same file
    assert big.shape == (n, 768) and cache.rows("corpus") == n
    np.testing.assert_array_equal(big[:500], small)
    ram = model.sample(n, seed=3)
    np.testing.assert_array_equal(np.asarray(big[-10:]), ram[-10:])  # parents read back from the file
    # a half-recorded run (meta says fewer rows) resumes at a batch boundary, same bytes
    meta = cache.dir / "corpus.json"
    m = json.loads(meta.read_text())
    m["rows"] = batch_bounds(batch_of(n - 1))[0] + 10
    meta.write_text(json.dumps(m))
    again = VectorCache(tmp_path, model, seed=3).get("corpus", n, progress=False)
    np.testing.assert_array_equal(np.asarray(again[-5:]), np.asarray(big[-5:]))
    qs = cache.queries(20, n)
    np.testing.assert_array_equal(qs, model.queries(ram, 20, seed=3))
    assert (cache.dir / f"queries_{n}_20.npy").exists()


def test_ground_truth_is_exact_and_cached(model, tmp_path) -> None:
    cache = VectorCache(tmp_path, model, seed=0)
    corpus = np.array(cache.get("corpus", 3000, progress=False))
    queries = cache.queries(20, 3000)
    ids, scores, _ = cache.ground_truth(3000, 20, 100)
    brute = np.argsort(-(queries @ corpus.T), axis=1, kind="stable")[:, :100]
    assert (ids == brute).mean() > 0.999  # float32 matmul order may swap exact ties only
    np.testing.assert_allclose(scores[:, 0], (queries @ corpus.T).max(1), rtol=1e-5)
    assert list(cache.dir.glob("gt_3000_20_100.npz"))
    ids2, _, _ = cache.ground_truth(3000, 20, 100)  # from the cache file
    np.testing.assert_array_equal(ids, ids2)


def test_blocked_exact_topk_matches_full_sort() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 32)).astype(np.float32)
    q = rng.standard_normal((5, 32)).astype(np.float32)
    ids, _ = exact_topk_blocked(q, x, 7, block_rows=64)
    np.testing.assert_array_equal(ids, np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :7])


def test_fit_recovers_a_known_low_rank_model() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 64)) * np.array([[3.0], [2.0], [1.5], [1.0]])
    x = rng.standard_normal((20000, 4)) @ w + 0.1 * rng.standard_normal((20000, 64))
    m = fit(x.astype(np.float32), rank=4)
    assert abs(m.sigma - 0.1) < 0.01
    true_ev = np.linalg.eigvalsh(w.T @ w + 0.01 * np.eye(64))[::-1]
    np.testing.assert_allclose(m.spectrum()[:4], true_ev[:4], rtol=0.1)
