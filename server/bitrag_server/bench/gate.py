"""The confidence gate on a BEIR-format directory: calibration quality and AUTO vs RESCORED vs EXACT.

All through gRPC against a real server (Milvus Lite by default). Per embedding model:
 1. ingest the corpus vectors; `Calibrate` on pseudo-queries (stored vectors, perturbed);
 2. reliability of that calibration on the REAL queries (all held out from it): predicted
    confidence of each RESCORED answer vs whether it equalled the exact top-10 (EXACT mode);
 3. served-query calibration, cross-fitted: the queries are split in two halves (seeded); a fresh
    server verifies every served query of one half in the background (`--calibration-query-rate
    1`) and refits its gate on them, and the other half is held out; then the halves swap;
 4. on every query, held out: reliability, then AUTO (target recall 0.99; at the default
    oversample 4 and at 8), RESCORED and EXACT: recall@10 vs exact, NDCG@10 vs qrels, fallback
    rate, p50/p95 latency (client side, same run), and the gate's share of server search time.

    bitrag bench gate --data ../shared/data/scifact --embeddings minilm-l6-384 mpnet-base-768

Writes bench/results/gate_<dataset>.{json,md}.
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
from bitrag_server.launch import ServerProcess

from .common import DEFAULT_DATA, DEFAULT_RESULTS, load_beir, log, ndcg_at_k, rotated

K = 10


def reliability(pred: np.ndarray, outcome: np.ndarray, bins: int = 5) -> list[dict]:
    order = np.argsort(pred, kind="stable")
    rows = []
    for chunk in np.array_split(order, bins):
        if chunk.size:
            rows.append({
                "lo": round(float(pred[chunk].min()), 4), "hi": round(float(pred[chunk].max()), 4),
                "n": int(chunk.size), "predicted": round(float(pred[chunk].mean()), 4),
                "measured": round(float(outcome[chunk].mean()), 4),
                "gap": round(abs(float(pred[chunk].mean() - outcome[chunk].mean())), 4),
            })
    return rows


def run_mode(c: Client, queries: np.ndarray, idx: list[int], mode: str, **kw) -> dict:
    hits, lat, diags = [], [], []
    for qi in idx:
        t = time.perf_counter()
        r = c.search("bench", queries[qi], top_k=K, mode=mode, **kw)
        lat.append((time.perf_counter() - t) * 1000)
        hits.append([h.document_id for h in r.hits])
        diags.append(r.diagnostics)
    return {"hits": hits, "lat": np.asarray(lat), "diags": diags}


def run_modes(c: Client, queries: np.ndarray, idx: list[int], specs: list[tuple[str, str, dict]]) -> dict[str, dict]:
    """Every query in every (name, mode, kwargs) of `specs`, side by side, in the order `rotated` by
    the query's index (background verification of the served queries before a mode would otherwise
    always burden the same one). {name: {"hits", "lat" (a list of ms), "diags"}}."""
    out: dict[str, dict[str, list]] = {name: {"hits": [], "lat": [], "diags": []} for name, _, _ in specs}
    for i, qi in enumerate(idx):
        for name, mode, kw in rotated(specs, i):
            r = run_mode(c, queries, [qi], mode, **kw)
            out[name]["hits"] += r["hits"]
            out[name]["lat"] += r["lat"].tolist()
            out[name]["diags"] += r["diags"]
    return out


def summarize(name: str, run: dict, exact_hits: list[list[str]], qids: list[str], qrels: dict) -> dict:
    rec = [len(set(h) & set(e)) / K for h, e in zip(run["hits"], exact_hits)]
    paths = [d.path for d in run["diags"]]
    out = {
        "mode": name,
        "recall@10_vs_exact": round(float(np.mean(rec)), 4),
        "share_exact_top10": round(float(np.mean([r == 1.0 for r in rec])), 4),
        "p50_ms": round(float(np.percentile(run["lat"], 50)), 2),
        "p95_ms": round(float(np.percentile(run["lat"], 95)), 2),
        "fallback_rate": round(float(np.mean([p.startswith("FALLBACK") for p in paths])), 4),
        "paths": {p: paths.count(p) for p in sorted(set(paths))},
        "float_rows_p50": int(np.percentile([d.candidates_examined for d in run["diags"]], 50)),
        # the confidence gate's own cost: its stage time over the server's search time
        "gate_share_p50": round(float(np.median([d.timings_us.get("gate", 0) / max(1, d.total_us) for d in run["diags"]])), 4),
        "gate_us_p50": int(np.median([d.timings_us.get("gate", 0) for d in run["diags"]])),
    }
    if qrels:
        out["ndcg@10"] = round(float(np.mean([ndcg_at_k(h, qrels[q]) for h, q in zip(run["hits"], qids)])), 4)
    return out


def bench_model(args: argparse.Namespace, emb: str) -> dict:
    b = load_beir(args.data, emb)
    corpus_ids, query_ids, qrels, corpus, queries = b.corpus_ids, b.query_ids, b.qrels, b.corpus, b.queries
    n, d = corpus.shape
    idx = b.eval_queries()
    log(f"gate: {b.name}/{emb}: {n:,} docs x {d}, {len(idx)} queries")
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(idx).tolist()
    half_a, half_b = sorted(perm[: len(perm) // 2]), sorted(perm[len(perm) // 2 :])
    res: dict = {"embeddings": emb, "docs": n, "dim": d, "queries": len(idx), "half_a": len(half_a), "half_b": len(half_b)}
    extra = ["--calibration-query-rate", "0"]
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data", extra_args=extra) as srv, \
            Client(srv.target, timeout=600) as c:
        c.create_collection("bench", dimension=d, embedder="none")
        c.ingest_vectors("bench", corpus, ids=corpus_ids, document_ids=corpus_ids)
        big = c.calibrate("bench", samples=args.in_distribution_samples)
        res["pseudo_in_distribution"] = {
            "samples": big.samples, "seconds": round(big.duration_us / 1e6, 2),
            "reliability_out_of_fold": [vars(b) for b in big.reliability],
        }
        cal = c.calibrate("bench", samples=args.samples)
        res["pseudo_calibration"] = {
            "samples": cal.samples, "threshold": round(cal.threshold, 4), "seconds": round(cal.duration_us / 1e6, 2),
            "reliability_out_of_fold": [vars(b) for b in cal.reliability],
        }
        for qi in idx[:5]:
            c.search("bench", queries[qi], top_k=K, mode="EXACT")  # warm-up
        exact = run_mode(c, queries, idx, "EXACT")
        resc = run_mode(c, queries, idx, "RESCORED")
        exact_hits = exact["hits"]
        conf = np.asarray([dg.confidence for dg in resc["diags"]])
        match = np.asarray([set(h) == set(e) for h, e in zip(resc["hits"], exact_hits)], float)
        res["pseudo_reliability_on_real_queries"] = reliability(conf, match)
        srv.stop()

    # Served-query calibration, cross-fitted: for each half, a fresh server verifies every served
    # query of the OTHER half in the background and refits its gate on them; this half is held out.
    # Every query thus gets a held-out prediction and a held-out AUTO answer.
    pos = {qi: j for j, qi in enumerate(idx)}
    runs: dict[str, dict] = {}
    conf_all: list[float] = []
    match_all: list[float] = []
    served = []
    for calib_half, held in ((half_a, half_b), (half_b, half_a)):
        extra = ["--calibration-query-rate", "1"]
        with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data", extra_args=extra) as srv, \
                Client(srv.target, timeout=600) as c:
            c.create_collection("bench", dimension=d, embedder="none")
            c.ingest_vectors("bench", corpus, ids=corpus_ids, document_ids=corpus_ids)
            c.calibrate("bench", samples=args.samples)
            for qi in calib_half:
                c.search("bench", queries[qi], top_k=K, mode="RESCORED")
            deadline = time.time() + 120
            while time.time() < deadline:
                info = c.describe_collection("bench").calibration
                if info.source == "queries":
                    break
                time.sleep(1)
            served.append({"source": info.source, "samples": info.samples, "threshold": round(info.threshold, 4)})
            ex = [exact_hits[pos[qi]] for qi in held]
            specs = [("AUTO", "AUTO", {}), ("AUTO oversample 8", "AUTO", {"oversample": 8}),
                     ("RESCORED", "RESCORED", {}), ("EXACT", "EXACT", {})]
            for name, r in run_modes(c, queries, held, specs).items():
                acc = runs.setdefault(name, {"hits": [], "lat": [], "diags": [], "exact": [], "qids": []})
                acc["hits"] += r["hits"]
                acc["lat"] += r["lat"]
                acc["diags"] += r["diags"]
                acc["exact"] += ex
                acc["qids"] += [query_ids[qi] for qi in held]
            rr = runs["RESCORED"]
            conf_all += [dg.confidence for dg in rr["diags"][-len(held):]]
            match_all += [float(set(h) == set(e)) for h, e in zip(rr["hits"][-len(held):], ex)]
            srv.stop()
    res["served_calibration"] = served
    res["served_reliability_on_held_out"] = reliability(np.asarray(conf_all), np.asarray(match_all))
    res["held_out"] = [
        summarize(name, {**r, "lat": np.asarray(r["lat"])}, r["exact"], r["qids"], qrels) for name, r in runs.items()
    ]
    if qrels:
        e = res["held_out"][-1]["ndcg@10"]
        res["auto_ndcg_retention"] = round(res["held_out"][0]["ndcg@10"] / e, 4) if e else None
    return res


def to_markdown(all_res: list[dict], dataset: str) -> str:
    md = [f"# Confidence gate on {dataset} (k={K}, target recall 0.99)", ""]
    for r in all_res:
        md += [f"## {r['embeddings']}: {r['docs']} docs x {r['dim']}, {r['queries']} queries "
               f"(halves of {r['half_a']} and {r['half_b']}, each calibrating the gate for the other)", ""]
        md += ["**Pseudo-query calibration, in distribution: "
               f"{r['pseudo_in_distribution']['samples']} held-out (out-of-fold) pseudo-queries**", "",
               "| predicted | n | mean predicted | measured exact top-10 | gap |", "|---|---|---|---|---|"]
        md += [f"| {b['lo']:.3f}–{b['hi']:.3f} | {b['count']} | {b['predicted']:.3f} | {b['measured']:.3f} | "
               f"{abs(b['predicted'] - b['measured']):.3f} |" for b in r["pseudo_in_distribution"]["reliability_out_of_fold"]]
        md.append("")
        for key, title in (
            ("pseudo_reliability_on_real_queries", "Pseudo-query calibration, checked on all real queries"),
            ("served_reliability_on_held_out",
             "Served-query calibration (cross-fitted: each half calibrated on the other), all queries held out"),
        ):
            md += [f"**{title}**", "", "| predicted | n | mean predicted | measured exact top-10 | gap |", "|---|---|---|---|---|"]
            md += [f"| {b['lo']:.3f}–{b['hi']:.3f} | {b['n']} | {b['predicted']:.3f} | {b['measured']:.3f} | {b['gap']:.3f} |"
                   for b in r[key]]
            md.append("")
        md += [f"Thresholds: pseudo {r['pseudo_calibration']['threshold']}; served (per half) "
               + ", ".join(f"{x['threshold']} from {x['samples']} verified queries" for x in r["served_calibration"]), "",
               "Each held-out query runs in the four modes side by side (their order rotates per query).", "",
               "| all queries, held out | recall@10 vs exact | share exact top-10 | NDCG@10 | fallback rate | float rows p50 | p50 ms | p95 ms | gate µs p50 (share) | paths |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for m in r["held_out"]:
            md.append(f"| {m['mode']} | {m['recall@10_vs_exact']} | {m['share_exact_top10']} | {m.get('ndcg@10', '')} | "
                      f"{m['fallback_rate']} | {m['float_rows_p50']} | {m['p50_ms']} | {m['p95_ms']} | "
                      f"{m['gate_us_p50']} ({m['gate_share_p50']:.1%}) | {m['paths']} |")
        md += ["", f"AUTO NDCG@10 retention vs EXACT: {r.get('auto_ndcg_retention')}", ""]
    return "\n".join(md) + "\n"


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR directory (default %(default)s)")
    ap.add_argument("--embeddings", nargs="+", default=["minilm-l6-384", "mpnet-base-768"])
    ap.add_argument("--samples", type=int, default=300, help="pseudo-queries for the first calibration")
    ap.add_argument("--in-distribution-samples", type=int, default=2000,
                    help="pseudo-queries for the in-distribution reliability check (out-of-fold)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="report directory (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    all_res = [bench_model(args, emb) for emb in args.embeddings]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"gate_{Path(args.data).resolve().name}"
    (args.out / f"{stem}.json").write_text(json.dumps(all_res, indent=2))
    md = to_markdown(all_res, Path(args.data).resolve().name)
    (args.out / f"{stem}.md").write_text(md)
    print(md)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
