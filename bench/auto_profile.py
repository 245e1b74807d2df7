"""Where an AUTO search's time goes, per stage, on a collection a `bitrag bench scale --keep` run
left behind (Milvus standalone): restarts its Milvus and a bitrag server on the kept data, runs
the run's first Q synthetic queries in AUTO, and prints the server's per-stage timings (from each
response's diagnostics), the widen attempts, the paths, recall@10 (against the run's cached ground
truth, else EXACT), wall latency, and the resident memory of the server and of Milvus after the
queries (a restarted Milvus: without what ingest left in its heap).

    python bench/auto_profile.py --run-dir bench/.work/run_standalone_1000000 --queries 100

`--env KEY=VALUE` passes server settings (e.g. BITRAG_WIDEN_MAX_ROWS=1024, or PYTHONPATH=<an older
checkout>/server to compare two versions of the server on the same data). `--concurrency C` also runs
the queries from C threads (`--rounds` times over) for QPS and p50 under load.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bitrag import Client
from bitrag_server.bench.common import process_memory
from bitrag_server.bench.scale import COLLECTION, MILVUS_COLLECTION
from bitrag_server.launch import ServerProcess
from bitrag_server.milvus_standalone import MilvusStandalone

WORK = Path(__file__).resolve().parent / ".work"


def cached_truth(synth: Path, run_dir: Path, n_queries: int) -> list[set[str]] | None:
    """The exact top 10 of the first `n_queries` queries from the scale run's cached ground truth
    (`gt_<N>_<Q>_<k>.npz`, chunk id == row number), if one covers them; EXACT at 10M would read
    31 GB per query."""
    n = int(run_dir.name.rsplit("_", 1)[-1])
    for path in sorted(synth.glob(f"gt_{n}_*_*.npz")):
        ids = np.load(path)["ids"]
        if ids.shape[0] >= n_queries and ids.shape[1] >= 10:
            return [{str(int(i)) for i in row[:10]} for row in ids[:n_queries]]
    return None


def under_load(c: Client, qs: np.ndarray, conc: int, rounds: int) -> dict:
    """`rounds` passes over `qs` from `conc` threads sharing one client: QPS and p50 / p99 ms."""
    def one(q: np.ndarray) -> float:
        t = time.perf_counter()
        c.search(COLLECTION, q, top_k=10)
        return (time.perf_counter() - t) * 1000

    work = [q for _ in range(rounds) for q in qs]
    t = time.perf_counter()
    with ThreadPoolExecutor(conc) as pool:
        lat = list(pool.map(one, work))
    return {"qps": round(len(work) / (time.perf_counter() - t), 1), "p50_ms": round(float(np.median(lat)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", type=Path, required=True, help="bench/.work/run_standalone_<N> (kept)")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--synth", type=Path, default=None, help="synthetic cache dir (default: the only one)")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE server setting")
    ap.add_argument("--concurrency", type=int, nargs="*", default=[], help="also QPS at these concurrencies")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the queries per concurrency")
    args = ap.parse_args()
    synth = args.synth or next((WORK / "synth").iterdir())
    n = int(args.run_dir.name.rsplit("_", 1)[-1])
    cached = sorted(synth.glob(f"queries_{n}_*.npy"), key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    if not cached:
        raise SystemExit(f"{synth}: no queries_{n}_<Q>.npy (run `bitrag bench scale --n {n}` first)")
    qs = np.load(cached[-1])[: args.queries]  # the scale run's own queries (synth.VectorCache.queries)
    m = MilvusStandalone(args.run_dir / "milvus").start()
    from pymilvus import MilvusClient

    mc = MilvusClient(uri=m.uri, timeout=600)
    mc.load_collection(MILVUS_COLLECTION)  # a restarted Milvus 2.3 does not reload by itself
    mc.close()
    env = {"BITRAG_CALIBRATION_MIN_ROWS": "1000000000", **dict(kv.split("=", 1) for kv in args.env)}
    srv = ServerProcess(args.run_dir / "bitrag", milvus_uri=m.uri, extra_args=["--calibration-query-rate", "0"],
                        env=env, ready_timeout_s=600)
    try:
        srv.start()
        c = Client(srv.target, timeout=600)
        for q in qs[:5]:  # warm
            c.search(COLLECTION, q, top_k=10)
        stages: dict[str, list[float]] = collections.defaultdict(list)
        wall, attempts, paths, got = [], collections.Counter(), collections.Counter(), []
        for q in qs:
            t = time.perf_counter()
            r = c.search(COLLECTION, q, top_k=10)
            wall.append((time.perf_counter() - t) * 1000)
            d = r.diagnostics
            attempts[len(d.pools)] += 1
            paths[d.path] += 1
            for k, v in d.timings_us.items():
                stages[k].append(v / 1000)
            got.append({h.chunk_id for h in r.hits})
        loaded = {conc: under_load(c, qs, conc, args.rounds) for conc in args.concurrency}
        memory = {"server": process_memory(srv.proc.pid), "milvus": process_memory(m.pid)}  # after the queries
        truth = cached_truth(synth, args.run_dir, len(qs))
        if truth is None:  # no ground truth cached for this N: EXACT (one scan of the float file per query)
            truth = [{h.chunk_id for h in c.search(COLLECTION, q, top_k=10, mode="EXACT").hits} for q in qs]
        c.close()
    finally:
        srv.stop(timeout_s=60)
        m.stop()
    out = {
        "queries": len(qs), "wall_p50_ms": round(float(np.median(wall)), 2),
        "wall_p95_ms": round(float(np.percentile(wall, 95)), 2),
        "recall@10": round(float(np.mean([len(a & b) / 10 for a, b in zip(got, truth)])), 4),
        "paths": dict(paths), "attempts": dict(sorted(attempts.items())),
        "server_stage_mean_ms": {k: round(float(np.mean(v)), 2) for k, v in stages.items()},
        "server_stage_p50_ms": {k: round(float(np.median(v)), 2) for k, v in stages.items()},
        "concurrency": loaded,
        "memory_mib": {who: {k: round(v / 2**20) for k, v in mem.items() if k in ("rss", "anon", "file")}
                       for who, mem in memory.items()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
