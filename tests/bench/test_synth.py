"""The synthetic generator: fitted statistics reproduced, deterministic, blocked, resumable."""

from __future__ import annotations

import json

import numpy as np

from bitrag_server.bench.common import exact_topk_blocked
from bitrag_server.bench.synth import CHUNK, STREAM_CORPUS, VectorCache, fit


def test_fit_reproduces_mean_and_spectrum(model) -> None:
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
    share = lambda e, r: e[:r].sum() / e.sum()
    for r in (16, 64, 256):
        assert abs(share(ev, r) - share(real, r)) < 0.03, r
    # sign bits balanced like the real ones (what Hamming codes see)
    assert abs(float((x > 0).mean()) - 0.5) < 0.02


def test_model_spectrum_matches_ppca(model) -> None:
    s = model.spectrum()
    np.testing.assert_allclose(s[: model.rank], model.eigenvalues[: model.rank], rtol=1e-4)
    np.testing.assert_allclose(s[model.rank :], model.sigma**2, rtol=1e-6)


def test_deterministic_given_seed_and_prefix_stable(model) -> None:
    a = model.sample(1000, seed=7, stream=STREAM_CORPUS)
    b = model.sample(1000, seed=7, stream=STREAM_CORPUS)
    c = model.sample(1000, seed=8, stream=STREAM_CORPUS)
    q = model.sample(1000, seed=7, stream=1)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, q)
    # a shorter block is the prefix of a longer one: N rows are the prefix of any larger corpus
    np.testing.assert_array_equal(model.block(7, 0, 2, 50), model.block(7, 0, 2, 300)[:50])


def test_vector_cache_grows_resumes_and_serves_prefixes(model, tmp_path) -> None:
    n = CHUNK + 1000  # two blocks, the second partial
    cache = VectorCache(tmp_path, model, seed=3)
    small = np.array(cache.get("corpus", 500, progress=False))
    assert cache.rows("corpus") == 500
    big = cache.get("corpus", n, progress=False)  # extends the same file
    assert big.shape == (n, 768) and cache.rows("corpus") == n
    np.testing.assert_array_equal(big[:500], small)
    np.testing.assert_array_equal(big[CHUNK : CHUNK + 10], model.block(3, 0, 1, 10))
    # a half-recorded run (meta says fewer rows) resumes at a block boundary, same bytes
    meta = cache.dir / "corpus.json"
    m = json.loads(meta.read_text())
    m["rows"] = CHUNK + 10
    meta.write_text(json.dumps(m))
    again = VectorCache(tmp_path, model, seed=3).get("corpus", n, progress=False)
    np.testing.assert_array_equal(np.asarray(again[-5:]), np.asarray(big[-5:]))


def test_ground_truth_is_exact_and_cached(model, tmp_path) -> None:
    cache = VectorCache(tmp_path, model, seed=0)
    corpus = np.array(cache.get("corpus", 3000, progress=False))
    queries = np.array(cache.get("queries", 20, progress=False))
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
