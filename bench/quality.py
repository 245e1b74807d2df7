"""Retrieval quality of the core service on a BEIR-format directory with precomputed embeddings.

Ingests `emb/<NAME>/corpus.npy` through the service's raw-vector path (gRPC), queries through gRPC
with `emb/<NAME>/queries.npy`, and reports:
  - recall@10 of rescored search against the exact float32 top-10, at oversample 1, 2, 4, 8, 16
  - NDCG@10 against the qrels for: float32 exact (numpy over the same vectors), Hamming only
    (numpy over the same packed codes; and the service's own Hamming candidates in Hamming
    order), and rescored search at each oversample
  - client-side p50/p95 latency per oversample and the server's per-stage timings

    python bench/quality.py --data ../shared/data/scifact --embeddings minilm-l6-384
    python bench/quality.py --data ../shared/data/scifact --milvus-uri http://127.0.0.1:19530

Writes bench/results/quality_<dataset>_<embeddings>_<backend>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bitrag import Client, IndexSpec
from bitrag_server.launch import ServerProcess
from bitrag_server.quantize import binarize

OVERSAMPLES = (1, 2, 4, 8, 16)
K = 10


def load_beir(data: Path, emb: str) -> tuple[list[str], list[str], dict[str, dict[str, int]], np.ndarray, np.ndarray]:
    corpus_ids = [json.loads(line)["_id"] for line in open(data / "corpus.jsonl")]
    query_ids = [json.loads(line)["_id"] for line in open(data / "queries.jsonl")]
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = data / "qrels" / "test.tsv"
    if qrels_path.exists():
        with open(qrels_path) as f:
            next(f)
            for line in f:
                q, d, s = line.rstrip("\n").split("\t")
                qrels.setdefault(q, {})[d] = int(s)
    corpus = np.load(data / "emb" / emb / "corpus.npy").astype(np.float32)
    queries = np.load(data / "emb" / emb / "queries.npy").astype(np.float32)
    if corpus.shape[0] != len(corpus_ids) or queries.shape[0] != len(query_ids):
        raise SystemExit("embedding rows do not match corpus.jsonl / queries.jsonl lines")
    return corpus_ids, query_ids, qrels, corpus, queries


def ndcg_at_k(ranked: list[str], rels: dict[str, int], k: int = K) -> float:
    dcg = sum(rels.get(d, 0) / np.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / np.log2(i + 2) for i, r in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    ap.add_argument("--embeddings", default="minilm-l6-384")
    ap.add_argument("--milvus-uri", default="", help="Milvus server URI (default: Milvus Lite file)")
    ap.add_argument("--nlist", type=int, default=128, help="BIN_IVF_FLAT nlist on a Milvus server")
    ap.add_argument("--nprobe", type=int, default=128, help="BIN_IVF_FLAT nprobe on a Milvus server")
    ap.add_argument("--hamming-pool-factor", type=int, default=4,
                    help="Hamming pool per rescored row, shortlisted in RAM by asymmetric scoring (1 = off)")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args(argv)

    corpus_ids, query_ids, qrels, corpus, queries = load_beir(args.data, args.embeddings)
    n, d = corpus.shape
    eval_q = [i for i, q in enumerate(query_ids) if not qrels or q in qrels]
    print(f"{args.data.name}/{args.embeddings}: {n} docs x {d}, {len(eval_q)} queries", file=sys.stderr)

    # references in numpy over the same vectors
    exact_scores = queries @ corpus.T  # [Q, d] @ [d, N] -> [Q, N]
    exact_top = np.argsort(-exact_scores, axis=1, kind="stable")[:, :K]
    codes = binarize(corpus)  # [N, d/8]
    qcodes = binarize(queries)
    ham = np.unpackbits(qcodes[:, None, :] ^ codes[None, :, :], axis=-1).sum(-1)  # [Q, N]
    ham_top = np.argsort(ham, axis=1, kind="stable")[:, :K]

    backend = "standalone" if args.milvus_uri else "lite"
    results: dict = {
        "dataset": args.data.name, "embeddings": args.embeddings, "docs": n, "dim": d,
        "queries": len(eval_q), "backend": backend, "k": K, "hamming_pool_factor": args.hamming_pool_factor,
        "modes": {},
    }
    extra = ["--hamming-pool-factor", str(args.hamming_pool_factor), "--calibration-query-rate", "0"]
    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess(Path(tmp) / "data", milvus_uri=args.milvus_uri, extra_args=extra) as srv:
        with Client(srv.target, timeout=600) as c:
            index = IndexSpec("BIN_IVF_FLAT", {"nlist": args.nlist}, {"nprobe": args.nprobe}) if args.milvus_uri else None
            c.create_collection("bench", dimension=d, embedder="none", index=index)
            t0 = time.perf_counter()
            c.ingest_vectors("bench", corpus, ids=corpus_ids, document_ids=corpus_ids)
            ingest_s = time.perf_counter() - t0
            results["ingest_s"] = round(ingest_s, 2)
            results["ingest_rows_per_s"] = round(n / ingest_s)
            info = c.describe_collection("bench")
            results["bytes_in_ram"] = info.bytes_in_ram
            results["bytes_on_disk"] = info.bytes_on_disk
            for qi in eval_q[:5]:  # warm-up
                c.search("bench", queries[qi], top_k=K)

            id_pos = {cid: i for i, cid in enumerate(corpus_ids)}
            svc_ham_ndcg = []
            for o in OVERSAMPLES:
                recalls, ndcgs, lat_ms, stage_us = [], [], [], {}
                for qi in eval_q:
                    t = time.perf_counter()
                    res = c.search("bench", queries[qi], top_k=K, oversample=o, mode="RESCORED")
                    lat_ms.append((time.perf_counter() - t) * 1000)
                    got = [h.document_id for h in res.hits]
                    recalls.append(len({id_pos[g] for g in got} & set(exact_top[qi].tolist())) / K)
                    if qrels:
                        ndcgs.append(ndcg_at_k(got, qrels[query_ids[qi]]))
                    for s, us in res.diagnostics.timings_us.items():
                        stage_us.setdefault(s, []).append(us)
                    if o == 1 and qrels and args.hamming_pool_factor == 1:  # the service's Hamming top-10
                        by_ham = sorted(res.hits, key=lambda h: h.hamming_distance)
                        svc_ham_ndcg.append(ndcg_at_k([h.document_id for h in by_ham], qrels[query_ids[qi]]))
                results["modes"][f"rescored_x{o}"] = {
                    "oversample": o,
                    "candidates": K * o,
                    "recall@10_vs_float32": round(float(np.mean(recalls)), 4),
                    "ndcg@10": round(float(np.mean(ndcgs)), 4) if ndcgs else None,
                    "p50_ms": round(float(np.percentile(lat_ms, 50)), 2),
                    "p95_ms": round(float(np.percentile(lat_ms, 95)), 2),
                    "server_stage_p50_us": {s: int(np.percentile(v, 50)) for s, v in stage_us.items()},
                }
        exit_code = srv.stop()
    results["server_exit_code"] = exit_code

    if qrels:
        results["modes"]["float32_exact_numpy"] = {
            "recall@10_vs_float32": 1.0,
            "ndcg@10": round(float(np.mean([ndcg_at_k([corpus_ids[j] for j in exact_top[qi]], qrels[query_ids[qi]]) for qi in eval_q])), 4),
        }
        results["modes"]["hamming_only_numpy"] = {
            "recall@10_vs_float32": round(float(np.mean([len(set(ham_top[qi]) & set(exact_top[qi])) / K for qi in eval_q])), 4),
            "ndcg@10": round(float(np.mean([ndcg_at_k([corpus_ids[j] for j in ham_top[qi]], qrels[query_ids[qi]]) for qi in eval_q])), 4),
        }
        if svc_ham_ndcg:
            results["modes"]["hamming_only_service"] = {"ndcg@10": round(float(np.mean(svc_ham_ndcg)), 4)}

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"quality_{args.data.name}_{args.embeddings}_{backend}_pool{args.hamming_pool_factor}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    md = [
        f"# {args.data.name} / {args.embeddings} / Milvus {backend} / Hamming pool x{args.hamming_pool_factor}"
        + (" (asymmetric shortlist)" if args.hamming_pool_factor > 1 else " (no asymmetric stage)"),
        "",
        f"{n} docs x {d} dims, {len(eval_q)} queries, k={K}; ingest {results['ingest_s']} s "
        f"({results['ingest_rows_per_s']} rows/s); codes in RAM {info.bytes_in_ram:,} B, float32 on disk {info.bytes_on_disk:,} B",
        "",
        "| mode | recall@10 vs float32 | NDCG@10 | p50 ms | p95 ms |",
        "|---|---|---|---|---|",
    ]
    for name, m in results["modes"].items():
        md.append(
            f"| {name} | {m.get('recall@10_vs_float32', '')} | {m.get('ndcg@10', '')} | "
            f"{m.get('p50_ms', '')} | {m.get('p95_ms', '')} |"
        )
    (args.out / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
