"""`bitrag migrate` end to end: real legacy stores -> a real `bitrag serve` over gRPC, the CLI as a
subprocess. Import from every store kind with verification, a kill -9 mid-import and a rerun
(nothing lost or doubled), the metric/norm/dimension policy, the shadow report, live shadow reads
as Prometheus metrics, the `collection` fallback to the legacy store and cutover."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import bitrag
import legacy_stores as ls
import numpy as np
import pytest
from bitrag_server.milvus_standalone import free_ports
from servers import ServerProc

C = ls.corpus(300, 32)


def migrate(target: str, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "--target", target, "migrate", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def report(cp: subprocess.CompletedProcess) -> dict:
    assert cp.stdout.strip(), cp.stderr[-3000:]
    return json.loads(cp.stdout.strip().splitlines()[-1])


def name() -> str:
    return f"m_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """kind -> the `bitrag migrate` source arguments of a store holding C."""
    base = tmp_path_factory.mktemp("legacy")
    ls.milvus_lite_file(base / "legacy.db", "docs")
    ls.chroma(base / "chroma", "docs", C)
    ls.qdrant(base / "qdrant", "docs", C)
    ls.llamaindex(base / "li", C)
    npy = ls.files(base / "files", C, "parquet")
    return {
        "milvus": [f"milvus:{base / 'legacy.db'}", "--from-collection", "docs", "--document-id-field", "doc"],
        "chroma": [f"chroma:{base / 'chroma'}", "--from-collection", "docs"],
        "qdrant": [f"qdrant:{base / 'qdrant'}", "--from-collection", "docs", "--id-field", "chunk_id"],
        "llamaindex": [f"llamaindex:{base / 'li'}"],
        "files": [f"files:{npy}"],
    }


@pytest.mark.parametrize("kind", ["milvus", "chroma", "qdrant", "llamaindex", "files"])
def test_import_from_each_store_verifies_bit_identical(lite_server: ServerProc, legacy, kind: str, tmp_path: Path) -> None:
    coll = name()
    cp = migrate(lite_server.target, *legacy[kind], "-c", coll, "--batch-size", "64", "--json", "--quiet", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr[-3000:]
    rep = report(cp)
    v = rep["verification"]
    assert rep["ok"] and v["counts_equal"] and v["bitrag_rows"] == 300
    assert v["sample"] == 300 and v["vectors_bit_identical"] == v["texts_equal"] == v["metadata_equal"] == 300
    assert rep["rows_per_s"] > 0 and (tmp_path / ".bitrag-migrate" / f"{coll}.json").exists()
    with lite_server.client() as c:
        res = c.search(coll, C.vectors[42], top_k=3, mode="EXACT")
        assert res.hits[0].chunk_id == C.ids[42] and res.hits[0].text == C.texts[42]
        assert res.hits[0].score == pytest.approx(1.0, abs=1e-5)
        records, _ = c.fetch(coll, [res.hits[0].document_id])
        grouped = kind in ("milvus", "llamaindex", "files")  # a document id field: 3 chunks per document
        assert len(records) == (3 if grouped else 1)
        if kind != "chroma":  # Chroma's read-back is within an ulp of what it was given (sources test)
            r = next(r for r in records if r.id == C.ids[42])
            assert r.vector.tobytes() == C.vectors[42].tobytes()


def test_kill_9_mid_import_then_rerun_loses_and_doubles_nothing(lite_server: ServerProc, tmp_path: Path) -> None:
    uri = tmp_path / "big.db"
    ls.milvus_lite_file(uri, "big", n=3000, seed=5)
    coll = name()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    cmd = [sys.executable, "-m", "bitrag.cli", "--target", lite_server.target, "migrate", f"milvus:{uri}", "-c", coll,
           "--batch-size", "100", "--max-rows-per-s", "600", "--quiet", "--json"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / ".bitrag-migrate" / f"{coll}.json"
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists():
            try:
                done = json.loads(ckpt.read_text())["rows_done"]
            except (ValueError, KeyError):  # never torn (atomic rename), but be safe
                done = 0
            if done >= 700:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_at = json.loads(ckpt.read_text())["rows_done"]
    assert 700 <= killed_at < 3000
    with lite_server.client() as c:
        assert c.describe_collection(coll).rows >= killed_at  # acknowledged batches are in

    cp = migrate(lite_server.target, f"milvus:{uri}", "-c", coll, "--batch-size", "100", "--json", "--quiet", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr[-3000:]
    rep = report(cp)
    assert rep["resumed_from_row"] == killed_at and rep["runs"] == 2 and rep["rows"] == 3000
    ing = rep["ingest"]
    # every row written once; a batch in flight at the kill may be sent again and is then a no-op
    assert ing["chunks_written"] == 3000 and ing["documents_replaced"] == 0 and ing["documents_unchanged"] <= 100
    assert rep["verification"]["ok"] and rep["verification"]["vectors_bit_identical"] == 1000
    with lite_server.client() as c:
        info = c.describe_collection(coll)
        # nothing doubled: 3000 live rows. On disk, the batch in flight at the kill may have left
        # unreachable float rows: the server cancels the dead client's Ingest between the float
        # append and the Milvus insert (engine.py's write order; a compaction reclaims them).
        assert info.rows == 3000 and 3000 <= info.float_rows <= 3100

    again = report(migrate(lite_server.target, f"milvus:{uri}", "-c", coll, "--json", "--quiet", cwd=tmp_path))
    assert again["ok"] and again["runs"] == 2  # finished: verified, not streamed again
    redo = report(migrate(lite_server.target, f"milvus:{uri}", "-c", coll, "--restart", "--batch-size", "500",
                          "--json", "--quiet", cwd=tmp_path))
    assert redo["ingest"]["documents_unchanged"] == 3000 and redo["ingest"]["chunks_written"] == 0  # idempotent


def test_norms_metrics_and_dimensions_are_explained_not_converted(lite_server: ServerProc, tmp_path: Path) -> None:
    uri = str(tmp_path / "ip.db")  # norms ~5.6: an inner-product store
    ls.milvus_lite_file(Path(uri), "ip", n=120, seed=2, unit=False, metric="IP")
    coll = name()
    cp = migrate(lite_server.target, f"milvus:{uri}", "-c", coll, "--quiet", cwd=tmp_path)
    assert cp.returncode == 2
    assert "norm" in cp.stderr and "inner product" in cp.stderr and "--normalize" in cp.stderr
    with lite_server.client() as c:
        assert c.describe_collection(coll).rows == 0  # nothing was sent
    rep = report(migrate(lite_server.target, f"milvus:{uri}", "-c", coll, "--normalize", "--json", "--quiet", cwd=tmp_path))
    assert rep["ok"] and rep["policy"]["normalised_rows"] == 120
    assert rep["verification"]["compared_to"].startswith("the source rows normalised")
    assert any("ranks exactly as cosine" in n for n in rep["policy"]["notes"])

    l2 = str(tmp_path / "l2.db")
    ls.milvus_lite_file(Path(l2), "l2", metric="L2")  # unit vectors in an L2 store: same ranking, imported as is
    rep = report(migrate(lite_server.target, f"milvus:{l2}", "-c", name(), "--json", "--quiet", cwd=tmp_path))
    assert rep["ok"] and rep["policy"]["metric"] == "l2" and rep["policy"]["normalised_rows"] == 0

    uri48 = str(tmp_path / "d48.db")
    ls.milvus_lite_file(Path(uri48), "d48", n=50, d=48, seed=3)
    cp = migrate(lite_server.target, f"milvus:{uri48}", "-c", coll, "--quiet", cwd=tmp_path)
    assert cp.returncode == 2 and "dimension 32, the source 48" in cp.stderr
    odd = tmp_path / "odd"
    ls.files(odd, ls.corpus(20, 30, seed=4))
    cp = migrate(lite_server.target, f"files:{odd / 'vectors.npy'}", "-c", name(), "--quiet", cwd=tmp_path)
    assert cp.returncode == 2 and "multiple of 8" in cp.stderr


@pytest.mark.standalone
def test_import_from_milvus_standalone(standalone_server: ServerProc, milvus_standalone: str, tmp_path: Path) -> None:
    ls.milvus(milvus_standalone, "legacy_e2e", C)
    coll = name()
    rep = report(migrate(standalone_server.target, f"milvus:{milvus_standalone}", "--from-collection", "legacy_e2e",
                         "-c", coll, "--json", "--quiet", cwd=tmp_path))
    assert rep["ok"] and rep["verification"]["vectors_bit_identical"] == 300


def test_shadow_report_and_go_no_go(lite_server: ServerProc, legacy, tmp_path: Path) -> None:
    coll = name()
    assert migrate(lite_server.target, *legacy["chroma"], "-c", coll, "--quiet", cwd=tmp_path).returncode == 0
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{C.ids[i]}\t1\n" for i in range(40)))
    np.save(tmp_path / "q.npy", C.vectors[:40] + np.float32(0.01))
    (tmp_path / "q.txt").write_text("".join(f"q{i}\n" for i in range(40)))
    cp = migrate(lite_server.target, "shadow", *legacy["chroma"], "-c", coll, "--queries", str(tmp_path / "q.npy"),
                 "--query-ids", str(tmp_path / "q.txt"), "--qrels", str(qrels), "--bitrag-pid", str(lite_server.proc.pid),
                 "--out", str(tmp_path / "rep"), "--name", "shadow", "--json", "--quiet", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr[-3000:]
    doc = report(cp)
    assert doc["go"] and doc["verdict"].startswith("GO") and doc["queries"] == 40
    assert doc["overlap@k"] >= 0.9 and doc["top1_agreement"] == 1.0
    assert doc["ndcg@k"]["bitrag"] == doc["ndcg@k"]["legacy"] == 1.0  # each query's row is its only relevant one
    assert doc["score_delta"]["max_abs"] < 1e-3  # the same float32 rows, scored by both
    assert doc["memory"]["bitrag"]["rss_bytes"] > 0 and doc["latency_ms"]["legacy"]["p50"] > 0
    for ext in ("md", "json", "png"):
        assert (tmp_path / "rep" / f"shadow.{ext}").stat().st_size > 0
    assert "GO:" in (tmp_path / "rep" / "shadow.md").read_text()
    cp = migrate(lite_server.target, "shadow", *legacy["chroma"], "-c", coll, "--sample", "30", "--target-overlap",
                 "1.01", "--no-plots", "--out", str(tmp_path / "rep2"), "--json", "--quiet", cwd=tmp_path)
    assert cp.returncode == 1 and report(cp)["verdict"].startswith("NO-GO")


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _serve(data: Path, port: int, **env: str) -> ServerProc:
    sp = ServerProc(data, extra_args=["--metrics-port", str(port), "--calibration-query-rate", "0"], env=env)
    sp.start()
    return sp


def test_live_shadow_metrics_legacy_fallback_and_cutover(tmp_path: Path) -> None:
    uri = tmp_path / "legacy.db"
    ls.milvus_lite_file(uri, "docs")
    port, port2 = free_ports(2)
    sp = _serve(tmp_path / "data", port, BITRAG_SHADOW_MAX_INFLIGHT="32")  # room for all 20: none dropped
    try:
        with sp.client() as c:
            with pytest.raises(bitrag.InvalidArgumentError) as e:  # nothing would answer "collection"
                c.create_collection("live", dimension=32, embedder="none", gate=bitrag.GateConfig(fallback=("collection",)))
            assert e.value.field == "gate.fallback_collection"
            c.create_collection("live", dimension=32, embedder="none")
            c.ingest_vectors("live", C.vectors, ids=C.ids, texts=C.texts, metadata=C.metadata)
            info = c.set_legacy_store("live", bitrag.LegacyStore(source=f"milvus:{uri}", collection="docs", shadow_rate=1.0),
                                      fallback=["collection", "exact"])
            assert info.gate.legacy_store.source == f"milvus:{uri}" and info.gate.fallback == ("collection", "exact")
            for i in range(20):
                c.search("live", C.vectors[i], top_k=5, mode="EXACT")  # exact on both sides: overlap 1
            deadline = time.monotonic() + 60
            while _metric(_scrape(port), "bitrag_shadow_reads_total", result="ok") < 20 and time.monotonic() < deadline:
                time.sleep(0.2)
            text = _scrape(port)
            assert _metric(text, "bitrag_shadow_reads_total", collection="live", result="ok") == 20
            assert _metric(text, "bitrag_shadow_overlap_count", collection="live") == 20
            assert _metric(text, "bitrag_shadow_overlap_sum", collection="live") == pytest.approx(20.0)  # same top-5
            assert _metric(text, "bitrag_shadow_latency_seconds_count", collection="live", system="legacy") == 20
            assert _metric(text, "bitrag_shadow_latency_seconds_count", collection="live", system="bitrag") == 20

            # below the threshold (1 = always), AUTO answers from the legacy store, filters mapped
            res = c.search("live", C.vectors[7], top_k=5, confidence_threshold=1.0, filter='tag == "b"')
            assert res.diagnostics.path == "FALLBACK_COLLECTION"
            assert res.hits and all(h.metadata["tag"] == "b" for h in res.hits)
            res = c.search("live", C.vectors[7], top_k=5, confidence_threshold=1.0)
            assert res.hits[0].chunk_id == C.ids[7] and res.hits[0].score == pytest.approx(1.0, abs=1e-5)
            assert res.hits[0].text == C.texts[7]

            # cutover of this collection: unlinked, "collection" leaves the chain
            info = c.set_legacy_store("live", None)
            assert info.gate.legacy_store.source == "" and info.gate.fallback == ("exact",)
            res = c.search("live", C.vectors[7], top_k=5, confidence_threshold=1.0)
            assert res.diagnostics.path == "FALLBACK_EXACT" and res.hits[0].chunk_id == C.ids[7]
            # rollback: linked again
            c.set_legacy_store("live", bitrag.LegacyStore(source=f"milvus:{uri}", collection="docs"),
                               fallback=["collection", "exact"])
            with pytest.raises(bitrag.InvalidArgumentError) as e:
                c.set_legacy_store("live", bitrag.LegacyStore(source="pinecone:x"))
            assert e.value.field == "legacy_store.source"
    finally:
        sp.stop()
    # server-wide cutover: one setting, no request; the chain goes on to "exact"
    sp = _serve(tmp_path / "data", port2, BITRAG_LEGACY_READS="false")
    try:
        with sp.client() as c:
            res = c.search("live", C.vectors[7], top_k=5, confidence_threshold=1.0)
            assert res.diagnostics.path == "FALLBACK_EXACT" and res.hits[0].chunk_id == C.ids[7]
        assert _metric(_scrape(port2), "bitrag_legacy_fallback_total", collection="live", result="disabled") == 1
        assert re.search(r'bitrag_shadow_reads_total\{collection="live",result="ok"\} [1-9]', _scrape(port2)) is None
    finally:
        sp.stop()
