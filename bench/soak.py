"""Soak: mixed search, ask and ingest at concurrency 32 for 10 minutes on the embedded default
(Milvus Lite, the local all-MiniLM-L6-v2 embedder, the Redis answer cache, extractive answers).

    .venv/bin/python bench/soak.py --minutes 10 --concurrency 32

A `bitrag serve` with default settings gets `--seed-docs` scifact abstracts, then `concurrency`
client threads each loop: 70% text searches (scifact claims), 20% asks (the same claims: repeats hit
the answer cache), 10% ingests (a new abstract, or a changed version of one already in). Recorded:
every call's latency and status; the server's RSS (and Milvus Lite's, its child) every 10 s.
Writes bench/results/soak.json, soak.md and soak.png (p50/p99 per 30 s window, RSS over time).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

import bitrag  # noqa: E402
from bitrag_server.launch import ServerProcess  # noqa: E402

WINDOW_S = 30.0


def load(data: Path) -> tuple[list[bitrag.Document], list[str]]:
    docs = []
    with open(data / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            docs.append(bitrag.Document(f"sf{d['_id']}", (d.get("title", "") + ". " + d["text"]).strip()))
    queries = [json.loads(line)["text"] for line in open(data / "queries.jsonl")]
    return docs, queries


def rss(proc: psutil.Process) -> tuple[int, int]:
    """(server RSS, RSS of its children: Milvus Lite) in bytes."""
    me = proc.memory_info().rss
    kids = 0
    for ch in proc.children(recursive=True):
        try:
            kids += ch.memory_info().rss
        except psutil.Error:
            pass
    return me, kids


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--seed-docs", type=int, default=1000)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak")
    a = p.parse_args()
    docs, queries = load(a.data)
    seed, extra = docs[: a.seed_docs], docs[a.seed_docs :]
    sp = ServerProcess(
        Path(tempfile.mkdtemp(prefix="bitrag-soak-")),
        env={"BITRAG_REDIS_PREFIX": f"soak{time.time_ns()}"},
        ready_timeout_s=300,
    )
    sp.start()
    proc = psutil.Process(sp.proc.pid)  # type: ignore[union-attr]
    records: list[tuple[float, str, float, str]] = []  # (t since start, op, seconds, status)
    memory: list[tuple[float, int, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    next_extra = [0]
    try:
        with bitrag.Client(sp.target, timeout=600) as c:
            c.create_collection("soak")
            t0 = time.perf_counter()
            c.ingest_documents("soak", seed, batch_size=32)
            seed_s = time.perf_counter() - t0
        start = time.monotonic()

        def worker(i: int) -> None:
            rng = random.Random(i)
            with bitrag.Client(sp.target, timeout=120) as c:
                while not stop.is_set():
                    r = rng.random()
                    q = rng.choice(queries)
                    op = "search" if r < 0.7 else "ask" if r < 0.9 else "ingest"
                    t = time.perf_counter()
                    status = "OK"
                    try:
                        if op == "search":
                            c.search("soak", q, top_k=10)
                        elif op == "ask":
                            for _ in c.ask("soak", q):
                                pass
                        else:
                            with lock:
                                k = next_extra[0]
                                next_extra[0] += 1
                            if k % 3 == 2 or k >= len(extra):  # a changed version of a document already in
                                d = rng.choice(seed)
                                d = bitrag.Document(d.id, d.text + f" Revised {k}.")
                            else:
                                d = extra[k]
                            c.ingest_documents("soak", [d])
                    except bitrag.BitragError as exc:
                        status = exc.code.name
                    dt = time.perf_counter() - t
                    with lock:
                        records.append((time.monotonic() - start, op, dt, status))

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.concurrency)]
        for t in threads:
            t.start()
        end = start + a.minutes * 60
        while time.monotonic() < end:
            memory.append((time.monotonic() - start, *rss(proc)))
            time.sleep(max(0.0, min(10.0, end - time.monotonic())))
        memory.append((time.monotonic() - start, *rss(proc)))
        stop.set()
        for t in threads:
            t.join(180)
        alive = sp.proc.poll() is None  # type: ignore[union-attr]
    finally:
        sp.stop()

    windows = []
    n_windows = int(np.ceil(a.minutes * 60 / WINDOW_S))
    for w in range(n_windows):
        row: dict = {"t_s": int(w * WINDOW_S)}
        for op in ("search", "ask", "ingest"):
            xs = [
                d
                for t, o, d, s in records
                if o == op and s == "OK" and w * WINDOW_S <= t < (w + 1) * WINDOW_S
            ]
            row[op] = {
                "n": len(xs),
                "p50_ms": round(float(np.percentile(xs, 50)) * 1000, 1) if xs else None,
                "p99_ms": round(float(np.percentile(xs, 99)) * 1000, 1) if xs else None,
            }
        windows.append(row)
    errors = Counter(s for _, _, _, s in records)
    by_op = {op: Counter(s for _, o, _, s in records if o == op) for op in ("search", "ask", "ingest")}
    overall = {}
    for op in ("search", "ask", "ingest"):
        xs = [d for _, o, d, s in records if o == op and s == "OK"]
        overall[op] = {
            "n": len(xs),
            "p50_ms": round(float(np.percentile(xs, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(xs, 99)) * 1000, 1),
        }
    warm = [m for m in memory if m[0] >= 120]
    growth = (warm[-1][1] - warm[0][1]) if len(warm) >= 2 else 0
    rep = {
        "minutes": a.minutes,
        "concurrency": a.concurrency,
        "seed_docs": a.seed_docs,
        "seed_ingest_s": round(seed_s, 1),
        "calls": len(records),
        "statuses": dict(errors),
        "statuses_by_op": {k: dict(v) for k, v in by_op.items()},
        "overall": overall,
        "windows": windows,
        "rss": [
            {"t_s": round(t, 1), "server_mb": round(s / 2**20, 1), "milvus_lite_mb": round(m / 2**20, 1)}
            for t, s, m in memory
        ],
        "server_rss_growth_after_2min_mb": round(growth / 2**20, 1),
        "server_alive_at_end": alive,
        "machine": f"{platform.node()} ({psutil.cpu_count()} cores), shared with other engineers' test runs",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(rep, indent=2))
    _plot(rep, a.out.with_suffix(".png"))
    md = [
        f"# Soak: search + ask + ingest at concurrency {a.concurrency} (`bench/soak.py`)",
        "",
        f"`.venv/bin/python bench/soak.py --minutes {a.minutes:g} --concurrency {a.concurrency}` on the embedded "
        f"default (Milvus Lite, local all-MiniLM-L6-v2, Redis answer cache, extractive answers), {a.seed_docs:,} "
        f"scifact abstracts to start (ingested in {rep['seed_ingest_s']} s); each thread: 70% search, 20% ask, "
        "10% ingest (new or changed abstracts). Client-side latency of successful calls.",
        "",
        f"{len(records):,} calls; statuses: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(errors.items()))
        + ".",
        "",
        "| op | calls OK | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    md += [f"| {op} | {v['n']:,} | {v['p50_ms']} | {v['p99_ms']} |" for op, v in overall.items()]
    md += [
        "",
        "Per 30 s window (p50 / p99 ms):",
        "",
        "| t (s) | search | ask | ingest |",
        "|---:|---|---|---|",
    ]
    for w in windows:
        cell = lambda d: f"{d['p50_ms']} / {d['p99_ms']} (n={d['n']})" if d["n"] else "-"  # noqa: E731
        md.append(f"| {w['t_s']} | {cell(w['search'])} | {cell(w['ask'])} | {cell(w['ingest'])} |")
    md += [
        "",
        "Server RSS every 10 s (MiB; Milvus Lite, its child process, beside it):",
        "",
        "| t (s) | server | Milvus Lite |",
        "|---:|---:|---:|",
    ]
    md += [f"| {r['t_s']:.0f} | {r['server_mb']} | {r['milvus_lite_mb']} |" for r in rep["rss"]]
    md += [
        "",
        f"Server RSS change from 2 min to the end: {rep['server_rss_growth_after_2min_mb']:+} MiB. "
        f"Server alive at the end: {alive}. Machine: {rep['machine']}; figures from a busy machine.",
        "",
        "![soak](soak.png)",
    ]
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


def _plot(rep: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for op, color in (("search", "tab:blue"), ("ask", "tab:green"), ("ingest", "tab:red")):
        ts = [w["t_s"] + WINDOW_S / 2 for w in rep["windows"] if w[op]["n"]]
        ax1.plot(ts, [w[op]["p50_ms"] for w in rep["windows"] if w[op]["n"]], color=color, label=f"{op} p50")
        ax1.plot(
            ts,
            [w[op]["p99_ms"] for w in rep["windows"] if w[op]["n"]],
            color=color,
            ls="--",
            label=f"{op} p99",
        )
    ax1.set_yscale("log")
    ax1.set_ylabel("latency (ms)")
    ax1.legend(ncol=3, fontsize=8)
    ax1.set_title(f"soak: concurrency {rep['concurrency']}, {rep['minutes']:g} min")
    ax2.plot([r["t_s"] for r in rep["rss"]], [r["server_mb"] for r in rep["rss"]], label="bitrag server RSS")
    ax2.plot(
        [r["t_s"] for r in rep["rss"]], [r["milvus_lite_mb"] for r in rep["rss"]], label="Milvus Lite RSS"
    )
    ax2.set_ylabel("MiB")
    ax2.set_xlabel("time (s)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
