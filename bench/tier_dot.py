"""The middle tier's scoring step (quantize.ScalarQuantizer.dot) by block size: the rows of one
pool scored `block` at a time through buffers made once per call, against the whole pool at once
(block = pool, the server before blocking), on N random 2- and 4-bit codes of d dimensions.

    python bench/tier_dot.py                       # 1M x 768, pools 640 / 2,560 / 5,120
    python bench/tier_dot.py --n 200000 --seconds 2

Per query: a gather of `pool` random rows (sorted, as the server reads them) and their scores. T
threads loop for `--seconds` each (T = 1, then one per core), so the step also runs while another
search's step competes for the caches. p50 of one step and QPS per setting; each setting's scores
are checked against the whole-pool ones first.

Writes bench/results/tier_dot.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "client"), str(ROOT / "server")]

from bitrag_server.bench.common import environment, threads_looping, write_json  # noqa: E402
from bitrag_server.quantize import DOT_BLOCK, ScalarQuantizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--pools", type=int, nargs="+", default=[640, 2560, 5120])
    ap.add_argument("--blocks", type=int, nargs="+", default=[256, DOT_BLOCK])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    cores = os.cpu_count() or 1
    rows: list[dict] = []
    for bits in (4, 2):
        q = ScalarQuantizer(bits, rng.standard_normal(a.dim).astype(np.float32),
                            rng.random(a.dim, dtype=np.float32))
        codes = rng.integers(0, 256, (a.n, q.row_bytes), dtype=np.uint8)
        queries = rng.standard_normal((64, a.dim)).astype(np.float32)
        for pool in a.pools:
            picks = [np.sort(rng.choice(a.n, pool, replace=False)) for _ in range(16)]
            ref = q.dot(queries[0], codes[picks[0]], block=pool)
            for block in [pool, *a.blocks]:
                np.testing.assert_allclose(q.dot(queries[0], codes[picks[0]], block=block), ref, rtol=1e-4, atol=1e-3)
                for threads in sorted({1, cores}):
                    def step(j: int, n: int, q: ScalarQuantizer = q, qs: np.ndarray = queries, codes: np.ndarray = codes,
                             picks: list = picks, block: int = block) -> None:
                        q.dot(qs[(j * 7 + n) % len(qs)], codes[picks[n % len(picks)]], block=block)

                    lat, qps = threads_looping(step, threads, a.seconds)
                    row = {"bits": bits, "pool": pool, "block": block, "whole": block == pool, "threads": threads,
                           "p50_ms": round(float(np.median(lat)) * 1000, 3), "qps": round(qps, 1)}
                    print(row, flush=True)
                    rows.append(row)
    result = {"n": a.n, "dim": a.dim, "seconds": a.seconds, "default_block": DOT_BLOCK, "rows": rows,
              "environment": environment()}
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "tier_dot.json", result)
    md = [
        f"# The middle tier's scoring step by block size ({a.n:,} x {a.dim} dimensions, random codes)",
        "",
        f"Command: `python bench/tier_dot.py{'' if a.n == 1_000_000 else f' --n {a.n}'}`. One step: gather the "
        "pool's rows (sorted random ids), then `ScalarQuantizer.dot` in blocks of `block` rows; `whole` "
        f"= one block of the whole pool (the server before blocking). The server's default block: {DOT_BLOCK}. "
        f"{cores} cores; threads loop {a.seconds} s each.",
        "",
        "| bits | pool | block | threads | p50 ms | QPS |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        block = "whole" if r["whole"] else r["block"]
        md.append(f"| {r['bits']} | {r['pool']:,} | {block} | {r['threads']} | {r['p50_ms']} | {r['qps']} |")
    (a.out / "tier_dot.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
