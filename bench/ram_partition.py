"""Can the in-RAM Hamming scan read fewer codes? On the scale benchmark's own data (the synthetic
1M x 768 corpus, its queries and exact top-10: `bench/.work/synth`, made by `bitrag bench scale` or
here), one core (FAISS single-threaded), k 5,120 (the pool the 1M plan measured):

  full       faiss.knn_hamming over every code, k 40 / 640 / 5,120 (what the server does today)
  prefix     the first 256 / 384 bits of every code (a separate contiguous array), the best 20k /
             50k by them, then the full 768 bits over those
  pca        the sign bits of the 256 top principal components (fitted on a sample, centred; a
             separate code): the pool by them, or the best 20k by them then the full 768 bits
  partition  k-means lists over the codes, the query's nprobe nearest lists scanned (their codes
             copied contiguous per list: the fastest layout, at a second copy of the codes):
             `binary` (k-means on the bits, centroids thresholded, lists by Hamming; what Milvus'
             BIN_IVF_FLAT does) and `float` (spherical k-means on the float32 rows, lists and the
             query's probes by inner product)

For each: p50 time per query and candidate recall (share of the exact top-10 inside the pool).

    python bench/ram_partition.py                  # 1M, 200 queries, ~3 min after the data exists
    python bench/ram_partition.py --n 200000

Writes bench/results/ram_partition.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "client"), str(ROOT / "server")]

from bitrag_server.bench.common import environment, write_json  # noqa: E402
from bitrag_server.bench.scale import ScaleConfig  # noqa: E402
from bitrag_server.bench.synth import VectorCache, fit_from_beir  # noqa: E402


def timed(queries: int, fn: Callable[[int], np.ndarray], truth: np.ndarray) -> dict[str, float]:
    """p50 ms of `fn(query index)` -> row ids, and the share of each query's exact top-10 in them."""
    ts, rec = [], []
    for qi in range(queries):
        t0 = time.perf_counter()
        ids = fn(qi)
        ts.append(time.perf_counter() - t0)
        rec.append(np.isin(truth[qi, :10], ids).mean())
    return {
        "p50_ms": round(statistics.median(ts) * 1000, 2),
        "candidate_recall": round(float(np.mean(rec)), 4),
    }


