"""Search modes, the confidence gate, calibration and the Prometheus metrics through the real server
(`bitrag serve` subprocess on Milvus Lite) over real gRPC, the SDK and the `bitrag` CLI."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import bitrag
from bitrag import Document, GateConfig

DIM = 64
N = 1000
K = 10


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((40, DIM))
    x = centers[rng.integers(0, 40, size=n)] + 0.6 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def queries(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = x[rng.choice(x.shape[0], n, replace=False)] + 0.7 / np.sqrt(DIM) * rng.standard_normal((n, DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> tuple[list[str], np.ndarray]:
    sc = x @ q
    top = np.argsort(-sc, kind="stable")[:k]
    return [f"r{i}" for i in top], sc[top]


def ingest(c: bitrag.Client, name: str, x: np.ndarray) -> None:
    res = c.ingest_vectors(name, x, ids=[f"r{i}" for i in range(len(x))], texts=[f"row {i}" for i in range(len(x))])
    assert res.chunks_written == len(x)


def bitrag_cli(*args: str, target: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "--target", target, *args],
                          env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def lite(lite_server) -> Iterator[bitrag.Client]:
    """The SDK on the shared Milvus Lite server (the gate features need no backend matrix)."""
    with lite_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def vecs(lite: bitrag.Client) -> tuple[str, np.ndarray]:
    """1000 clustered vectors: the default pool (160 codes, 40 rescored) does not cover them."""
    name = unique("gate")
    lite.create_collection(name, embedder="none", dimension=DIM)
    x = clustered(N, seed=101)
    ingest(lite, name, x)
    return name, x


# ---- modes ------------------------------------------------------------------------------------------


def test_modes_through_sdk(lite: bitrag.Client, vecs: tuple[str, np.ndarray]) -> None:
    name, x = vecs
    codes = np.packbits(x > 0, axis=1)
    for q in queries(x, 3, seed=102):
        ids, scores = exact_top(x, q)

        res = lite.search(name, q, top_k=K, mode="EXACT")
        d = res.diagnostics
        assert [h.chunk_id for h in res.hits] == ids
        assert np.allclose([h.score for h in res.hits], scores, atol=1e-5)
        assert (d.mode, d.path, d.confidence, d.candidates_examined, d.pools) == ("EXACT", "EXACT", 1.0, N, [])
        assert d.total_us > 0 and "exact_scan" in d.timings_us

        res = lite.search(name, q, top_k=K, mode="binary_only")  # case-insensitive
        d = res.diagnostics
        ham = np.unpackbits(codes ^ np.packbits(q > 0), axis=1).sum(1)
        hs = [h.hamming_distance for h in res.hits]
        assert hs == sorted(ham.tolist())[:K]
        assert [h.score for h in res.hits] == pytest.approx([1 - 2 * h / DIM for h in hs], abs=1e-6)
        assert (d.mode, d.path, d.candidates_examined, d.pools, d.confidence) == ("BINARY_ONLY", "BINARY_ONLY", 0, [K], 0.0)

        res = lite.search(name, q, top_k=K, mode="RESCORED")
        d = res.diagnostics
        assert (d.mode, d.path, d.pools, d.candidates_examined, d.oversample) == (
            "RESCORED", "BINARY_RESCORED", [K * 4 * 4], K * 4, 4)
        assert 0.0 <= d.confidence <= 1.0 and 0.0 <= d.threshold <= 1.0
        assert list(d.timings_us) == ["candidates", "tier", "rescore", "gate", "fetch"]

        res = lite.search(name, q, top_k=K, confidence_threshold=1.0)  # AUTO, forced fallback
        d = res.diagnostics
        assert (d.mode, d.path, d.threshold, d.confidence) == ("AUTO", "FALLBACK_EXACT", 1.0, 1.0)
        assert d.pools[0] == K * 4 * 4 and len(d.pools) > 1 and d.candidates_examined > N
        assert "widen" in d.timings_us and "exact_scan" in d.timings_us
        assert [h.chunk_id for h in res.hits] == ids
        assert np.allclose([h.score for h in res.hits], scores, atol=1e-5)

        res = lite.search(name, q, top_k=K, confidence_threshold=0.0)  # AUTO, gate always passes
        d = res.diagnostics
        assert (d.mode, d.path, d.threshold, d.pools) == ("AUTO", "BINARY_RESCORED", 0.0, [K * 4 * 4])
        assert isinstance(d.calibrated, bool)

    # the default mode is AUTO
    res = lite.search(name, x[0], top_k=3)
    assert res.diagnostics.mode == "AUTO" and res.hits[0].chunk_id == "r0"


def test_request_threshold_out_of_range(lite: bitrag.Client, vecs: tuple[str, np.ndarray]) -> None:
    name, x = vecs
    for bad in (1.5, -0.01, math.nan):
        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            lite.search(name, x[0], top_k=3, confidence_threshold=bad)
        assert ei.value.field == "confidence_threshold"
    with pytest.raises(bitrag.InvalidArgumentError, match="^mode: "):
        lite.search(name, x[0], mode="FASTEST")


# ---- gate configuration and calibration ------------------------------------------------------------


def test_calibrate_and_collection_info_round_trip(lite: bitrag.Client) -> None:
    name = unique("cal")
    info = lite.create_collection(name, embedder="none", dimension=DIM,
                                  gate=GateConfig(target_recall=0.95, widen_max_rows=2048))
    g = info.gate
    assert g.target_recall == pytest.approx(0.95) and g.confidence_threshold == 0.0
    assert (g.fallback, g.widen_max_rows, g.fallback_collection, g.fallback_vector_field) == (
        ("widen", "exact"), 2048, "", "vector")
    assert not info.calibration.calibrated and info.calibration.threshold == 1.0
    assert info.calibration.samples == 0 and info.calibration.reliability == []
    # 190 rows: below the server's background-calibration minimum (200), so only Calibrate fits it
    x = clustered(190, seed=103)
    ingest(lite, name, x)

    cal = lite.calibrate(name, samples=60)
    assert isinstance(cal, bitrag.CalibrationInfo)
    assert cal.calibrated and cal.samples == 60 and cal.source == "pseudo"
    assert 0.0 <= cal.threshold <= 1.0 and cal.target_recall == pytest.approx(0.95)
    assert cal.rows_at_calibration == 190 and cal.duration_us > 0 and cal.calibrated_unix_ms > 0
    assert len(cal.reliability) == 5 and sum(b.count for b in cal.reliability) == 60
    for b in cal.reliability:
        assert isinstance(b, bitrag.ReliabilityBin)
        assert b.lo <= b.predicted <= b.hi and 0.0 <= b.measured <= 1.0

    d = lite.describe_collection(name)
    assert d.gate == g
    dc = d.calibration
    assert (dc.calibrated, dc.samples, dc.source, dc.rows_at_calibration, dc.calibrated_unix_ms) == (
        True, 60, "pseudo", 190, cal.calibrated_unix_ms)
    assert dc.threshold == cal.threshold and dc.reliability == cal.reliability and dc.duration_us == 0
    listed = {c.name: c for c in lite.list_collections()}[name]
    assert listed.calibration == dc

    res = lite.search(name, x[3], top_k=5)
    assert res.diagnostics.calibrated and res.diagnostics.threshold == pytest.approx(cal.threshold)

    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        lite.calibrate(name, samples=5)
    assert ei.value.field == "samples"
    with pytest.raises(bitrag.NotFoundError):
        lite.calibrate(unique("missing"))
    small = unique("small")
    lite.create_collection(small, embedder="none", dimension=DIM)
    ingest(lite, small, clustered(10, seed=104))
    with pytest.raises(bitrag.FailedPreconditionError):
        lite.calibrate(small)


def test_fixed_threshold_gate_and_invalid_gate(lite: bitrag.Client) -> None:
    name = unique("fixed")
    info = lite.create_collection(name, embedder="none", dimension=DIM,
                                  gate=GateConfig(confidence_threshold=0.5, fallback=("exact",)))
    assert info.gate.confidence_threshold == 0.5 and info.gate.fallback == ("exact",)
    assert info.calibration.threshold == 0.5  # the threshold in force, though not calibrated
    x = clustered(300, seed=105)
    ingest(lite, name, x)
    for q in queries(x, 5, seed=106):
        d = lite.search(name, q, top_k=K).diagnostics
        assert d.threshold == 0.5 and d.path in ("BINARY_RESCORED", "FALLBACK_EXACT")
        assert (d.confidence >= 0.5) if d.path == "BINARY_RESCORED" else (d.confidence == 1.0)

    for gate, field in [
        (GateConfig(fallback=("bogus",)), "gate.fallback[0]"),
        (GateConfig(confidence_threshold=1.5), "gate.confidence_threshold"),
        (GateConfig(fallback=("collection",)), "gate.fallback_collection"),
        (GateConfig(fallback=("collection",), fallback_collection="nope_not_here"), "gate.fallback_collection"),
    ]:
        bad = unique("bad")
        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            lite.create_collection(bad, embedder="none", dimension=DIM, gate=gate)
        assert ei.value.field == field
        assert bad not in {c.name for c in lite.list_collections()}


# ---- CLI ------------------------------------------------------------------------------------------


def test_cli_calibrate_and_search_modes(lite_server, lite: bitrag.Client) -> None:
    name = unique("clicap")
    lite.create_collection(name, embedder="none", dimension=DIM)
    ingest(lite, name, clustered(150, seed=107))
    p = bitrag_cli("calibrate", name, "--samples", "40", "--json", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    cal = json.loads(p.stdout)
    assert cal["calibrated"] is True and cal["samples"] == 40 and cal["source"] == "pseudo"
    assert 0.0 <= cal["threshold"] <= 1.0 and cal["duration_us"] > 0
    assert sum(b["count"] for b in cal["reliability"]) == 40
    assert set(cal["reliability"][0]) == {"lo", "hi", "count", "predicted", "measured"}
    p = bitrag_cli("calibrate", name, "--samples", "40", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert "gate calibration (40 pseudo samples" in p.stdout and "threshold" in p.stdout
    p = bitrag_cli("calibrate", name, "--samples", "3", target=lite_server.target)
    assert p.returncode == 1 and "samples" in p.stderr

    # text search needs an embedder: a small text collection with the server's local model
    txt = unique("clitxt")
    lite.create_collection(txt)
    lite.ingest_documents(txt, [
        Document("rust", "Rust guarantees memory safety without a garbage collector."),
        Document("bread", "Sourdough bread needs flour, water, salt and a starter."),
        Document("tides", "Ocean tides come from the gravitational pull of the moon."),
        Document("cats", "Cats are small domesticated felines that purr and chase mice."),
    ])
    query = "Which language is memory safe?"
    p = bitrag_cli("search", query, "-c", txt, "-k", "3", "--mode", "exact", "--json", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    d = res["diagnostics"]
    assert (d["mode"], d["path"], d["confidence"], d["candidates_examined"]) == ("EXACT", "EXACT", 1.0, 4)
    want = lite.search(txt, query, top_k=3, mode="EXACT")
    assert [h["chunk_id"] for h in res["hits"]] == [h.chunk_id for h in want.hits]
    assert res["hits"][0]["document_id"] == "rust"
    assert [h["score"] for h in res["hits"]] == pytest.approx([h.score for h in want.hits], abs=1e-6)

    p = bitrag_cli("search", query, "-c", txt, "-k", "2", "--threshold", "1", "--json", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)["diagnostics"]
    assert d["mode"] == "AUTO" and d["path"].startswith("FALLBACK_") and d["threshold"] == 1.0
    p = bitrag_cli("search", query, "-c", txt, "--threshold", "2", target=lite_server.target)
    assert p.returncode == 1 and "confidence_threshold" in p.stderr


# ---- metrics --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text exposition (0 if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pat = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$")
    for line in text.splitlines():
        m = pat.match(line)
        if m and (m.group(1) or "") == want:
            return float(m.group(2))
    return 0.0


def test_metrics_endpoint(start_bitrag, tmp_path: Path) -> None:
    port = _free_port()
    sp = start_bitrag(tmp_path / "metrics", extra_args=[
        "--metrics-port", str(port), "--embedder", "none", "--calibration-query-rate", "0"])
    url = f"http://127.0.0.1:{port}/metrics"
    assert f"bitrag metrics on {url}" in sp.text()
    with bitrag.Client(sp.target) as c:
        name = unique("met")
        c.create_collection(name, dimension=DIM)
        x = clustered(600, seed=108)
        ingest(c, name, x)
        qs = queries(x, 7, seed=109)
        for q in qs[:3]:
            assert c.search(name, q, top_k=K, mode="RESCORED").diagnostics.path == "BINARY_RESCORED"
        for q in qs[3:5]:
            assert c.search(name, q, top_k=K, confidence_threshold=1.0).diagnostics.path == "FALLBACK_EXACT"
        assert c.search(name, qs[5], top_k=K, mode="EXACT").diagnostics.path == "EXACT"
        assert c.search(name, qs[6], top_k=K, mode="BINARY_ONLY").diagnostics.path == "BINARY_ONLY"
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()

    lat = "bitrag_search_latency_seconds_count"
    assert _metric(text, lat, path="BINARY_RESCORED") == 3
    assert _metric(text, lat, path="FALLBACK_EXACT") == 2
    assert _metric(text, lat, path="EXACT") == 1
    assert _metric(text, lat, path="BINARY_ONLY") == 1
    assert _metric(text, "bitrag_search_latency_seconds_sum", path="FALLBACK_EXACT") > 0
    # threshold 1: the default chain tried widen, then exact, for each forced search
    assert _metric(text, "bitrag_search_fallbacks_total", strategy="widen") == 2
    assert _metric(text, "bitrag_search_fallbacks_total", strategy="exact") == 2
    # confidence: AUTO and RESCORED searches only; candidates: every search
    assert _metric(text, "bitrag_search_confidence_bucket", le="+Inf") == 5
    assert _metric(text, "bitrag_search_confidence_count") == 5
    assert _metric(text, "bitrag_search_confidence_bucket", le="1.0") == 5  # confidences are <= 1
    assert _metric(text, "bitrag_search_candidates_examined_bucket", le="+Inf") == 7
    # rows scored: 40 per RESCORED search, > 600 for the fallbacks and the exact scan, 0 for BINARY_ONLY
    assert _metric(text, "bitrag_search_candidates_examined_bucket", le="40.0") == 4
    assert _metric(text, "bitrag_search_candidates_examined_bucket", le="320.0") == 4
    assert _metric(text, "bitrag_search_candidates_examined_bucket", le="640.0") == 5  # EXACT: 600 rows
