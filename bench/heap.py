"""The server's private memory and search speed under each heap setting, side by side.

Each variant is a fresh `bitrag serve --embedder none` on the embedded default (Milvus Lite) with
its own environment (a heap setting, or another checkout's server): N synthetic 768-d vectors (the
tree generator) ingested raw through the SDK, calibrated, then sequential AUTO searches (p50 / p99)
and AsyncClient searches at concurrency 8 for a fixed time (QPS). The server process's private
(anonymous) memory is read at four points: idle, after ingest, after calibration, and serving
(after the searches); Milvus Lite's child process is reported apart. Variants run in rotated order,
`--rounds` times, so drift of the machine falls on each alike.

    python bench/heap.py --n 300000 --rounds 2 --settle 12 \\
        --variant glibc-default:BITRAG_MALLOC_ARENAS=0,BITRAG_MALLOC_TRIM_FREE_MB=0 --variant server-default:
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bitrag import Client
from bitrag_server.bench.common import DEFAULT_RESULTS, REPO, log, process_memory, rotated, search_load, write_json
from bitrag_server.bench.synth import VectorCache, fit_from_beir
from bitrag_server.launch import ServerProcess

MIB = 1 << 20
SNAPSHOTS = ("idle", "after_ingest", "after_calibrate", "serving")


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """NAME:KEY=VALUE,KEY=VALUE -> (NAME, env); NAME: alone = the server's defaults."""
    name, sep, rest = text.partition(":")
    if not name or not sep:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected NAME:KEY=VALUE[,KEY=VALUE] or NAME:")
    env = {}
    for kv in filter(None, rest.split(",")):
        key, eq, value = kv.partition("=")
        if not eq:
            raise argparse.ArgumentTypeError(f"--variant {text!r}: {kv!r} is not KEY=VALUE")
        env[key] = value
    return name, env


def memory(pid: int) -> dict[str, int]:
    """Private and resident bytes of the server process and of its children (Milvus Lite)."""
    whole = process_memory(pid)
    server = process_memory(pid, include_children=False)
    return {"server_anon": server["anon"], "server_rss": server["rss"],
            "children_anon": whole["anon"] - server["anon"], "children_rss": whole["rss"] - server["rss"]}


def run_one(env: dict[str, str], corpus: np.ndarray, queries: np.ndarray, args: argparse.Namespace) -> dict:
    out: dict = {"memory": {}}

    def snapshot(label: str) -> None:
        time.sleep(args.settle)
        out["memory"][label] = memory(pid)

    with tempfile.TemporaryDirectory(prefix="bitrag-heap-") as tmp, \
            ServerProcess(Path(tmp) / "data", extra_args=["--embedder", "none", "--calibration-query-rate", "0"],
                          env=env) as srv:
        assert srv.proc is not None
        pid = srv.proc.pid
        with Client(srv.target, timeout=900) as c:
            snapshot("idle")
            c.create_collection("h", dimension=corpus.shape[1], embedder="none")
            t0 = time.perf_counter()
            c.ingest_vectors("h", corpus, ids=[str(i) for i in range(len(corpus))])
            out["ingest_s"] = round(time.perf_counter() - t0, 1)
            snapshot("after_ingest")
            c.calibrate("h")
            snapshot("after_calibrate")
            for q in queries[:20]:  # warm-up
                c.search("h", q, top_k=10)
            lat = []
            for q in queries[: args.searches]:
                t = time.perf_counter()
                c.search("h", q, top_k=10)
                lat.append((time.perf_counter() - t) * 1000)
        out["p50_ms"] = round(float(np.percentile(lat, 50)), 2)
        out["p99_ms"] = round(float(np.percentile(lat, 99)), 2)
        done, _, wall = asyncio.run(search_load(srv.target, "h", queries, 8, args.seconds))
        out["qps_c8"] = round(done / wall, 1)
        snapshot("serving")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300_000, help="vectors ingested (default %(default)s)")
    ap.add_argument("--searches", type=int, default=300, help="sequential searches for p50/p99 (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of searches at concurrency 8")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds to wait before each memory snapshot (e.g. past the server's heap trim interval)")
    ap.add_argument("--rounds", type=int, default=2, help="runs of every variant, in rotated order")
    ap.add_argument("--variant", type=parse_variant, action="append", required=True, metavar="NAME:KEY=VALUE,...",
                    help="a server environment to measure (repeat); NAME: alone = the defaults")
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--name", default="heap", help="report name (default %(default)s)")
    args = ap.parse_args(argv)
    cache = VectorCache(REPO / "bench" / ".work" / "synth", fit_from_beir(), 0)
    corpus = np.asarray(cache.get("corpus", args.n))
    queries = cache.queries(max(500, args.searches), args.n)
    variants = dict(args.variant)
    doc: dict = {"benchmark": "heap", "n": args.n, "searches": args.searches, "seconds": args.seconds,
                 "settle_s": args.settle,
                 "command": "python bench/heap.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                 "variants": {name: {"env": env, "runs": []} for name, env in variants.items()}}
    names = list(variants)
    for r in range(args.rounds):
        for name in rotated(names, r):
            res = run_one(variants[name], corpus, queries, args)
            doc["variants"][name]["runs"].append(res)
            log(f"round {r + 1} {name}: {res}")
            write_json(args.out / f"{args.name}.json", doc)
    md = [f"# The server's private memory by heap setting: {args.n:,} x 768, embedded default", "",
          f"Command: `{doc['command']}`. Each cell: the runs of that variant, in order (rotated between "
          f"variants). Server process only (Milvus Lite's child in the last column, serving); each memory "
          f"snapshot {args.settle:g} s after the step before it.", "",
          "| variant | env | " + " | ".join(f"private MiB {s}" for s in SNAPSHOTS)
          + " | p50 ms | p99 ms | QPS c8 | ingest s | Milvus Lite private MiB |",
          "|---|---|" + "---|" * (len(SNAPSHOTS) + 5)]
    for name, v in doc["variants"].items():
        runs = v["runs"]

        def cells(get: object, runs: list = runs) -> str:
            return " / ".join(str(get(x)) for x in runs)  # type: ignore[operator]

        env = ", ".join(f"`{k}={val}`" for k, val in v["env"].items()) or "(defaults)"
        mem = [cells(lambda x, s=s: round(x["memory"][s]["server_anon"] / MIB)) for s in SNAPSHOTS]
        md.append(f"| {name} | {env} | " + " | ".join(mem) + f" | {cells(lambda x: x['p50_ms'])} | "
                  f"{cells(lambda x: x['p99_ms'])} | {cells(lambda x: x['qps_c8'])} | {cells(lambda x: x['ingest_s'])} | "
                  f"{cells(lambda x: round(x['memory']['serving']['children_anon'] / MIB))} |")
    (args.out / f"{args.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
