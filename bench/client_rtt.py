"""Search round trip of the Node client (clients/node) against the Python SDK's, on the same server,
side by side in one run.

One `bitrag serve` (Milvus Lite, local embedder, no answer cache) holds the scifact corpus with its
precomputed all-MiniLM-L6-v2 vectors (5,183 x 384, `../shared/data/scifact/emb/minilm-l6-384`) in a
collection that embeds text queries with the same model. Each round times `--count` searches by
vector (scifact test queries, top 10, AUTO) and `--count` by text (the claims' text: the server
embeds them) from the Python SDK, then the same from the Node client (a separate process, warmed
up); rounds alternate so both see the same machine. Reported per client: p50 / p95 / mean ms over
every round, and the Node/Python ratio of the p50s.

    python bench/client_rtt.py --rounds 3 --count 200

Needs `npm ci` in clients/node. Writes bench/results/client_rtt.{json,md}.
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

import bitrag
from bitrag_server.launch import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "clients" / "node"


def stats(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3), "mean_ms": round(float(a.mean()), 3)}


def python_round(client: bitrag.Client, name: str, queries: np.ndarray, texts: list[str], count: int,
                 top_k: int) -> tuple[list[float], list[float]]:
    for q in queries[:20]:
        client.search(name, q, top_k=top_k)
    vec, txt = [], []
    for i in range(count):
        t0 = time.perf_counter()
        client.search(name, queries[i % len(queries)], top_k=top_k)
        vec.append((time.perf_counter() - t0) * 1000)
    for q in texts[:5]:
        client.search(name, q, top_k=top_k)
    for i in range(count):
        t0 = time.perf_counter()
        client.search(name, texts[i % len(texts)], top_k=top_k)
        txt.append((time.perf_counter() - t0) * 1000)
    return vec, txt


def node_round(target: str, name: str, qfile: Path, dim: int, texts: list[str], count: int,
               top_k: int) -> tuple[list[float], list[float]]:
    out = subprocess.run(
        ["node", str(NODE / "dist" / "bench" / "search_rtt.js"), target, name, str(qfile), str(dim),
         str(count), str(top_k), *texts],
        check=True, capture_output=True, text=True, timeout=1800,
    )
    res = json.loads(out.stdout)
    return res["vector_ms"], res["text_ms"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--count", type=int, default=200, help="timed searches per client, kind and round")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    subprocess.run([str(NODE / "node_modules" / ".bin" / "tsc"), "-p", "."], cwd=NODE, check=True)
    emb = args.data / "emb" / "minilm-l6-384"
    corpus = np.load(emb / "corpus.npy").astype(np.float32)
    queries = np.load(emb / "queries.npy").astype(np.float32)[:300]
    lines = (args.data / "queries.jsonl").read_text().splitlines()[:300]
    texts = [json.loads(line)["text"] for line in lines]
    ids = [json.loads(line)["_id"] for line in (args.data / "corpus.jsonl").read_text().splitlines()]
    dim = corpus.shape[1]
    rows: dict[str, dict[str, list[float]]] = {who: {"vector": [], "text": []} for who in ("python", "node")}
    with tempfile.TemporaryDirectory(prefix="bitrag-rtt-") as tmp:
        qfile = Path(tmp) / "queries.f32"
        qfile.write_bytes(queries.astype("<f4").tobytes())
        with ServerProcess(Path(tmp) / "data", env={"BITRAG_REDIS_URL": ""}) as srv, \
                bitrag.Client(srv.target, timeout=600) as c:
            name = "rtt"
            c.create_collection(name)  # local embedder: text queries use the model the vectors came from
            c.ingest_vectors(name, corpus, ids=ids)
            c.calibrate(name)
            for r in range(args.rounds):
                for who in ("python", "node") if r % 2 == 0 else ("node", "python"):
                    if who == "python":
                        vec, txt = python_round(c, name, queries, texts, args.count, args.top_k)
                    else:
                        vec, txt = node_round(srv.target, name, qfile, dim, texts, args.count, args.top_k)
                    rows[who]["vector"] += vec
                    rows[who]["text"] += txt
                    print(f"round {r + 1} {who}: vector p50 {np.median(vec):.2f} ms, "
                          f"text p50 {np.median(txt):.2f} ms", flush=True)
    report = {
        "setup": {"rows": int(corpus.shape[0]), "dim": dim, "top_k": args.top_k, "rounds": args.rounds,
                  "count": args.count, "mode": "AUTO", "backend": "Milvus Lite", "node": subprocess.run(
                      ["node", "--version"], capture_output=True, text=True).stdout.strip(),
                  "python": sys.version.split()[0], "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        **{who: {kind: stats(v) for kind, v in kinds.items()} for who, kinds in rows.items()},
    }
    report["node_over_python_p50"] = {
        kind: round(report["node"][kind]["p50_ms"] / report["python"][kind]["p50_ms"], 3)
        for kind in ("vector", "text")
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "client_rtt.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Search round trip: Node client vs Python SDK (same server, same run)", "",
        f"`python bench/client_rtt.py --rounds {args.rounds} --count {args.count}`: scifact "
        f"{corpus.shape[0]:,} x {dim} (all-MiniLM-L6-v2), Milvus Lite, top {args.top_k}, AUTO; "
        f"{args.rounds} alternating rounds of {args.count} timed searches per client and kind "
        f"(Node {report['setup']['node']}, Python {report['setup']['python']}; 1-minute load average "
        f"{report['setup']['load_average_1m_at_end']} on {os.cpu_count()} cores at the end).", "",
        "| client | query | n | p50 ms | p95 ms | mean ms |", "|---|---|---:|---:|---:|---:|",
    ]
    for who in ("python", "node"):
        for kind in ("vector", "text"):
            s = report[who][kind]
            lines.append(f"| {who} | {kind} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['mean_ms']} |")
    lines += ["", f"Node / Python p50: vector {report['node_over_python_p50']['vector']}, "
              f"text {report['node_over_python_p50']['text']}."]
    (args.out / "client_rtt.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
