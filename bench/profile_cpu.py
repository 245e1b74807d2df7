"""Where a search's CPU goes on the embedded default (Milvus Lite), and QPS per core.

A `bitrag serve` on Milvus Lite with N synthetic vectors (the tree generator), calibrated; then
AUTO searches through `AsyncClient` at each concurrency for a fixed time. Per run: QPS, QPS per core
(2 cores here), CPU milliseconds per search of the server's Python process and of its Milvus Lite
process (psutil CPU times before / after), and, for the highest concurrency, a py-spy profile of the
server (sampled stacks; samples of idle threads left out), each sample put in the category of the
innermost frame that names one: gRPC (grpc.aio, protobuf), conversion (convert.py, the SDK types),
pymilvus (request building and response reading, its gRPC channel to Milvus Lite), the query
path's stages (candidates, tier, rescore, gate, fetch), the engine, asyncio.

    python bench/profile_cpu.py --n 100000 --seconds 30 --concurrency 1 8 32

`--env PYTHONPATH=<another checkout>/server --name NAME` profiles that checkout's server on the same
data (two versions side by side: alternate the runs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from bitrag import Client
from bitrag_server.bench.common import DEFAULT_RESULTS, REPO, log, search_load, write_json
from bitrag_server.bench.synth import VectorCache, fit_from_beir
from bitrag_server.launch import ServerProcess

CORES = psutil.cpu_count() or 2
TOP_FRAMES = 15
# innermost frame wins: (category, substrings of "function (file)")
CATEGORIES = [
    ("tier (middle tier scoring)", ("retrieve/tiers.py", "quantize.py:dot", "asymmetric.py")),
    ("row files: gathers of float rows, tier codes, live flags", ("float_store.py",)),
    ("rescore (exact scores, the stopping rule)", ("retrieve/rescore.py",)),
    ("gate", ("retrieve/gate.py",)),
    ("fetch (record store)", ("record_store.py", "pipeline.py:_hits")),
    ("candidates: the scan of the codes in RAM (FAISS)", ("retrieve/candidates.py",)),
    ("candidates: pymilvus request/response", ("pymilvus", "binary_index.py")),
    ("conversion (proto <-> domain)", ("convert.py", "json_format", "struct_pb2")),
    ("gRPC server (grpc.aio, protobuf)", ("grpc/", "grpc_", "google/protobuf")),
    ("engine / pipeline / guard", ("engine.py", "pipeline.py", "guard.py", "service.py", "errors.py")),
    ("asyncio / threads", ("asyncio", "threading.py", "concurrent/futures")),
]


def categorize(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, keys in CATEGORIES:
            if any(k in frame for k in keys):
                return name
    return "other"


def cpu_ms(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = (t.user + t.system) * 1000
        except psutil.NoSuchProcess:
            out[p.pid] = 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--name", default="profile_cpu", help="report name (default %(default)s)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="a server setting, e.g. PYTHONPATH=<another checkout>/server to profile that server")
    args = ap.parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.env)
    model = fit_from_beir()
    cache = VectorCache(REPO / "bench" / ".work" / "synth", model, 0)
    corpus = np.asarray(cache.get("corpus", args.n))
    queries = cache.queries(500, args.n)
    doc: dict = {"benchmark": "profile_cpu", "n": args.n, "cores": CORES, "seconds": args.seconds, "runs": {},
                 "command": "python bench/profile_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="bitrag-prof-") as tmp, \
            ServerProcess(Path(tmp) / "data", extra_args=["--calibration-query-rate", "0"], env=env) as srv:
        with Client(srv.target, timeout=600) as c:
            c.create_collection("p", dimension=corpus.shape[1], embedder="none")
            c.ingest_vectors("p", corpus, ids=[str(i) for i in range(args.n)])
            c.calibrate("p")
            info = c.describe_collection("p")
            doc["plan"] = {"pool": info.plan.pool, "route": info.plan.route, "tier": info.tier}
            for q in queries[:50]:
                c.search("p", q, top_k=10)
        server = psutil.Process(srv.proc.pid)
        procs = [server, *server.children(recursive=True)]
        names = {p.pid: ("server (Python)" if p.pid == server.pid else f"{p.name()} (child)") for p in procs}
        for conc in args.concurrency:
            prof = Path(tmp) / f"prof_{conc}.txt"
            spy = None
            if conc == max(args.concurrency) and Path(pyspy).exists():
                spy = subprocess.Popen([pyspy, "record", "--pid", str(server.pid), "--rate", "200", "--duration",
                                        str(int(args.seconds)), "--format", "raw", "--output", str(prof),
                                        "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = cpu_ms(procs)
            t0 = time.perf_counter()
            done, lat, _ = asyncio.run(search_load(srv.target, "p", queries, conc, args.seconds))
            wall = time.perf_counter() - t0
            after = cpu_ms(procs)
            run = {"searches": done, "qps": round(done / wall, 1), "qps_per_core": round(done / wall / CORES, 1),
                   "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2),
                   "cpu_ms_per_search": {names[p]: round((after[p] - before[p]) / max(1, done), 2) for p in before}}
            if spy is not None:
                spy.wait(timeout=args.seconds + 60)
                counts: collections.Counter[str] = collections.Counter()
                frames: collections.Counter[str] = collections.Counter()  # innermost frame of each sample
                if prof.exists():
                    for line in prof.read_text().splitlines():
                        stack, _, n = line.rpartition(" ")
                        if n.isdigit():
                            counts[categorize(stack)] += int(n)
                            frames[stack.split(";")[-1]] += int(n)
                total = sum(counts.values()) or 1
                run["server_profile_share"] = {k: round(v / total, 3) for k, v in counts.most_common()}
                run["server_top_frames"] = {k: round(v / total, 3) for k, v in frames.most_common(TOP_FRAMES)}
            doc["runs"][f"c{conc}"] = run
            log(f"c={conc}: {run}")
    write_json(args.out / f"{args.name}.json", doc)
    md = [f"# Where a search's CPU goes: {args.n:,} x 768 on the embedded default (Milvus Lite), AUTO", "",
          f"Command: `{doc['command']}`. Plan: {doc['plan']}. {CORES} cores; each run {args.seconds:.0f} s of "
          "AsyncClient searches.", "", "| concurrency | QPS | QPS per core | p50 ms | p99 ms | CPU ms per search |",
          "|---|---|---|---|---|---|"]
    for key, r in doc["runs"].items():
        cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_search"].items())
        md.append(f"| {key[1:]} | {r['qps']} | {r['qps_per_core']} | {r['p50_ms']} | {r['p99_ms']} | {cpu} |")
    top = doc["runs"][f"c{max(args.concurrency)}"].get("server_profile_share")
    if top:
        md += ["", f"Server's Python CPU by category at concurrency {max(args.concurrency)} (py-spy samples, idle "
               "threads left out):", "", "| category | share |", "|---|---|"]
        md += [f"| {k} | {v:.1%} |" for k, v in top.items()]
        frames = doc["runs"][f"c{max(args.concurrency)}"].get("server_top_frames", {})
        md += ["", f"The {TOP_FRAMES} innermost frames the server's samples were in most often:", "",
               "| frame | share |", "|---|---|"]
        md += [f"| `{k}` | {v:.1%} |" for k, v in frames.items()]
    (args.out / f"{args.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
