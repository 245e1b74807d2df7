"""The cost of TLS + bearer-token auth per search, measured side by side in one run.

    .venv/bin/python bench/tls_cost.py --rows 10000 --dim 384 --searches 2000

Two `bitrag serve` processes with the same data: one plaintext without authentication, one with
TLS (certificates made here) and a tokens file. The same vector searches go to both, interleaved
(one to each in turn, the order alternating), each through a long-lived SDK client as an
application would hold one. Reports client-side p50/p95 per server and the difference.
Writes bench/results/tls_cost.json and tls_cost.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

import bitrag  # noqa: E402
from certs import make_certs  # noqa: E402
from servers import ServerProc  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--searches", type=int, default=2000)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tls_cost")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bitrag-tls-"))
    certs = make_certs(tmp / "certs")
    token = "bench-" + "x" * 40
    (tmp / "tokens").write_text(f"{token} write\n")
    base = {"BITRAG_EMBEDDER": "none", "BITRAG_CALIBRATION_MIN_ROWS": "100000000", "BITRAG_REDIS_URL": ""}
    plain = ServerProc(tmp / "plain", env=base).start()
    secure = ServerProc(
        tmp / "tls",
        env={
            **base,
            "BITRAG_TLS_CERT": str(certs.server_cert),
            "BITRAG_TLS_KEY": str(certs.server_key),
            "BITRAG_AUTH_TOKENS_FILE": str(tmp / "tokens"),
        },
    ).start()
    rng = np.random.default_rng(0)
    v = rng.standard_normal((a.rows, a.dim)).astype(np.float32)
    queries = v[rng.integers(0, a.rows, a.searches)] + 0.1 * rng.standard_normal((a.searches, a.dim)).astype(
        np.float32
    )
    lat: dict[str, list[float]] = {"plaintext, no auth": [], "TLS + token": []}
    try:
        clients = {
            "plaintext, no auth": bitrag.Client(plain.target, timeout=60),
            "TLS + token": bitrag.Client(secure.target, token=token, tls_ca=str(certs.ca), timeout=60),
        }
        for c in clients.values():
            c.create_collection("t", embedder="none", dimension=a.dim)
            c.ingest_vectors("t", v, ids=[f"r{i}" for i in range(a.rows)])
            for q in queries[:50]:  # warm-up: connections, page cache, Milvus
                c.search("t", q, top_k=10)
        names = list(clients)
        for i, q in enumerate(queries):
            for name in names if i % 2 == 0 else names[::-1]:
                t0 = time.perf_counter()
                clients[name].search("t", q, top_k=10, mode="RESCORED")
                lat[name].append(time.perf_counter() - t0)
        for c in clients.values():
            c.close()
    finally:
        plain.stop()
        secure.stop()
    rep = {
        name: {
            "p50_ms": round(pct(x, 50), 3),
            "p95_ms": round(pct(x, 95), 3),
            "mean_ms": round(1000 * statistics.mean(x), 3),
        }
        for name, x in lat.items()
    }
    d50 = rep["TLS + token"]["p50_ms"] - rep["plaintext, no auth"]["p50_ms"]
    out = {
        "rows": a.rows,
        "dim": a.dim,
        "searches_each": a.searches,
        "mode": "RESCORED",
        "results": rep,
        "p50_added_ms": round(d50, 3),
        "p50_ratio": round(rep["TLS + token"]["p50_ms"] / rep["plaintext, no auth"]["p50_ms"], 3),
        "machine": f"{platform.node()}, shared with other engineers' runs",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(out, indent=2))
    md = [
        "# TLS + token auth: cost per search (`bench/tls_cost.py`)",
        "",
        f"`.venv/bin/python bench/tls_cost.py --rows {a.rows} --dim {a.dim} --searches {a.searches}`: the same "
        f"{a.searches:,} RESCORED top-10 vector searches against two servers with the same {a.rows:,} x {a.dim} "
        "collection (Milvus Lite), interleaved, one long-lived SDK client each; client-side latency.",
        "",
        "| server | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
    ]
    md += [f"| {n} | {r['p50_ms']:.3f} | {r['p95_ms']:.3f} | {r['mean_ms']:.3f} |" for n, r in rep.items()]
    md += ["", f"TLS + auth adds {d50:.3f} ms at p50 (x{out['p50_ratio']}). Machine: {out['machine']}."]
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
