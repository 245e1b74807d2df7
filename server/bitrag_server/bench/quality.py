"""Retrieval quality of the service on any BEIR-format directory with precomputed embeddings.

Ingests `emb/<NAME>/corpus.npy` through the service's raw-vector path (gRPC, ids = corpus ids),
queries through gRPC with `emb/<NAME>/queries.npy` (the queries judged in qrels/test.tsv, or all
queries without qrels) and reports per mode: float32 exact (EXACT), Hamming only (BINARY_ONLY),
RESCORED at oversample 1/2/4/8/16 and AUTO at the collection's default target recall:
NDCG@10 (with qrels), recall@1/@10/@100 against the exact float32 top-k (numpy, same vectors),
retention versus float32 exact, fallback rate, p50/p95 latency.

    bitrag bench quality --data ../shared/data/scifact --embeddings mpnet-base-768 [--json]
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    DEFAULT_DATA,
    DEFAULT_RESULTS,
    Beir,
    environment,
    exact_topk_blocked,
    latency_summary,
    load_beir,
    log,
    ndcg_at_k,
    recall_at,
)

K = 10
K_WIDE = 100
COLLECTION = "bench"


@dataclass
class QualityConfig:
    data: Path = DEFAULT_DATA
    embeddings: str = "minilm-l6-384"
    backend: str = "lite"  # lite | standalone (started here)
    milvus_uri: str = ""  # an external Milvus server
    nlist: int = 128
    nprobe: int = 128
    hamming_pool_factor: int = 0  # 0 = server default (4)
    tier: str = ""  # middle tier of the collection ("" = the server's default)
    oversamples: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    out: Path | None = DEFAULT_RESULTS
    name: str = ""
    plots: bool = True
    progress: bool = False
    argv: list[str] = field(default_factory=list)

    @property
    def backend_label(self) -> str:
        return "external" if self.milvus_uri else self.backend

    def stem(self, dataset: str) -> str:
        if self.name:
            return self.name
        pool = f"_pool{self.hamming_pool_factor}" if self.hamming_pool_factor else ""
        tier = f"_{self.tier}" if self.tier else ""
        return f"quality_{dataset}_{self.embeddings}_{self.backend_label}{pool}{tier}"


def _mode_figures(b: Beir, idx: list[int], truth: np.ndarray, truth_scores: np.ndarray, pos: dict[str, int],
                  run10, run100, exact_ndcg: float | None) -> dict[str, Any]:
    """Figures of one mode from its k=10 run (NDCG, recall@1/@10, latency, fallbacks) and its
    k=100 run (recall@100)."""
    rows10 = [[pos[x] for x in got] for got in run10.ids]
    out: dict[str, Any] = {}
    if b.qrels:
        out["ndcg@10"] = round(float(np.mean([ndcg_at_k(got, b.qrels[b.query_ids[qi]])
                                              for got, qi in zip(run10.ids, idx)])), 4)
    out["recall@1"] = round(float(np.mean([recall_at(r, t, 1) for r, t in zip(rows10, truth)])), 4)
    out["recall@10"] = round(float(np.mean([recall_at(r, t, K) for r, t in zip(rows10, truth)])), 4)
    if run100 is not None:
        rows100 = [[pos[x] for x in got] for got in run100.ids]
        out["recall@100"] = round(float(np.mean([recall_at(r, t, K_WIDE) for r, t in zip(rows100, truth)])), 4)
    # score retention: true cosines of what was returned over those of the exact top 10
    qv = b.queries[idx]
    ret = []
    for qi, r in enumerate(rows10):
        got = float(np.sum(b.corpus[r[:K]] @ qv[qi])) if r else 0.0
        ret.append(got / float(np.sum(truth_scores[qi, :K])))
    out["score_retention@10"] = round(float(np.mean(ret)), 4)
    if b.qrels and exact_ndcg:
        out["ndcg@10_retention"] = round(out["ndcg@10"] / exact_ndcg, 4)
    out["retention"] = out.get("ndcg@10_retention", out["score_retention@10"])
    paths = [d.path for d in run10.diags]
    out["fallback_rate"] = round(float(np.mean([p.startswith("FALLBACK") for p in paths])), 4)
    out["paths"] = {p: paths.count(p) for p in sorted(set(paths))}
    lat = latency_summary(run10.lat_ms)
    out["p50_ms"], out["p95_ms"], out["p99_ms"] = lat["p50_ms"], lat["p95_ms"], lat["p99_ms"]
    out["server_p50_ms"] = round(float(np.percentile([d.total_us for d in run10.diags], 50)) / 1000, 3)
    out["float_rows_p50"] = int(np.percentile([d.candidates_examined for d in run10.diags], 50))
    if run100 is not None:
        out["p50_ms_k100"] = latency_summary(run100.lat_ms)["p50_ms"]
    return out


def run(cfg: QualityConfig) -> dict[str, Any]:
    from bitrag import Client, IndexSpec
    from bitrag_server.launch import ServerProcess

    from ..milvus_standalone import MilvusStandalone, flush_and_index
    from .runner import grpc_run

    b = load_beir(cfg.data, cfg.embeddings)
    n, d = b.corpus.shape
    idx = b.eval_queries()
    if not idx:
        raise SystemExit("no queries to evaluate (qrels name none of the queries)")
    log(f"{b.name}/{cfg.embeddings}: {n:,} docs x {d}, {len(idx)} queries, qrels {'yes' if b.qrels else 'no'}, "
        f"Milvus {cfg.backend_label}")
    qv = b.queries[idx]
    truth, truth_scores = exact_topk_blocked(qv, b.corpus, K_WIDE)  # [Q, 100] exact rows, best first
    pos = {cid: i for i, cid in enumerate(b.corpus_ids)}
    exact_ndcg_np = None
    ref: dict[str, Any] = {}
    if b.qrels:
        exact_ndcg_np = float(np.mean([ndcg_at_k([b.corpus_ids[j] for j in truth[i, :K]], b.qrels[b.query_ids[qi]])
                                       for i, qi in enumerate(idx)]))
        ref["float32_exact_numpy_ndcg@10"] = round(exact_ndcg_np, 4)
        codes, qcodes = np.packbits(b.corpus > 0, axis=1), np.packbits(qv > 0, axis=1)
        ham_top = []
        for q in qcodes:
            h = np.unpackbits(codes ^ q, axis=1).sum(1)
            ham_top.append(np.argsort(h, kind="stable")[:K])
        ref["hamming_numpy_ndcg@10"] = round(float(np.mean([
            ndcg_at_k([b.corpus_ids[j] for j in ham_top[i]], b.qrels[b.query_ids[qi]]) for i, qi in enumerate(idx)])), 4)

    doc: dict[str, Any] = {
        "benchmark": "quality", "dataset": b.name, "embeddings": cfg.embeddings, "docs": n, "dim": d,
        "queries": len(idx), "qrels": bool(b.qrels), "backend": cfg.backend_label, "k": K,
        "hamming_pool_factor": cfg.hamming_pool_factor or 4, "environment": environment(),
        "command": "bitrag " + " ".join(cfg.argv) if cfg.argv else "",
    }
    extra = ["--calibration-query-rate", "0"]
    if cfg.hamming_pool_factor:
        extra += ["--hamming-pool-factor", str(cfg.hamming_pool_factor)]
    with tempfile.TemporaryDirectory(prefix="bitrag-quality-") as tmp:
        milvus = None
        uri = cfg.milvus_uri
        try:
            if cfg.backend == "standalone" and not uri:
                milvus = MilvusStandalone(Path(tmp) / "milvus").start()
                uri = milvus.uri
            with ServerProcess(Path(tmp) / "data", milvus_uri=uri, extra_args=extra) as srv, \
                    Client(srv.target, timeout=3600) as c:
                index = IndexSpec("BIN_IVF_FLAT", {"nlist": cfg.nlist}, {"nprobe": cfg.nprobe}) if uri else None
                info = c.create_collection(COLLECTION, dimension=d, embedder="none", index=index, tier=cfg.tier)
                doc["index"] = {"type": info.index.type, "build_params": info.index.build_params,
                                "search_params": info.index.search_params}
                t0 = time.perf_counter()
                c.ingest_vectors(COLLECTION, b.corpus, ids=b.corpus_ids, document_ids=b.corpus_ids)
                secs = time.perf_counter() - t0
                doc["ingest"] = {"seconds": round(secs, 2), "rows_per_s": round(n / secs)}
                if uri:
                    from pymilvus import MilvusClient

                    mc = MilvusClient(uri=uri)
                    doc["index_build"] = flush_and_index(mc, f"bitrag_{COLLECTION}", "code", progress=False)
                    mc.close()
                cal = c.calibrate(COLLECTION)
                doc["calibration"] = {"source": cal.source, "samples": cal.samples, "threshold": round(cal.threshold, 4),
                                      "target_recall": round(cal.target_recall, 4), "seconds": round(cal.duration_us / 1e6, 2)}
                info = c.describe_collection(COLLECTION)
                doc["bytes_in_ram_codes"], doc["bytes_on_disk_floats"] = info.bytes_in_ram, info.bytes_on_disk
                doc["tier"], doc["bytes_in_ram_tier"] = info.tier, info.bytes_tier
                doc["plan"] = dataclasses.asdict(info.plan) if info.plan is not None else {}
                for mode in ("AUTO", "EXACT", "BINARY_ONLY", "RESCORED"):  # warm-up
                    grpc_run(srv.target, COLLECTION, qv[:5], mode=mode, top_k=K, id_attr="document_id")
                plan = [("float32_exact", "EXACT", 0, "float32 exact (EXACT)"),
                        ("hamming_only", "BINARY_ONLY", 0, "Hamming only (BINARY_ONLY)")]
                plan += [(f"rescored_x{o}", "RESCORED", o, f"RESCORED oversample {o}") for o in cfg.oversamples]
                plan += [("auto", "AUTO", 0, f"AUTO (target {cal.target_recall:.3g}, default oversample)")]
                exact_ndcg = None
                modes: dict[str, Any] = {}
                for key, mode, o, label in plan:
                    r10 = grpc_run(srv.target, COLLECTION, qv, mode=mode, top_k=K, oversample=o, id_attr="document_id",
                                   progress=cfg.progress, desc=key)
                    r100 = grpc_run(srv.target, COLLECTION, qv, mode=mode, top_k=K_WIDE, oversample=o,
                                    id_attr="document_id", progress=cfg.progress, desc=f"{key} k=100")
                    m = _mode_figures(b, idx, truth, truth_scores, pos, r10, r100, exact_ndcg)
                    if key == "float32_exact":
                        exact_ndcg = m.get("ndcg@10")
                        if b.qrels and exact_ndcg:
                            m["ndcg@10_retention"] = m["retention"] = 1.0
                    modes[key] = {"label": label, "mode": mode, "oversample": o or None, **m}
                    log(f"{key:>14}: recall@10 {m['recall@10']:.4f} recall@100 {m.get('recall@100', 0):.4f} "
                        f"NDCG@10 {m.get('ndcg@10', '-')} p50 {m['p50_ms']:.2f} ms fallback {m['fallback_rate']:.1%}")
                doc["modes"] = modes
                code = srv.stop()
            doc["server_exit_code"] = code
        finally:
            if milvus is not None:
                milvus.stop()
    if ref:
        doc["reference"] = ref
    if cfg.out is not None:
        from . import report

        stem = cfg.stem(b.name)
        report.write_quality(doc, cfg.out, stem, plots=cfg.plots)
        doc["report"] = str(cfg.out / f"{stem}.md")
    return doc
