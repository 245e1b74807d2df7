"""Latency, throughput, memory and recall at N rows, bitrag and its baselines in one run.

Per N (synthetic vectors fitted to real embeddings, see synth.py):
  1. vectors: `corpus.f32` / `queries.f32` from the seeded generator (cached, grown on demand);
     ground truth: exact top-100 per query by a blocked scan of the float file (cached);
  2. bitrag: a `bitrag serve` process on Milvus Lite (its child) or on a Milvus standalone started
     here (PyPI `milvus`), or on `--milvus-uri`; the vectors ingested through gRPC (the SDK's
     `ingest_vectors`, raw-vector path); flush + index build timed; the gate calibrated;
     queries through gRPC per mode at concurrency 1 (BINARY_ONLY, RESCORED at each oversample,
     AUTO), AUTO at the higher concurrencies, EXACT on a subset; sentence-transformers-style
     rescoring on the same binary collection; memory of the server and of Milvus (psutil, with
     children), bytes on disk;
  3. baselines: numpy brute force, a float32 Milvus collection (HNSW on standalone, FLAT on Lite)
     on a Milvus of its own, when the data fits in RAM (else the RAM it would need is stated);
  4. ratios baseline / bitrag, all from this run; targets checked (reported, not asserted).

Results merge into bench/results/<name>.json by N (a 10M run can be added to a 1M report later);
<name>.md and the plots are re-rendered from the JSON. Interrupted runs resume: the vector files,
the ground truth and (with a persistent --work-dir) the ingested collection are reused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    DEFAULT_DATA,
    DEFAULT_RESULTS,
    REPO,
    chunks,
    dir_bytes,
    environment,
    log,
    mem_available,
    process_memory,
    write_json,
)

COLLECTION = "bench"
MILVUS_COLLECTION = f"bitrag_{COLLECTION}"
GT_K = 100
K = 10
NO_BACKGROUND_CALIBRATION = str(10**12)  # BITRAG_CALIBRATION_MIN_ROWS: calibrate once, explicitly, timed
SERVER_TAIL_LINES = 40  # printed when the bench fails

TARGETS = {
    # the goals at N, reported, never asserted; ratios from figures of the same run
    1_000_000: {"auto_p50_vs_bare_milvus": 1.5, "auto_p50_vs_float32_hnsw": 0.6, "auto_p99_vs_p50": 4.0,
                "auto_recall@10": 0.99, "second_milvus_call_share": 0.05, "qps_c8_vs_float32_hnsw": 2.0,
                "private_memory_vs_float32_milvus": 0.10},
    10_000_000: {"auto_p50_vs_bare_milvus": 2.0, "auto_p99_vs_p50": 4.0, "auto_recall@10": 0.98,
                 "private_memory_bytes": 3 * 2**30},
}


@dataclass
class ScaleConfig:
    ns: list[int]
    backend: str = "lite"  # lite | standalone
    milvus_uri: str = ""  # an external Milvus server instead of starting one
    queries: int = 500
    seed: int = 0
    work_dir: Path = REPO / "bench" / ".work"
    out: Path = DEFAULT_RESULTS
    name: str = ""
    fit_data: Path = DEFAULT_DATA
    fit_embeddings: str = "mpnet-base-768"
    real_data: Path | None = None  # a BEIR directory of real vectors instead of the generator
    real_embeddings: str = "minilm-l6-384"
    rank: int = 256
    nlist: int = 0  # 0 = auto
    segment_max_mb: int = 0  # Milvus standalone started here: dataCoord.segment.maxSize (0 = Milvus' 512)
    nprobe: int = 0  # 0 = auto
    milvus_mmap: bool = False  # Milvus standalone started here maps sealed segments' raw columns
    oversamples: list[int] = field(default_factory=lambda: [1, 2, 4])
    concurrency: list[int] = field(default_factory=lambda: [1, 8, 32])
    concurrency_queries: int = 0  # queries for the runs at concurrency > 1 (0 = all)
    exact_queries: int = -1  # -1 = auto: 50 up to 2M rows, 3 above (each EXACT query scans the whole float file)
    st_multipliers: list[int] = field(default_factory=lambda: [4])
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef: int = 128
    baselines: list[str] = field(default_factory=lambda: ["numpy", "float32_milvus", "faiss_hnsw",
                                                          "faiss_binary_rescore"])
    keep: bool = False
    fresh: bool = False
    ingest_slice: int = 100_000
    ingest_batch: int = 4096
    plots: bool = True
    progress: bool = True
    argv: list[str] = field(default_factory=list)

    @property
    def backend_label(self) -> str:
        return "external" if self.milvus_uri else self.backend

    def report_name(self) -> str:
        return self.name or f"scale_{self.backend_label}"


# Milvus 2.3 (default dataCoord.segment.maxSize 512 MB) seals a segment of bitrag's schema at
# 140,000 rows (it sizes rows by the schema's declared maximums, not by the data: ~3.8 KB per row
# for ~120 bytes stored; 86,016 rows while text and ids were in Milvus too), and builds one IVF
# index per segment: nlist must follow the segment, not N.
SEGMENT_ROWS = 140_000


def auto_ivf(n: int, nlist: int, nprobe: int, segment_rows: int = SEGMENT_ROWS) -> tuple[int, int]:
    """nlist ~ 4 sqrt(rows per segment) (Milvus trains one IVF per sealed segment); nprobe ~ nlist/4:
    on 768-bit codes of mpnet-like vectors at 100k rows nprobe = nlist/16 kept 76% of the exact
    Hamming top 160, nlist/4 95%, all lists 98% (ties), at 4.3 / 4.9 / 6.2 ms per Milvus search."""
    rows = min(n, segment_rows) if segment_rows > 0 else n
    nl = nlist or int(min(65536, max(16, round(4 * math.sqrt(rows)))))
    npb = nprobe or int(min(nl, max(16, nl // 4)))
    return nl, npb


def disk_needed(n: int, dim: int, cached_rows: int, float32_milvus: bool) -> int:
    floats = n * dim * 4
    need = max(0, n - cached_rows) * dim * 4  # synthetic vectors still to generate
    need += int(floats * 1.04)  # bitrag's float file + codes
    need += n * 400  # Milvus binary collection (codes, ids, hashes, binlogs)
    if float32_milvus:
        need += int(floats * 1.3)
    return need


# ---- one N ---------------------------------------------------------------------------------------


def run_n(cfg: ScaleConfig, n: int) -> dict[str, Any]:
    from pymilvus import MilvusClient
    from tqdm import tqdm

    from bitrag import Client, IndexSpec
    from bitrag_server.launch import ServerProcess

    from . import baselines
    from ..milvus_standalone import MilvusStandalone, flush_and_index, segments
    from .runner import grpc_run, summarize
    from .synth import VectorCache, fit_from_beir

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    entry: dict[str, Any] = {"n": n, "backend": cfg.backend_label, "environment": environment(),
                             "command": "bitrag " + " ".join(cfg.argv) if cfg.argv else ""}

    # 1. vectors and ground truth ---------------------------------------------------------------
    if cfg.real_data is not None:  # a real corpus (BEIR shape): its first n rows and its queries
        cache: Any = BeirVectors(cfg.real_data, cfg.real_embeddings, cfg.work_dir / "real")
        n = min(n, cache.size)
        entry["n"] = n
        dim = cache.dim
    else:
        model = fit_from_beir(cfg.fit_data, cfg.fit_embeddings, cfg.rank)
        cache = VectorCache(cfg.work_dir / "synth", model, cfg.seed)
        dim = model.dim
    want_f32 = "float32_milvus" in cfg.baselines and n * dim * 4 * 1.6 < mem_available()
    need = disk_needed(n, dim, cache.rows("corpus"), want_f32)
    free = baselines.free_disk(cfg.work_dir)
    log(f"N={n:,} x {dim}: needs ~{need / 2**30:.1f} GiB of disk, {free / 2**30:.1f} GiB free under {cfg.work_dir}")
    if need > free:
        raise SystemExit(f"not enough disk under {cfg.work_dir}: ~{need / 2**30:.1f} GiB needed, "
                         f"{free / 2**30:.1f} GiB free (use --work-dir elsewhere, or --baselines without float32_milvus)")
    t = time.perf_counter()
    corpus = cache.get("corpus", n, progress=cfg.progress)
    queries = np.array(cache.queries(cfg.queries, n))
    timings["synth_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    gt_ids, gt_scores, gt_scan_s = cache.ground_truth(n, cfg.queries, GT_K, corpus=corpus, queries=queries)
    timings["ground_truth_s"] = round(time.perf_counter() - t, 2)
    entry["data"] = {
        "generator": cache.describe() if cfg.real_data is not None else
        f"Gaussian tree process fitted to {model.name} (PPCA rank {model.rank}, rho {model.rho}, "
        f"rho_q {model.rho_query}, p_root {model.p_root}), seed {cfg.seed}",
        "real": cfg.real_data is not None,
        "fingerprint": cache.fingerprint() if cfg.real_data is not None else model.fingerprint(),
        "dim": dim, "queries": cfg.queries,
        "ground_truth": {"k": GT_K, "blocked_scan_s": round(gt_scan_s, 2), "cache": str(cache.dir)},
        "top1_cos_mean": round(float(gt_scores[:, 0].mean()), 4),
        "top10_cos_mean": round(float(gt_scores[:, K - 1].mean()), 4),
    }

    # 2. bitrag -----------------------------------------------------------------------------------
    run_dir = cfg.work_dir / f"run_{cfg.backend_label}_{'real_' if cfg.real_data is not None else ''}{n}"
    if cfg.fresh:
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    seg_rows = SEGMENT_ROWS * cfg.segment_max_mb // 512 if cfg.segment_max_mb else SEGMENT_ROWS
    nlist, nprobe = auto_ivf(n, cfg.nlist, cfg.nprobe, seg_rows)
    milvus = None
    milvus_pid = 0
    uri = cfg.milvus_uri
    if cfg.backend == "standalone" and not uri:
        t = time.perf_counter()
        extra: dict[str, object] = {"dataCoord.segment.maxSize": cfg.segment_max_mb} if cfg.segment_max_mb else {}
        entry["milvus_config"] = {**(extra or {"dataCoord.segment.maxSize": "512 (default)"}),
                                  "queryNode.mmapDirPath": "set (raw columns mapped)" if cfg.milvus_mmap else "unset"}
        milvus = MilvusStandalone(run_dir / "milvus", extra_config=extra, mmap=cfg.milvus_mmap).start()
        uri, milvus_pid = milvus.uri, milvus.pid
        timings["milvus_start_s"] = round(time.perf_counter() - t, 2)
    # vectors only (the collection has no embedder): no embedding model in the server's memory, as
    # a float32 vector database holds none (the packaged MiniLM is ~430 MiB private once loaded)
    entry["server_args"] = ["--calibration-query-rate", "0", "--embedder", "none"]
    srv = ServerProcess(
        run_dir / "bitrag", milvus_uri=uri, extra_args=entry["server_args"],
        env={"BITRAG_CALIBRATION_MIN_ROWS": NO_BACKGROUND_CALIBRATION}, ready_timeout_s=600,
    )
    try:
        srv.start()
        c = Client(srv.target, timeout=6 * 3600)
        mem: dict[str, Any] = {}

        def snapshot(label: str) -> None:
            m = {"server": process_memory(srv.proc.pid) if srv.proc else {}}
            if milvus_pid:
                m["milvus"] = process_memory(milvus_pid)
            mem[label] = m

        snapshot("idle")
        existing = {ci.name for ci in c.list_collections()}
        if COLLECTION not in existing:
            index = IndexSpec("BIN_IVF_FLAT", {"nlist": nlist}, {"nprobe": nprobe}) if uri else None
            c.create_collection(COLLECTION, dimension=dim, embedder="none", index=index)
            state = {}
        info = c.describe_collection(COLLECTION)
        entry["index"] = {"type": info.index.type, "build_params": info.index.build_params,
                          "search_params": info.index.search_params}
        start = info.rows
        if 0 < start < n:
            start = max(0, start - cfg.ingest_batch)  # re-send the last batch: unchanged rows are skipped
        ingest = dict(state.get("ingest", {}))
        if start < n:
            log(f"ingest rows {start:,}..{n:,} through gRPC (slices of {cfg.ingest_slice:,}, requests of {cfg.ingest_batch})")
            bar = tqdm(total=n, initial=start, unit="row", unit_scale=True, desc="bitrag ingest", smoothing=0.05,
                       mininterval=2.0, disable=not cfg.progress)
            curve = list(ingest.get("rate_curve", []))
            secs = float(ingest.get("seconds", 0.0))
            rows_done = int(ingest.get("rows", 0))
            for a, b in chunks(n - start, cfg.ingest_slice):
                a, b = a + start, b + start
                block = np.asarray(corpus[a:b])
                t = time.perf_counter()
                c.ingest_vectors(COLLECTION, block, ids=[str(i) for i in range(a, b)], batch_size=cfg.ingest_batch,
                                 on_progress=lambda p: bar.update(p.chunks_step))
                dt = time.perf_counter() - t
                secs += dt
                rows_done += b - a
                curve.append([b, round((b - a) / dt)])
                ingest = {"rows": rows_done, "seconds": round(secs, 2), "rows_per_s": round(rows_done / secs),
                          "rate_curve": curve, "resumed": start > 0 or bool(state.get("ingest"))}
                state["ingest"] = ingest
                write_json(state_path, state)
            bar.close()
        else:
            ingest["reused"] = "ingested by an earlier invocation (kept collection)"
        entry["ingest"] = ingest
        timings["ingest_s"] = ingest.get("seconds", 0.0)
        log(f"ingested {n:,} rows: {ingest.get('rows_per_s', 0):,} rows/s")

        if uri:  # a Milvus server: seal, index, reload
            mc = MilvusClient(uri=uri)
            t = time.perf_counter()
            entry["index_build"] = flush_and_index(mc, MILVUS_COLLECTION, "code", progress=cfg.progress)
            timings["index_build_s"] = round(time.perf_counter() - t, 2)
            entry["segments"] = segments(mc, MILVUS_COLLECTION)
            mc.close()
            log(f"index: {entry['index_build']}; segments {entry['segments'].get('persistent_rows')}")
        else:
            entry["index_build"] = {"note": "Milvus Lite, BIN_FLAT: no index to build"}
        t = time.perf_counter()
        cal = c.calibrate(COLLECTION)
        timings["calibrate_s"] = round(time.perf_counter() - t, 2)
        entry["calibration"] = {"source": cal.source, "samples": cal.samples, "threshold": round(cal.threshold, 4),
                                "target_recall": round(cal.target_recall, 4), "seconds": round(cal.duration_us / 1e6, 2)}
        info = c.describe_collection(COLLECTION)
        entry["collection"] = {"rows": info.rows, "bytes_in_ram_codes": info.bytes_in_ram,
                               "bytes_in_ram_tier": info.bytes_tier, "tier": info.tier,
                               "bytes_on_disk_floats": info.bytes_on_disk}
        entry["plan"] = dataclasses.asdict(info.plan) if info.plan is not None else {}
        log(f"plan: {entry['plan']}")
        snapshot("after_ingest")
        from .milvus_cost import search_cost

        t = time.perf_counter()
        plan_nprobe = int(entry["plan"].get("nprobe") or 0) or int(entry["index"]["search_params"].get("nprobe", 0))
        nprobes = sorted({plan_nprobe, 8, 32, 128} if plan_nprobe else {0})
        metrics_url = (f"http://127.0.0.1:{milvus.server.webservice_port}/metrics"
                       if milvus is not None and milvus.server is not None else "")
        if uri:  # a Milvus server (a Milvus Lite file is held open by the server's own Milvus Lite)
            entry["milvus_search_cost"] = search_cost(uri, MILVUS_COLLECTION, np.packbits(queries[:100] > 0, axis=1),
                                                      nprobes, metrics_url=metrics_url)
        bare = [r for r in entry.get("milvus_search_cost", {}).get("rows", [])
                if r["nprobe"] == plan_nprobe and r["pool"] == K]
        entry["bare_milvus_search_p50_ms"] = bare[0]["milvusclient_p50_ms"] if bare else None
        timings["milvus_cost_s"] = round(time.perf_counter() - t, 2)
        log(f"bare Milvus search (k={K}, nprobe {plan_nprobe or '-'}): {entry['bare_milvus_search_p50_ms']} ms")

        # queries, concurrency 1
        t = time.perf_counter()
        warm = queries[: min(20, len(queries))]
        for mode in ("AUTO", "RESCORED", "BINARY_ONLY"):
            grpc_run(srv.target, COLLECTION, warm, mode=mode, top_k=K)
        modes: dict[str, Any] = {}

        def measure(label: str, mode: str, oversample: int = 0, conc: int = 1, qs: np.ndarray = queries) -> dict:
            run = grpc_run(srv.target, COLLECTION, qs, mode=mode, top_k=K, oversample=oversample, concurrency=conc,
                           progress=cfg.progress, desc=f"{label} c={conc}")
            s = summarize(run, gt_ids[: len(qs)], int)
            s.update({"mode": mode, "oversample": oversample or None})
            log(f"{label:>14} c={conc}: p50 {s['p50_ms']:.2f} ms p99 {s['p99_ms']:.2f} ms, recall@10 "
                f"{s.get('recall@10')}, {s['qps']:.0f} QPS" + (f", fallback {s['fallback_rate']:.1%}"
                                                               if 'fallback_rate' in s and mode == 'AUTO' else ""))
            return s

        modes["hamming_only"] = measure("hamming_only", "BINARY_ONLY")
        for o in cfg.oversamples:
            modes[f"rescored_x{o}"] = measure(f"rescored_x{o}", "RESCORED", o)
        modes["auto"] = measure("auto", "AUTO")
        entry["modes"] = modes
        conc: dict[str, Any] = {}
        for cc in cfg.concurrency:
            if cc == 1:
                conc["c1"] = {"auto": modes["auto"]}
            else:
                nq = cfg.concurrency_queries or len(queries)
                conc[f"c{cc}"] = {"auto": measure("auto", "AUTO", 0, cc, queries[:nq])}
        entry["concurrency"] = conc
        snapshot("serving")

        st: dict[str, Any] = {}
        if "st_rescore" in cfg.baselines:
            codes = cache.codes(n)
            for m in cfg.st_multipliers:
                st[f"x{m}"] = baselines.st_rescore(srv.target, COLLECTION, queries, gt_ids, codes, k=K, multiplier=m)
                log(f"st_rescore x{m}: p50 {st[f'x{m}']['p50_ms']} ms, recall@10 {st[f'x{m}']['recall@10']}")
            del codes
        n_exact = cfg.exact_queries if cfg.exact_queries >= 0 else (50 if n <= 2_000_000 else 3)
        if n_exact > 0:
            modes["exact"] = measure("exact", "EXACT", qs=queries[:n_exact])
            snapshot("after_exact")
        timings["queries_s"] = round(time.perf_counter() - t, 2)
        entry["memory"] = mem
        disk = {"bitrag_data_dir": dir_bytes(run_dir / "bitrag")}
        coll_dir = run_dir / "bitrag" / "collections" / COLLECTION
        for f in ("vectors.f32", "codes.u8"):
            if (coll_dir / f).exists():
                disk[f] = (coll_dir / f).stat().st_size
        if milvus is not None:
            disk["milvus_data_dir"] = dir_bytes(run_dir / "milvus")
        entry["disk"] = disk
        c.close()
    except BaseException:  # the client's error says what failed; the server's log says why
        tail = srv.output[-SERVER_TAIL_LINES:]
        log(f"the server's last {len(tail)} output lines:\n" + "\n".join(tail) if tail
            else "the server printed nothing")
        raise
    finally:
        exit_code = srv.stop(timeout_s=60)
        if milvus is not None:
            milvus.stop()
    entry["server_exit_code"] = exit_code

    # 3. baselines ---------------------------------------------------------------------------------
    base: dict[str, Any] = {}
    if "st_rescore" in cfg.baselines:
        for mult, s in st.items():
            base[f"st_rescore_{mult}"] = s
    base["hamming_only"] = {**modes["hamming_only"], "name": "Hamming only (bitrag BINARY_ONLY)"}
    t = time.perf_counter()
    if "numpy" in cfg.baselines:
        log("baseline: numpy exact brute force")
        base["numpy_exact"] = baselines.numpy_exact(corpus, queries, gt_ids, k=K)
    timings["numpy_baseline_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    backend = "standalone" if cfg.backend == "standalone" or cfg.milvus_uri else "lite"
    if "float32_milvus" in cfg.baselines:
        if want_f32:
            log(f"baseline: float32 Milvus ({'HNSW' if backend == 'standalone' else 'FLAT'}) on its own Milvus")
            base["float32_milvus"] = baselines.milvus_float32(
                backend, corpus, queries, gt_ids, run_dir / "float32_milvus", k=K, hnsw_m=cfg.hnsw_m,
                hnsw_ef_construction=cfg.hnsw_ef_construction, hnsw_ef=cfg.hnsw_ef,
                concurrency=tuple(cfg.concurrency), progress=cfg.progress,
            )
        else:
            base["float32_milvus"] = {"skipped": "does not fit in this machine's RAM",
                                      "name": "float32 Milvus", "estimate": baselines.float32_ram_estimate(n, dim, cfg.hnsw_m)}
    timings["float32_milvus_baseline_s"] = round(time.perf_counter() - t, 2)
    levels = tuple(cfg.concurrency)
    if "faiss_hnsw" in cfg.baselines:
        t = time.perf_counter()
        if n * dim * 4 * 1.3 < mem_available():
            log("baseline: FAISS IndexHNSWFlat float32 in process")
            base["faiss_hnsw"] = baselines.faiss_hnsw(np.asarray(corpus), queries, gt_ids, k=K, m=cfg.hnsw_m,
                                                      ef_construction=cfg.hnsw_ef_construction, ef=cfg.hnsw_ef,
                                                      concurrency=levels)
        else:
            base["faiss_hnsw"] = {"skipped": "does not fit in this machine's RAM", "name": "FAISS IndexHNSWFlat",
                                  "estimate": baselines.float32_ram_estimate(n, dim, cfg.hnsw_m)}
        timings["faiss_hnsw_baseline_s"] = round(time.perf_counter() - t, 2)
    if "faiss_binary_rescore" in cfg.baselines:
        t = time.perf_counter()
        log("baseline: FAISS IndexBinaryIVF + float32 rescoring from a memmap")
        base["faiss_binary_rescore"] = baselines.faiss_binary_rescore(
            corpus, cache.codes(n), queries, gt_ids, k=K, nlist=nlist, nprobe=nprobe, concurrency=levels)
        timings["faiss_binary_rescore_baseline_s"] = round(time.perf_counter() - t, 2)
    entry["baselines"] = base
    entry["float32_in_ram_estimate"] = baselines.float32_ram_estimate(n, dim, cfg.hnsw_m)
    entry["ratios"] = ratios(entry)
    entry["targets"] = targets(entry)
    timings["total_s"] = round(time.perf_counter() - t_all, 2)
    entry["timings"] = timings
    if not cfg.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return entry


# ---- a real corpus as the data source -------------------------------------------------------------


class BeirVectors:
    """The VectorCache interface over a BEIR directory's precomputed embeddings (e.g. the Debian
    documentation corpus of `bench corpus`): the first n corpus rows, the first Q queries, their
    exact top-k by a blocked scan (cached under `work/real`)."""

    def __init__(self, data: Path, embeddings: str, work: Path) -> None:
        self.data, self.embeddings = Path(data), embeddings
        root = self.data / "emb" / embeddings
        if not (root / "corpus.npy").exists():
            raise SystemExit(f"{root / 'corpus.npy'}: missing (build it with `bitrag bench corpus`)")
        self._corpus = np.load(root / "corpus.npy", mmap_mode="r")
        self._queries = np.load(root / "queries.npy", mmap_mode="r")
        self.size, self.dim = self._corpus.shape
        self.dir = Path(work) / f"{self.data.resolve().name}_{embeddings}"
        self.dir.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"real embeddings: {self.data.resolve().name}/{self.embeddings} ({self.size:,} rows)"

    def fingerprint(self) -> str:
        import hashlib

        return hashlib.sha256(np.ascontiguousarray(self._corpus[:: max(1, self.size // 512)]).tobytes()).hexdigest()[:12]

    def rows(self, kind: str = "corpus") -> int:
        return self.size

    def get(self, kind: str, n: int, *, progress: bool = True) -> np.ndarray:
        return self._corpus[:n]

    def queries(self, n_queries: int, n: int) -> np.ndarray:
        q = np.asarray(self._queries[:n_queries], dtype=np.float32)
        return q / np.linalg.norm(q, axis=1, keepdims=True)

    def ground_truth(self, n: int, n_queries: int, k: int, *, corpus: np.ndarray | None = None,
                     queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        from .common import exact_topk_blocked

        path = self.dir / f"gt_{n}_{n_queries}_{k}.npz"
        if path.exists():
            z = np.load(path)
            return z["ids"], z["scores"], float(z["seconds"])
        t0 = time.perf_counter()
        ids, scores = exact_topk_blocked(self.queries(n_queries, n) if queries is None else queries,
                                         self.get("corpus", n) if corpus is None else corpus, k)
        secs = time.perf_counter() - t0
        np.savez(path, ids=ids, scores=scores, seconds=secs)
        return ids, scores, secs

    def codes(self, n: int) -> np.ndarray:
        from .baselines import packed_codes

        return packed_codes(self.get("corpus", n))


# ---- ratios and targets ----------------------------------------------------------------------------


def bitrag_memory(entry: dict, label: str = "serving") -> dict[str, int]:
    """Server (+ Milvus Lite child) + Milvus standalone, at a snapshot."""
    m = entry.get("memory", {}).get(label, {})
    out = {"rss": 0, "anon": 0, "file": 0}
    for part in ("server", "milvus"):
        for key in out:
            out[key] += int(m.get(part, {}).get(key, 0))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(float(a) / float(b), 3)


def ratios(entry: dict) -> dict[str, Any]:
    """Every baseline as a ratio to bitrag (AUTO), from the same run: latency and memory as
    baseline / bitrag (> 1: bitrag is faster / smaller), recall as the baseline's figure beside
    bitrag's."""
    auto = entry["modes"]["auto"]
    c8 = entry.get("concurrency", {})
    hi = max((k for k in c8 if k != "c1"), key=lambda k: int(k[1:]), default=None)
    bm = bitrag_memory(entry)
    out: dict[str, Any] = {"bitrag": {"p50_ms": auto["p50_ms"], "p99_ms": auto["p99_ms"], "recall@10": auto.get("recall@10"),
                                      "qps_c1": auto["qps"], "memory_rss": bm["rss"], "memory_anon": bm["anon"],
                                      "disk_bytes": sum(v for k, v in entry.get("disk", {}).items() if k.endswith("_dir"))}}
    if hi:
        out["bitrag"][f"qps_{hi}"] = c8[hi]["auto"]["qps"]
    for name, b in entry.get("baselines", {}).items():
        if "skipped" in b:
            est = b.get("estimate", {}).get("total_bytes")
            out[name] = {"skipped": b["skipped"], "memory_needed_x": _ratio(est, bm["rss"])}
            continue
        runs = b.get("runs")
        c1 = runs["c1"] if runs else b
        r = {"p50_latency_x": _ratio(c1.get("p50_ms"), auto["p50_ms"]),
             "p99_latency_x": _ratio(c1.get("p99_ms"), auto["p99_ms"]),
             "recall@10": c1.get("recall@10"),
             "recall@10_bitrag": auto.get("recall@10")}
        if runs and hi and hi in runs:
            r[f"qps_{hi}_x"] = _ratio(runs[hi]["qps"], c8[hi]["auto"]["qps"])
        mem = b.get("memory")
        if mem and mem.get("rss"):
            r["memory_rss_x"] = _ratio(mem["rss"], bm["rss"])
            r["memory_anon_x"] = _ratio(mem.get("anon"), bm["anon"])
        if b.get("disk_bytes"):
            r["disk_x"] = _ratio(b["disk_bytes"], out["bitrag"]["disk_bytes"])
        out[name] = r
    return out


