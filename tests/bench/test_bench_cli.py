"""`bitrag bench quality|scale|synth|plots` end to end: the real CLI, real servers (Milvus Lite),
real gRPC; small data so the whole file runs in well under a minute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bitrag_server.bench.cli import parse_n
from bitrag_server.bench.common import rotated
from bitrag_server.bench.synth import write_beir

from .conftest import bench_cli, one_json

MODES = ["float32_exact", "hamming_only", "rescored_x1", "rescored_x2", "rescored_x4", "rescored_x8", "rescored_x16",
         "auto"]
FIGURES = ["recall@1", "recall@10", "recall@100", "retention", "fallback_rate", "p50_ms"]


@pytest.mark.parametrize("qrels", [True, False], ids=["qrels", "no-qrels"])
def test_quality_json_on_a_beir_directory(model, tmp_path: Path, results_dir: Path, qrels: bool) -> None:
    data = write_beir(tmp_path / "tiny", model, 300, 25, seed=5, qrels=qrels, name="synth")
    p = bench_cli("quality", "--data", str(data), "--embeddings", "synth", "--json", "--out", str(results_dir))
    assert p.returncode == 0, p.stderr[-3000:]
    doc = one_json(p.stdout)
    assert doc["docs"] == 300 and doc["dim"] == 768 and doc["queries"] == 25 and doc["qrels"] is qrels
    assert list(doc["modes"]) == MODES
    for name, m in doc["modes"].items():
        for f in FIGURES:
            assert isinstance(m[f], (int, float)), (name, f)
        assert ("ndcg@10" in m) is qrels, name
        assert 0.0 <= m["recall@10"] <= 1.0 and m["p50_ms"] > 0
        assert m["retention"] <= 1.05, (name, m["retention"])
    exact = doc["modes"]["float32_exact"]
    assert exact["recall@1"] == exact["recall@10"] == exact["recall@100"] == 1.0
    assert exact["retention"] == 1.0 and exact["fallback_rate"] == 0.0
    if qrels:  # qrels judge each query's exact top 3: exact search is a perfect ranking
        assert exact["ndcg@10"] == pytest.approx(1.0)
        assert doc["modes"]["hamming_only"]["ndcg@10"] <= exact["ndcg@10"]
    # more oversampling never loses recall here, and the top of it is near exact
    rec = [doc["modes"][f"rescored_x{o}"]["recall@10"] for o in (1, 4, 16)]
    assert rec == sorted(rec) and rec[-1] >= 0.95
    assert doc["modes"]["hamming_only"]["recall@10"] < rec[-1]
    assert doc["modes"]["auto"]["recall@10"] >= doc["modes"]["rescored_x4"]["recall@10"]
    stem = "quality_tiny_synth_lite"
    for suffix in (".json", ".md", "_recall_latency.png"):
        assert (results_dir / f"{stem}{suffix}").stat().st_size > 0, suffix
    assert json.loads((results_dir / f"{stem}.json").read_text())["modes"].keys() == doc["modes"].keys()


def test_scale_tiny_on_lite_writes_report_with_every_baseline(tmp_path: Path, results_dir: Path) -> None:
    work = tmp_path / "work"
    p = bench_cli("scale", "--n", "2000", "--queries", "40", "--exact-queries", "10", "--work-dir", str(work),
                  "--out", str(results_dir), "--name", "scale_test", "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = one_json(p.stdout)
    e = doc["runs"]["2000"]
    assert e["n"] == 2000 and e["backend"] == "lite" and e["collection"]["rows"] == 2000
    assert e["collection"]["bytes_in_ram_codes"] == 2000 * 768 // 8
    for mode in ("hamming_only", "rescored_x1", "rescored_x4", "auto", "exact"):
        m = e["modes"][mode]
        assert m["p50_ms"] > 0 and m["p95_ms"] >= m["p50_ms"] and m["p99_ms"] >= m["p95_ms"] and m["qps"] > 0, mode
    assert e["modes"]["exact"]["recall@10"] == 1.0
    assert e["modes"]["rescored_x4"]["recall@10"] > e["modes"]["hamming_only"]["recall@10"]
    assert set(e["concurrency"]) == {"c1", "c8", "c32"} and e["concurrency"]["c32"]["auto"]["qps"] > 0
    assert e["modes"]["auto"]["milvus_calls_mean"] >= 0 and "server_stage_p50_us" in e["modes"]["auto"]
    plan = e["plan"]
    assert plan["pool"] > 0 and plan["route"] in ("binary", "exact") and plan["rows"] == 2000
    base = e["baselines"]
    assert {"numpy_exact", "float32_milvus", "faiss_hnsw", "faiss_binary_rescore", "hamming_only"} <= set(base)
    assert base["faiss_hnsw"]["runs"]["c1"]["recall@10"] > 0.9 and set(base["faiss_hnsw"]["runs"]) == {"c1", "c8", "c32"}
    assert base["faiss_binary_rescore"]["recall@10"] > e["modes"]["hamming_only"]["recall@10"]
    assert base["numpy_exact"]["recall@10"] == 1.0 and base["numpy_exact"]["in_ram"]
    f32 = base["float32_milvus"]
    assert f32["index"]["type"] == "FLAT" and f32["runs"]["c1"]["recall@10"] == 1.0
    assert f32["memory"]["rss"] > 0 and set(f32["runs"]) == {"c1", "c8", "c32"}
    # memory of bitrag: the server and its Milvus Lite child, at every snapshot
    for snap in ("idle", "after_ingest", "serving", "after_exact"):
        procs = {x["name"] for x in e["memory"][snap]["server"]["processes"]}
        assert "milvus" in procs and e["memory"][snap]["server"]["rss"] > 0, snap
    r = e["ratios"]
    for name in ("numpy_exact", "float32_milvus", "faiss_hnsw", "faiss_binary_rescore", "hamming_only"):
        assert r[name]["p50_latency_x"] > 0, name
    assert r["float32_milvus"]["memory_rss_x"] > 0 and r["float32_milvus"]["qps_c32_x"] > 0
    assert e["disk"]["vectors.f32"] == 2000 * 768 * 4
    for f in ("scale_test.json", "scale_test.md", "scale_test_recall_latency.png", "scale_test_latency_vs_n.png",
              "scale_test_memory_vs_n.png"):
        assert (results_dir / f).stat().st_size > 0, f
    md = (results_dir / "scale_test.md").read_text()
    assert "float32 Milvus FLAT (Lite)" in md and "IndexHNSWFlat" in md and "IndexBinaryIVF" in md and "numpy" in md
    assert "The search plan" in md and "Where AUTO's time goes" in md
    assert not (work / "run_lite_2000").exists()  # not --keep: server data removed, vectors cached
    assert (next((work / "synth").iterdir()) / "corpus.f32").stat().st_size == 2000 * 768 * 4

    # plots and markdown re-drawn from the JSON alone
    for f in results_dir.glob("scale_test*.png"):
        f.unlink()
    p = bench_cli("plots", "--results", str(results_dir), "scale_test")
    assert p.returncode == 0, p.stderr[-2000:]
    assert (results_dir / "scale_test_memory_vs_n.png").stat().st_size > 0


def test_synth_command_writes_vectors_and_ground_truth(tmp_path: Path) -> None:
    p = bench_cli("synth", "--out", str(tmp_path), "--n", "3k", "--queries", "10", "--ground-truth")
    assert p.returncode == 0, p.stderr[-2000:]
    (d,) = list(tmp_path.iterdir())
    assert json.loads((d / "corpus.json").read_text())["rows"] == 3000
    assert np.load(d / "queries_3000_10.npy").shape == (10, 768)
    assert (d / "gt_3000_10_100.npz").exists()


def test_parse_n() -> None:
    assert [parse_n(x) for x in ("2000", "100k", "1M", "10M", "1e6", "1_000")] == [
        2000, 100_000, 1_000_000, 10_000_000, 1_000_000, 1000]


def test_bench_help_lists_the_commands() -> None:
    p = bench_cli("--help", timeout=60)
    assert p.returncode == 0
    for cmd in ("quality", "scale", "synth", "gate", "plots"):
        assert cmd in p.stdout


def test_side_by_side_runs_rotate_which_mode_goes_first() -> None:
    """`rotated`: query i starts with mode i (mod the count), each mode once per query."""
    modes = ("AUTO", "EXACT", "RESCORED")
    orders = [rotated(modes, i) for i in range(4)]
    assert [o[0] for o in orders] == ["AUTO", "EXACT", "RESCORED", "AUTO"]
    assert all(sorted(o) == sorted(modes) for o in orders)
    assert rotated([], 3) == []
