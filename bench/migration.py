"""Migration on scifact (both embedding sets): import rows/s from a float32 Milvus collection and from
a Chroma store, then the shadow report against each (overlap@10, NDCG@10 of both against the qrels,
p50 latency, resident memory of both processes). Everything real and in its own process:

  legacy Milvus   a Milvus standalone server (PyPI `milvus` 2.3), FLOAT_VECTOR, HNSW (M 16,
                  efConstruction 200; searched with ef 64), COSINE, Bounded consistency (Milvus'
                  default): the index a float32 RAG typically runs on
  legacy Chroma   a Chroma server (`chroma run`, chromadb's own binary), cosine space, HNSW defaults
  bitrag          `bitrag serve` on Milvus Lite (its child process), AUTO mode, calibrated gate

    .venv/bin/python bench/migration.py [--models minilm-l6-384 mpnet-base-768] [--out bench/results]

Reports: bench/results/migration_scifact_<model>_<store>.{md,json,png} and a summary
bench/results/migration_scifact.{md,json}. The import runs through `bitrag_server.migrate` exactly
as `bitrag migrate` does (same code, in this process); rows/s is its own figure (source reads +
checks + Ingest over gRPC, verification excluded and reported separately).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "scifact"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def corpus(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "corpus.jsonl").read_text().splitlines() if line.strip()]


def build_milvus(uri: str, name: str, rows: list[dict], vecs: np.ndarray) -> float:
    from pymilvus import DataType, MilvusClient

    t0 = time.perf_counter()
    mc = MilvusClient(uri=uri)
    if mc.has_collection(name):
        mc.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vecs.shape[1])
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("title", DataType.VARCHAR, max_length=4096)
    # Milvus' default consistency (Bounded): Strong would add the cluster-timestamp wait (~0.2 s) to every search
    mc.create_collection(name, schema=schema, consistency_level="Bounded")
    for s in range(0, len(rows), 1000):
        mc.insert(name, [{"id": r["_id"], "vector": vecs[i].tolist(), "text": r["text"], "title": r.get("title", "")}
                         for i, r in enumerate(rows[s : s + 1000], s)])
    mc.flush(name)
    ip = mc.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    mc.create_index(name, ip)
    mc.load_collection(name)
    n = 0
    deadline = time.monotonic() + 60
    while n < len(rows) and time.monotonic() < deadline:  # Bounded reads: wait until every row is visible
        n = int(mc.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
        time.sleep(0.5)
    mc.close()
    return time.perf_counter() - t0


def build_chroma(url: str, name: str, rows: list[dict], vecs: np.ndarray) -> float:
    import chromadb
    from chromadb.config import Settings

    t0 = time.perf_counter()
    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=Settings(anonymized_telemetry=False))
    if name in [c if isinstance(c, str) else c.name for c in client.list_collections()]:
        client.delete_collection(name)
    coll = client.create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
    for s in range(0, len(rows), 500):
        part = rows[s : s + 500]
        coll.add(ids=[r["_id"] for r in part], embeddings=vecs[s : s + len(part)],
                 documents=[r["text"] for r in part], metadatas=[{"title": r.get("title", "")} for r in part])
    return time.perf_counter() - t0


def start_chroma(path: Path) -> tuple[subprocess.Popen, str]:
    from bitrag_server.milvus_standalone import free_ports

    port = free_ports(1)[0]
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(exe), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--models", nargs="+", default=["minilm-l6-384", "mpnet-base-768"])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()

    from bitrag import Client
    from bitrag_server.bench.common import environment
    from bitrag_server.launch import ServerProcess
    from bitrag_server.migrate.importer import ImportOptions, run_import
    from bitrag_server.migrate.shadow import ShadowOptions, run_shadow
    from bitrag_server.migrate.sources import FieldMap
    from bitrag_server.milvus_standalone import MilvusStandalone

    rows = corpus(args.data)
    summary: dict = {"benchmark": "migration", "dataset": "scifact", "docs": len(rows), "environment": environment(),
                     "command": "python bench/migration.py " + " ".join(sys.argv[1:]), "runs": []}
    with tempfile.TemporaryDirectory(prefix="bitrag-migration-") as tmp:
        tmpd = Path(tmp)
        milvus = MilvusStandalone(tmpd / "milvus").start()
        chroma, chroma_url = start_chroma(tmpd / "chroma")
        srv = ServerProcess(tmpd / "bitrag", extra_args=["--calibration-query-rate", "0"]).start()
        try:
            for model in args.models:
                vecs = np.load(args.data / "emb" / model / "corpus.npy").astype(np.float32)
                legacy_name = f"scifact_{model.split('-')[0]}"
                t_m = build_milvus(milvus.uri, legacy_name, rows, vecs)
                t_c = build_chroma(chroma_url, legacy_name, rows, vecs)
                log(f"{model}: legacy stores built (Milvus {t_m:.1f} s, Chroma {t_c:.1f} s)")
                for store, spec, pid in (("milvus", f"milvus:{milvus.uri}", milvus.pid),
                                         ("chroma", f"chroma:{chroma_url}", chroma.pid)):
                    coll = f"{store}_{model.split('-')[0]}"
                    opts = ImportOptions(source=spec, collection=coll, target=srv.target, from_collection=legacy_name,
                                         fields=FieldMap(), batch_size=args.batch_size, checkpoint=tmpd / f"{coll}.json",
                                         progress=False)
                    rep = run_import(opts)
                    log(f"{model} {store}: {rep['rows']} rows, {rep['rows_per_s']} rows/s, verification "
                        f"{'ok' if rep['ok'] else 'FAILED'} ({rep['verification']['vectors_bit_identical']} bit-identical)")
                    with Client(srv.target, timeout=600) as c:
                        cal = c.calibrate(coll)
                    stem = f"migration_scifact_{model}_{store}"
                    label = "Milvus 2.3 standalone (HNSW, COSINE)" if store == "milvus" else "Chroma server (HNSW, cosine)"
                    sh = run_shadow(ShadowOptions(
                        source=spec, collection=coll, target=srv.target, from_collection=legacy_name,
                        search_params={"ef": 64} if store == "milvus" else {},
                        queries=args.data / "emb" / model / "queries.npy", query_ids=args.data / "queries.jsonl",
                        qrels=args.data / "qrels" / "test.tsv", k=10, mode="AUTO", target_overlap=0.9,
                        bitrag_pid=srv.proc.pid if srv.proc else 0, legacy_pid=pid, out=args.out, name=stem,
                        progress=False, label=label,
                        command=f"python bench/migration.py --models {model}  # then: bitrag migrate shadow {spec} ...",
                    ))
                    log(f"{model} {store}: {sh['verdict']}")
                    run = {
                        "model": model, "store": store, "legacy": label, "import": {
                            k: rep[k] for k in ("rows", "seconds", "rows_per_s", "batches", "ingest")},
                        "verification": {k: rep["verification"][k] for k in (
                            "counts_equal", "sample", "vectors_bit_identical", "texts_equal", "metadata_equal", "seconds")},
                        "calibration_threshold": round(cal.threshold, 4),
                        "shadow": {k: sh[k] for k in ("overlap@k", "recall@k_vs_legacy", "top1_agreement", "ndcg@k",
                                                      "latency_ms", "memory", "bitrag_fallback_rate", "score_delta",
                                                      "verdict", "queries")},
                        "report": f"{stem}.md",
                    }
                    summary["runs"].append(run)
        finally:
            srv.stop()
            chroma.terminate()
            chroma.wait(30)
            milvus.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "migration_scifact.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (args.out / "migration_scifact.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0


def markdown(s: dict) -> str:
    env = s["environment"]
    lines = [
        "# Migration on scifact: import and shadow comparison",
        "",
        (f"{s['docs']:,} abstracts, 300 test queries with qrels; precomputed float32 embeddings. Legacy stores run as "
        "their own processes (Milvus 2.3 standalone with an HNSW COSINE index, M 16, efConstruction 200, searched with "
        "ef 64, Bounded consistency; a Chroma server, cosine space, HNSW defaults), bitrag as "
        "`bitrag serve` on Milvus Lite, queried in AUTO mode over gRPC. Import = `bitrag migrate` (reads, checks, "
        "Ingest; rows/s excludes the verification, listed apart). Latency is client-side wall time per query in the "
        "shadow process; memory is the resident set of each process tree at the end of the shadow run."),
        "",
        (f"Measured {env['date']} on {env['machine']} (git {env['git']}), a machine shared with other engineers' "
         "test runs: absolute times are noisy, the side-by-side ratios less so."),
        "",
        ("| model | legacy store | import rows/s | verified (bit-identical of sample) | overlap@10 | NDCG@10 legacy | "
         "NDCG@10 bitrag | p50 legacy | p50 bitrag | RSS legacy | RSS bitrag | bitrag fallback | verdict |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["runs"]:
        sh = r["shadow"]
        v = r["verification"]
        mem = sh["memory"]
        lines.append(
            f"| {r['model']} | {r['legacy']} | {r['import']['rows_per_s']:,} | {v['vectors_bit_identical']}/{v['sample']} "
            f"| {sh['overlap@k']:.3f} | {sh['ndcg@k']['legacy']:.4f} | {sh['ndcg@k']['bitrag']:.4f} | "
            f"{sh['latency_ms']['legacy']['p50']:.2f} ms | {sh['latency_ms']['bitrag']['p50']:.2f} ms | "
            f"{(mem['legacy'] or {}).get('rss_bytes', 0) / 2**20:.0f} MiB | {(mem['bitrag'] or {}).get('rss_bytes', 0) / 2**20:.0f} MiB | "
            f"{sh['bitrag_fallback_rate']:.1%} | {sh['verdict'].split(':')[0]} |"
        )
    lines += ["", "Per-run reports (with plots): " + ", ".join(f"[{r['model']} {r['store']}]({r['report']})" for r in s["runs"]),
              "", "Reproduce: `" + s["command"] + "`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
