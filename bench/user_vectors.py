"""A new user's first hour with their own vectors, on the embedded default (Milvus Lite).

What a user does: `bitrag serve` with the defaults, create a raw-vector collection, ingest their
vectors through the SDK, and search — without calling Calibrate (the server calibrates in the
background once the collection has enough rows). Their vectors here: N x d clustered vectors (a
mixture of Gaussian clusters of random centres, renormalised; queries near stored vectors), the
kind a user's own embedding model gives more than pure noise does.

Measured per phase (right after ingest, i.e. before the background calibration has finished, and
once it has): AUTO and EXACT p50 / p99 latency and recall@10 against numpy's exact top 10, AUTO's
paths, and the plan the server measured. Each query runs in both modes, side by side.

    python bench/user_vectors.py --n 20000 --dim 256 --queries 200
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bitrag import Client
from bitrag_server.bench.common import DEFAULT_RESULTS, latency_summary, log, recall_at, rotated, write_json
from bitrag_server.launch import ServerProcess


def clustered(n: int, d: int, seed: int, clusters: int = 200, spread: float = 0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, d)).astype(np.float32)
    x = centers[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run_modes(c: Client, q: np.ndarray, truth: np.ndarray, modes: tuple[str, ...] = ("AUTO", "EXACT")) -> dict:
    """Every query in every mode, side by side, in the order `rotated` by the query's index. Per
    mode: client latency, the server's own time, recall@10, paths."""
    got: dict[str, dict[str, list]] = {m: {"lat": [], "server": [], "rec": [], "path": []} for m in modes}
    for i, v in enumerate(q):
        for mode in rotated(modes, i):
            t = time.perf_counter()
            r = c.search("mine", v, top_k=10, mode=mode)
            g = got[mode]
            g["lat"].append((time.perf_counter() - t) * 1000)
            g["server"].append(r.diagnostics.total_us / 1000)
            g["rec"].append(recall_at([int(h.chunk_id) for h in r.hits], truth[i], 10))
            g["path"].append(r.diagnostics.path)
    return {m.lower(): {**latency_summary(g["lat"]), "server_p50_ms": round(float(np.median(g["server"])), 3),
                        "recall@10": round(float(np.mean(g["rec"])), 4),
                        "paths": {p: g["path"].count(p) for p in sorted(set(g["path"]))}}
            for m, g in got.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = ap.parse_args(argv)
    x = clustered(args.n, args.dim, seed=1)
    rng = np.random.default_rng(2)
    near = x[rng.choice(args.n, args.queries, replace=False)]
    q = near + 0.5 / np.sqrt(args.dim) * rng.standard_normal(near.shape).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    doc: dict = {"benchmark": "user_vectors", "n": args.n, "dim": args.dim, "queries": args.queries,
                 "command": "python bench/user_vectors.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    with tempfile.TemporaryDirectory(prefix="bitrag-user-") as tmp, \
            ServerProcess(Path(tmp) / "data") as srv, Client(srv.target, timeout=600) as c:
        c.create_collection("mine", dimension=args.dim, embedder="none")
        t = time.perf_counter()
        c.ingest_vectors("mine", x, ids=[str(i) for i in range(args.n)])
        doc["ingest_s"] = round(time.perf_counter() - t, 2)
        t_ready = time.perf_counter()
        doc["right_after_ingest"] = {"calibrated": c.describe_collection("mine").calibration.calibrated,
                                     **run_modes(c, q, truth)}
        log(f"right after ingest: {doc['right_after_ingest']}")
        while not c.describe_collection("mine").calibration.calibrated:  # the background calibration
            time.sleep(0.5)
        doc["calibrated_after_s"] = round(time.perf_counter() - t_ready, 2)
        info = c.describe_collection("mine")
        doc["plan"] = {k: getattr(info.plan, k) for k in ("pool", "route", "candidate_recall", "exact_us",
                                                            "binary_us", "fallback_share")}
        doc["tier"] = info.tier
        doc["calibrated"] = run_modes(c, q, truth)
        log(f"calibrated: {doc['calibrated']} plan {doc['plan']}")
    write_json(args.out / "user_vectors.json", doc)
    md = [f"# A user's own clustered vectors on the embedded default ({args.n:,} x {args.dim})", "",
          f"Command: `{doc['command']}`. Ingest {doc['ingest_s']} s; the background calibration finished "
          f"{doc['calibrated_after_s']} s after the first searches began; plan: {doc['plan']}, tier {doc['tier']}.", "",
          "Each query runs in both modes, side by side (the order alternates per query).", "",
          "| phase | mode | p50 ms | p99 ms | server p50 ms | recall@10 | paths |", "|---|---|---|---|---|---|---|"]
    for phase in ("right_after_ingest", "calibrated"):
        for mode in ("auto", "exact"):
            m = doc[phase][mode]
            md.append(f"| {phase.replace('_', ' ')} | {mode.upper()} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                      f"{m['server_p50_ms']:.2f} | {m['recall@10']:.4f} | {m['paths']} |")
    (args.out / "user_vectors.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(json.dumps(doc["plan"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