def targets(entry: dict) -> dict[str, Any]:
    n = entry["n"]
    goal = TARGETS.get(n)
    if not goal:
        return {}
    auto = entry["modes"]["auto"]
    conc = entry.get("concurrency", {})
    bm = bitrag_memory(entry)
    base = entry.get("baselines", {})
    hnsw = base.get("float32_milvus", {})
    hnsw_c1 = hnsw.get("runs", {}).get("c1", {})
    out: dict[str, Any] = {"backend": entry["backend"], "applies": entry["backend"] != "lite"}

    def add(key: str, text: str, measured: float | None, ok: bool | None) -> None:
        out[key] = {"goal": text, "measured": None if measured is None else round(float(measured), 4), "met": ok}

    bare = entry.get("bare_milvus_search_p50_ms")
    if "auto_p50_vs_bare_milvus" in goal:
        g = goal["auto_p50_vs_bare_milvus"]
        x = auto["p50_ms"] / bare if bare else None
        add("auto_p50_vs_bare_milvus", f"AUTO p50 <= {g} x one bare Milvus search ({_fmt(bare)} ms)", x,
            None if x is None else x <= g)
    if "auto_p50_vs_float32_hnsw" in goal:
        g = goal["auto_p50_vs_float32_hnsw"]
        x = auto["p50_ms"] / hnsw_c1["p50_ms"] if hnsw_c1.get("p50_ms") else None
        add("auto_p50_vs_float32_hnsw", f"AUTO p50 <= {g} x float32 Milvus HNSW p50 ({_fmt(hnsw_c1.get('p50_ms'))} ms)",
            x, None if x is None else x <= g)
    g = goal["auto_p99_vs_p50"]
    add("auto_p99_vs_p50", f"AUTO p99 <= {g} x its p50", auto["p99_ms"] / auto["p50_ms"],
        auto["p99_ms"] <= g * auto["p50_ms"])
    g = goal["auto_recall@10"]
    add("auto_recall@10", f">= {g}", auto.get("recall@10"), (auto.get("recall@10") or 0) >= g)
    if "second_milvus_call_share" in goal:
        g = goal["second_milvus_call_share"]
        v = auto.get("second_milvus_call_share")
        add("second_milvus_call_share", f"<= {g:.0%} of AUTO queries", v, None if v is None else v <= g)
    if "qps_c8_vs_float32_hnsw" in goal:
        g = goal["qps_c8_vs_float32_hnsw"]
        ours = conc.get("c8", {}).get("auto", {}).get("qps")
        theirs = hnsw.get("runs", {}).get("c8", {}).get("qps")
        x = ours / theirs if ours and theirs else None
        add("qps_c8_vs_float32_hnsw", f"AUTO QPS at concurrency 8 >= {g} x float32 Milvus HNSW's", x,
            None if x is None else x >= g)
    if "private_memory_vs_float32_milvus" in goal:
        g = goal["private_memory_vs_float32_milvus"]
        theirs = hnsw.get("memory", {}).get("anon") or hnsw.get("estimate", {}).get("total_bytes")
        x = bm["anon"] / theirs if theirs else None
        add("private_memory_vs_float32_milvus", f"private memory (server + Milvus) <= {g} x float32 Milvus'", x,
            None if x is None else x <= g)
    if "private_memory_bytes" in goal:
        g = goal["private_memory_bytes"]
        add("private_memory_bytes", f"private memory (server + Milvus) <= {g / 2**30:.0f} GiB", bm["anon"],
            bm["anon"] <= g)
    return out


