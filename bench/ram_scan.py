"""The in-RAM Hamming scan under concurrency: how the server's scan (retrieve/candidates.RamScanner)
compares with one whole FAISS scan per query, on N x d-bit random codes, k nearest.

    python bench/ram_scan.py                       # 1M x 768 bits, k 5,120, concurrency 1 2 8
    python bench/ram_scan.py --n 200000 --seconds 4

Each of T threads loops for `--seconds`: one scan, then a middle-tier-like numpy step (a gather of
2,048 rows of d/2 bytes scored by a lookup table, a few ms), so that other searches' stages compete
for the cores as they do in the server. Settings:
  whole    one faiss.knn_hamming per query in its own thread (what the server did before)
  server   RamScanner as the server runs it: each loop iteration marked as a search in flight
           (`searching()`); a scan with no other search in flight is split into one shard per core
QPS and p50 of one iteration per setting and T; the two settings run back to back, same process.

Writes bench/results/ram_scan.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "client"), str(ROOT / "server")]

from bitrag_server.bench.common import environment, threads_looping, write_json  # noqa: E402
from bitrag_server.retrieve.candidates import RamScanner  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--bits", type=int, default=768)
    ap.add_argument("--k", type=int, default=5120)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 8])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    import faiss

    rng = np.random.default_rng(0)
    nbytes = a.bits // 8
    codes = rng.integers(0, 256, (a.n, nbytes), dtype=np.uint8)
    tier = rng.integers(0, 256, (a.n, a.bits // 2), dtype=np.uint8)
    lut = rng.standard_normal((a.bits // 2, 256)).astype(np.float32)
    qs = rng.integers(0, 256, (64, nbytes), dtype=np.uint8)
    cols = np.arange(a.bits // 2)[None, :]

    def stage(ids: np.ndarray) -> np.ndarray:
        return lut[cols, tier[ids[:2048].astype(np.int64)]].sum(1)

    def whole(q: np.ndarray) -> np.ndarray:
        return faiss.knn_hamming(q.reshape(1, -1), codes, a.k, variant="mc")[1][0]

    lane = RamScanner()

    def server(q: np.ndarray) -> np.ndarray:
        return lane.knn(codes, q, a.k)[1]

    def run(name: str, scan, mark: bool, threads: int) -> dict:  # noqa: ANN001
        def step(j: int, n: int) -> None:
            with lane.searching() if mark else contextlib.nullcontext():
                stage(scan(qs[(j * 7 + n) % len(qs)]))

        lat, qps = threads_looping(step, threads, a.seconds)
        row = {"setting": name, "concurrency": threads, "qps": round(qps, 1),
               "p50_ms": round(float(np.median(lat)) * 1000, 2)}
        print(row, flush=True)
        return row

    whole(qs[0])  # warm: pages in, FAISS loaded
    rows = []
    for t in a.concurrency:
        rows.append(run("whole", whole, False, t))
        rows.append(run("server", server, True, t))
    result = {"n": a.n, "bits": a.bits, "k": a.k, "seconds": a.seconds, "shards": lane.shards, "rows": rows,
              "split_share": round(lane.split / max(1, lane.scans), 3), "environment": environment()}
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "ram_scan.json", result)
    md = [
        f"# The in-RAM Hamming scan under concurrency ({a.n:,} x {a.bits}-bit codes, k {a.k:,})",
        "",
        f"Command: `python bench/ram_scan.py{'' if a.n == 1_000_000 else f' --n {a.n}'}`. Each thread loops: one "
        "scan, then a middle-tier-like numpy step; `whole`: one FAISS scan per query; `server`: "
        f"retrieve/candidates.RamScanner (split into {lane.shards} shards while no other search is in flight). "
        f"Share of the server's scans that were split: {result['split_share']}.",
        "",
        "| concurrency | whole QPS | whole p50 ms | server QPS | server p50 ms |",
        "|---|---|---|---|---|",
    ]
    for t in a.concurrency:
        w, s = [r for r in rows if r["concurrency"] == t]
        md.append(f"| {t} | {w['qps']} | {w['p50_ms']} | {s['qps']} | {s['p50_ms']} |")
    (a.out / "ram_scan.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