def lists_of(assign: np.ndarray, nlist: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(assign, kind="stable")
    return order, np.searchsorted(assign[order], np.arange(nlist + 1))


def prober(
    qcodes: np.ndarray, order: np.ndarray, offs: np.ndarray, perm: np.ndarray, probes: np.ndarray, k: int
) -> Callable[[int], np.ndarray]:
    """Query index -> the k nearest codes' row ids over the lists `probes[qi]` (`perm`: the codes in
    list order, `order`: their row ids, `offs`: list bounds)."""
    import faiss

    def probe(qi: int) -> np.ndarray:
        rows = np.concatenate([order[offs[li] : offs[li + 1]] for li in probes[qi]])
        sub = np.concatenate([perm[offs[li] : offs[li + 1]] for li in probes[qi]])
        return rows[faiss.knn_hamming(qcodes[qi : qi + 1], sub, min(k, rows.size), variant="mc")[1][0]]

    return probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=5120)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 64, 128, 256])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    cfg = ScaleConfig(ns=[a.n])
    model = fit_from_beir(cfg.fit_data, cfg.fit_embeddings, cfg.rank)
    cache = VectorCache(cfg.work_dir / "synth", model, cfg.seed)
    corpus = cache.get("corpus", a.n)
    queries = np.array(cache.queries(500, a.n))  # the scale benchmark's 500 queries of this N
    truth, _, _ = cache.ground_truth(a.n, 500, 100, corpus=corpus, queries=queries)
    codes = np.ascontiguousarray(cache.codes(a.n))
    qcodes = np.packbits(queries > 0, axis=1)
    nq, k = min(a.queries, len(queries)), a.k
    out: dict = {
        "n": a.n,
        "nlist": a.nlist,
        "dim": codes.shape[1] * 8,
        "k": k,
        "queries": nq,
        "environment": environment(),
        "data": f"bitrag bench scale's synthetic corpus ({model.name}, seed {cfg.seed})",
        "full": {},
        "prefix": {},
        "pca": {},
        "widths": {},
        "partition": {},
    }

    def q1(qi: int, bits: int | None = None) -> np.ndarray:
        return qcodes[qi : qi + 1, : (bits // 8 if bits else None)]

    widths = np.random.default_rng(1)
    for nb in (32, 64, 96, 128):  # FAISS' Hamming kernel by code width, random codes of the same N
        wc = widths.integers(0, 256, (a.n, nb), dtype=np.uint8)
        ts = []
        for _ in range(15):
            t0 = time.perf_counter()
            faiss.knn_hamming(wc[5:6] ^ 3, wc, k, variant="mc")
            ts.append(time.perf_counter() - t0)
        p50 = statistics.median(ts)
        out["widths"][str(nb)] = {"p50_ms": round(p50 * 1000, 2), "gb_per_s": round(nb * a.n / p50 / 1e9, 1)}
        print("width", nb, out["widths"][str(nb)], flush=True)
        del wc
    for kk in (40, 640, k):
        out["full"][str(kk)] = timed(
            nq, lambda qi, kk=kk: faiss.knn_hamming(q1(qi), codes, kk, variant="mc")[1][0], truth
        )
        print("full", kk, out["full"][str(kk)], flush=True)
    for bits in (256, 384):
        pre = np.ascontiguousarray(codes[:, : bits // 8])
        for first in (20_000, 50_000):

            def two_stage(qi: int, pre: np.ndarray = pre, bits: int = bits, first: int = first) -> np.ndarray:
                rows = faiss.knn_hamming(q1(qi, bits), pre, first, variant="mc")[1][0]
                return rows[faiss.knn_hamming(q1(qi), codes[rows], k, variant="mc")[1][0]]

            key = f"{bits} bits -> {first}"
            out["prefix"][key] = timed(nq, two_stage, truth)
            print("prefix", key, out["prefix"][key], flush=True)
        del pre

    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(a.n, min(a.n, a.nlist * 40), replace=False))
    x = np.asarray(corpus[sample])
    mu = x.mean(0)
    top = np.linalg.svd(x - mu, full_matrices=False)[2][:256].T.astype(np.float32)  # [d, 256]
    pca = np.concatenate(
        [
            np.packbits((np.asarray(corpus[s : s + 65536]) - mu) @ top > 0, axis=1)
            for s in range(0, a.n, 65536)
        ]
    )
    qpca = np.packbits((queries - mu) @ top > 0, axis=1)
    for first in (k, 20_000):

        def pca_first(qi: int, first: int = first, pca: np.ndarray = pca) -> np.ndarray:
            rows = faiss.knn_hamming(qpca[qi : qi + 1], pca, first, variant="mc")[1][0]
            return rows if first == k else rows[faiss.knn_hamming(q1(qi), codes[rows], k, variant="mc")[1][0]]

        out["pca"][str(first)] = timed(nq, pca_first, truth)
        print("pca", first, out["pca"][str(first)], flush=True)
    del pca, x
    for kind in ("binary", "float"):
        t0 = time.perf_counter()
        if kind == "binary":
            km = faiss.Kmeans(codes.shape[1] * 8, a.nlist, niter=10, seed=1)
            km.train(np.unpackbits(codes[sample], axis=1).astype(np.float32))
            cents = np.packbits(km.centroids > 0.5, axis=1)
            trained = time.perf_counter() - t0
            assign = faiss.knn_hamming(codes, cents, 1)[1][:, 0]
            probes = faiss.knn_hamming(qcodes[:nq], cents, max(a.nprobe))[1]
        else:
            km = faiss.Kmeans(corpus.shape[1], a.nlist, niter=10, seed=1, spherical=True)
            km.train(np.asarray(corpus[sample]))
            trained = time.perf_counter() - t0
            flat = faiss.IndexFlatIP(corpus.shape[1])
            flat.add(km.centroids)
            assign = np.concatenate(
                [flat.search(np.asarray(corpus[s : s + 65536]), 1)[1][:, 0] for s in range(0, a.n, 65536)]
            )
            probes = flat.search(queries[:nq], max(a.nprobe))[1]
        built = time.perf_counter() - t0
        order, offs = lists_of(assign, a.nlist)
        perm = codes[order]  # codes contiguous per list
        sizes = np.diff(offs)
        res: dict = {
            "train_s": round(trained, 1),
            "build_s": round(built, 1),
            "list_rows_p50": int(np.median(sizes)),
            "list_rows_max": int(sizes.max()),
            "nprobe": {},
        }
        for npb in a.nprobe:
            r = timed(nq, prober(qcodes, order, offs, perm, probes[:, :npb], k), truth)
            r["rows_read_share"] = round(
                float(np.mean([sizes[probes[qi, :npb]].sum() for qi in range(nq)])) / a.n, 4
            )
            res["nprobe"][str(npb)] = r
            print(kind, npb, r, flush=True)
        out["partition"][kind] = res
        del perm

    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "ram_partition.json", out)
    (a.out / "ram_partition.md").write_text(
        report(out, " ".join(["python bench/ram_partition.py", *sys.argv[1:]]))
    )
    print(f"wrote {a.out / 'ram_partition.md'}")


def report(r: dict, command: str) -> str:
    lines = [
        f"# Reading fewer codes in the RAM scan ({r['n']:,} x {r['dim']} bits, pool {r['k']:,}, one core)",
        "",
        f"Command: `{command}`. Data: {r['data']}; {r['queries']} queries, candidate recall = share of "
        "the exact float32 top-10 inside the pool.",
        "",
        "| method | p50 ms | candidate recall | codes read |",
        "|---|---|---|---|",
    ]
    for kk, v in r["full"].items():
        lines.append(f"| full scan, k {int(kk):,} | {v['p50_ms']} | {v['candidate_recall']} | 1 |")
    for key, v in r["prefix"].items():
        bits = int(key.split()[0])
        lines.append(
            f"| prefix {key}, then 768 bits | {v['p50_ms']} | {v['candidate_recall']} | "
            f"{bits / r['dim']:.2f} + the survivors |"
        )
    for first, v in r.get("pca", {}).items():
        then = ", then 768 bits" if int(first) > r["k"] else ""
        lines.append(
            f"| sign bits of the 256 top principal components (centred) -> {first}{then} | "
            f"{v['p50_ms']} | {v['candidate_recall']} | 0.33 (a separate code) |"
        )
    for kind, p in r["partition"].items():
        for npb, v in p["nprobe"].items():
            lines.append(
                f"| {kind} k-means, {r['nlist']:,} lists, nprobe {npb} | {v['p50_ms']} | "
                f"{v['candidate_recall']} | {v['rows_read_share']} |"
            )
    lines += ["", "FAISS' scan by code width (random codes, same N and k, one core): " + ", ".join(
        f"{nb} B {v['p50_ms']} ms ({v['gb_per_s']} GB/s)" for nb, v in r.get("widths", {}).items())]
    lines += [
        "",
        "Partition build (one core): "
        + "; ".join(
            f"{kind}: train {p['train_s']} s, train + assign {p['build_s']} s, rows per list p50 {p['list_rows_p50']} "
            f"max {p['list_rows_max']}"
            for kind, p in r["partition"].items()
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