def _fmt(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}"


# ---- the command -------------------------------------------------------------------------------------


def run(cfg: ScaleConfig) -> dict[str, Any]:
    from . import report

    cfg.out.mkdir(parents=True, exist_ok=True)
    path = cfg.out / f"{cfg.report_name()}.json"
    doc: dict[str, Any] = {"benchmark": "scale", "name": cfg.report_name(), "runs": {}}
    if path.exists() and not cfg.fresh:
        try:
            old = json.loads(path.read_text())
            if old.get("benchmark") == "scale":
                doc["runs"] = old.get("runs", {})
        except json.JSONDecodeError:
            pass
    for n in cfg.ns:
        log(f"=== scale N={n:,} on {cfg.backend_label} ===")
        entry = run_n(cfg, n)
        doc["runs"][str(entry["n"])] = entry
        doc["runs"] = dict(sorted(doc["runs"].items(), key=lambda kv: int(kv[0])))
        doc["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        write_json(path, doc)  # after every N: a later failure keeps what was measured
        report.write_scale(doc, cfg.out, plots=cfg.plots)
        log(f"N={n:,} done in {entry['timings']['total_s'] / 60:.1f} min -> {path}")
    return doc


def main_ns(ns: list[int]) -> list[int]:
    bad = [n for n in ns if n < 100]
    if bad:
        sys.exit(f"N must be >= 100: {bad}")
    return ns
