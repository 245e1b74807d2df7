"""The baselines bitrag is compared with, each measured in the same run as bitrag itself:

- `numpy_exact`: float32 exact brute force (numpy, BLAS), the whole matrix in RAM when it fits,
  else a scan of the memory-mapped file (what an exact search costs without the RAM);
- `milvus_float32`: the "existing float32 RAG": the same vectors in a float32 Milvus collection
  (HNSW on a Milvus server, FLAT on Milvus Lite), queried with pymilvus, on its own Milvus
  instance so its memory is measured alone;
- `st_rescore`: sentence-transformers-style rescoring: Hamming top k*m from the same Milvus binary
  collection (bitrag's BINARY_ONLY path), rescored with the float query against the unpacked bits
  (no float32 rows); as `sentence_transformers.quantization.semantic_search_faiss` does;
- Hamming only is bitrag's own BINARY_ONLY mode (scale.py).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import chunks, dir_bytes, latency_summary, log, mem_available, process_memory, recall_at
from .runner import run_parallel, summarize

FLOAT_INSERT_BATCH = 2000


# ---- numpy brute force ---------------------------------------------------------------------------


def numpy_exact(corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray, *, k: int = 10, max_queries: int = 100,
                disk_queries: int = 1, ram_share: float = 0.45) -> dict[str, Any]:
    """Exact top-k per query, one query at a time (`[N, d] @ [d]`, argpartition)."""
    n, d = corpus.shape
    need = n * d * 4
    in_ram = need <= ram_share * mem_available()
    out: dict[str, Any] = {"name": "float32 exact (numpy)", "needs_bytes": need, "in_ram": in_ram}
    if in_ram:
        t = time.perf_counter()
        x = np.array(corpus, dtype=np.float32)  # [N, d] in RAM
        out["load_s"] = round(time.perf_counter() - t, 2)
        nq = min(max_queries, len(queries))
    else:
        x = corpus  # memory-mapped: every query reads the whole file
        nq = min(disk_queries, len(queries))
        out["note"] = f"{need / 2**30:.1f} GiB does not fit in RAM: scanned from the memory-mapped file"
    lat, rec = [], []
    for i in range(nq):
        q = np.asarray(queries[i], dtype=np.float32)
        t = time.perf_counter()
        if in_ram:
            s = x @ q  # [N, d] @ [d] -> [N]
        else:
            s = np.empty(n, np.float32)
            for a, b in chunks(n, 262144):
                s[a:b] = np.asarray(x[a:b]) @ q
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        lat.append((time.perf_counter() - t) * 1000)
        rec.append(recall_at(top.tolist(), truth[i], k))
    out.update(latency_summary(lat))
    out["recall@10"] = round(float(np.mean(rec)), 4)
    out["qps"] = round(1000.0 / float(np.mean(lat)), 2) if lat else 0.0
    out["memory"] = {"rss": need if in_ram else 0, "anon": need if in_ram else 0,
                     "note": "the float32 matrix (numpy array) in RAM" if in_ram else "not resident (file scan)"}
    del x
    return out


# ---- float32 Milvus collection -------------------------------------------------------------------


def _float_schema(dim: int):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def milvus_float32(backend: str, corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray, work: Path, *,
                   k: int = 10, hnsw_m: int = 16, hnsw_ef_construction: int = 200, hnsw_ef: int = 128,
                   concurrency: tuple[int, ...] = (1, 8), keep: bool = False, progress: bool = True) -> dict[str, Any]:
    """The same vectors in a float32 Milvus collection on a Milvus of its own: ingest, index, load,
    then searches at each concurrency; memory of that Milvus process alone."""
    from pymilvus import MilvusClient
    from tqdm import tqdm

    from ..milvus_standalone import MilvusStandalone, flush_and_index, segments

    n, dim = corpus.shape
    work = Path(work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    standalone = backend == "standalone"
    out: dict[str, Any] = {"name": "float32 Milvus " + ("HNSW (standalone)" if standalone else "FLAT (Lite)")}
    server = None
    import psutil

    me = psutil.Process()
    before = {c.pid for c in me.children(recursive=True)}
    if standalone:
        server = MilvusStandalone(work / "milvus").start()
        uri, pid = server.uri, server.pid
        data_dir = work / "milvus"
    else:
        uri = str(work / "float32.db")
        data_dir = work
    client = MilvusClient(uri=uri)
    if not standalone:
        new = [c for c in me.children(recursive=True) if c.pid not in before]
        pid = new[0].pid if new else 0
    try:
        out["memory_idle"] = process_memory(pid) if pid else {}
        index_params = client.prepare_index_params()
        if standalone:
            index_params.add_index("vector", index_name="vector", index_type="HNSW", metric_type="IP",
                                   params={"M": hnsw_m, "efConstruction": hnsw_ef_construction})
            search_params = {"metric_type": "IP", "params": {"ef": max(hnsw_ef, k)}}
            out["index"] = {"type": "HNSW", "M": hnsw_m, "efConstruction": hnsw_ef_construction, "ef": max(hnsw_ef, k)}
        else:
            index_params.add_index("vector", index_name="vector", index_type="FLAT", metric_type="IP", params={})
            search_params = {"metric_type": "IP", "params": {}}
            out["index"] = {"type": "FLAT"}
        client.create_collection("float32_rag", schema=_float_schema(dim), index_params=index_params,
                                 consistency_level="Session")
        bar = tqdm(total=n, unit="row", unit_scale=True, desc="float32 Milvus ingest", mininterval=2.0,
                   disable=not progress)
        t0 = time.perf_counter()
        for a, b in chunks(n, FLOAT_INSERT_BATCH):
            block = np.asarray(corpus[a:b], dtype=np.float32)
            client.insert("float32_rag", [{"id": a + i, "vector": block[i]} for i in range(b - a)])
            bar.update(b - a)
        bar.close()
        ingest_s = time.perf_counter() - t0
        out["ingest_s"] = round(ingest_s, 2)
        out["ingest_rows_per_s"] = round(n / ingest_s)
        t0 = time.perf_counter()
        if standalone:
            out["index_build"] = flush_and_index(client, "float32_rag", "vector", progress=progress)
            out["segments"] = segments(client, "float32_rag")
        else:
            client.flush("float32_rag")
            client.load_collection("float32_rag")
            out["index_build"] = {"flush_s": round(time.perf_counter() - t0, 2)}
        out["index_build_s"] = round(time.perf_counter() - t0, 2)
        for i in range(min(20, len(queries))):  # warm-up
            client.search("float32_rag", data=[np.asarray(queries[i]).tolist()], limit=k, search_params=search_params)

        def make():
            # pymilvus shares one connection per URI between MilvusClient objects (closing one closes
            # all), and a gRPC channel is thread-safe: every thread uses the same client.
            return client

        def fn(i: int, c: Any) -> tuple[list[str], list[float], Any]:
            res = c.search("float32_rag", data=[np.asarray(queries[i], dtype=np.float32).tolist()], limit=k,
                           search_params=search_params)
            return [str(h["id"]) for h in res[0]], [float(h["distance"]) for h in res[0]], None

        out["runs"] = {}
        for conc in concurrency:
            run = run_parallel(fn, len(queries), conc, make)
            out["runs"][f"c{conc}"] = summarize(run, truth, int)
            log(f"float32 Milvus c={conc}: p50 {out['runs'][f'c{conc}']['p50_ms']} ms, "
                f"recall@10 {out['runs'][f'c{conc}'].get('recall@10')}, {run.qps:.0f} QPS")
        out["memory"] = process_memory(pid) if pid else {}
        out["disk_bytes"] = dir_bytes(data_dir)
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass
        if server is not None:
            server.stop()
        else:  # the Milvus Lite process of this file outlives its client: stop it, so the next peers run alone
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return out


def float32_ram_estimate(n: int, dim: int, hnsw_m: int = 16) -> dict[str, Any]:
    """What a float32 in-RAM index of n x dim would need: the vectors, plus HNSW links (2M 4-byte
    neighbour ids per node on layer 0, ~1/M more above), plus nothing else."""
    vectors = n * dim * 4
    links = int(n * hnsw_m * 2 * 4 * (1 + 1 / hnsw_m))
    return {"vectors_bytes": vectors, "hnsw_links_bytes": links, "total_bytes": vectors + links,
            "note": f"{n:,} x {dim} float32 = {vectors / 2**30:.1f} GiB + HNSW(M={hnsw_m}) links "
                    f"{links / 2**30:.2f} GiB, before any engine overhead"}


# ---- sentence-transformers-style rescoring ---------------------------------------------------------


def packed_codes(corpus: np.ndarray, block: int = 262144) -> np.ndarray:
    """`[N, d/8]` sign codes of the corpus (the same bits bitrag stores), computed blockwise."""
    n, d = corpus.shape
    out = np.empty((n, d // 8), np.uint8)
    for a, b in chunks(n, block):
        out[a:b] = np.packbits(np.asarray(corpus[a:b]) > 0, axis=1)
    return out


def st_rescore(target: str, collection: str, queries: np.ndarray, truth: np.ndarray, codes: np.ndarray, *,
               k: int = 10, multiplier: int = 4, concurrency: int = 1) -> dict[str, Any]:
    """Hamming top k*multiplier from bitrag's Milvus binary collection (BINARY_ONLY through gRPC),
    then score = float query . unpacked bits (0/1; the same order as +-1), top k. Timed end to end."""
    from bitrag import Client

    dim = codes.shape[1] * 8

    def fn(i: int, c: Client) -> tuple[list[str], list[float], Any]:
        q = np.asarray(queries[i], dtype=np.float32)
        r = c.search(collection, q, top_k=k * multiplier, mode="BINARY_ONLY")
        rows = np.asarray([int(h.chunk_id) for h in r.hits], dtype=np.int64)
        bits = np.unpackbits(codes[rows], axis=1, count=dim).astype(np.float32)  # [k*m, d] in {0, 1}
        s = bits @ q  # [k*m, d] @ [d] -> [k*m]
        top = np.argsort(-s, kind="stable")[:k]
        return [str(int(x)) for x in rows[top]], s[top].tolist(), None

    run = run_parallel(fn, len(queries), concurrency, lambda: Client(target, timeout=3600), lambda c: c.close())
    out = summarize(run, truth, int)
    out.update({"name": f"sentence-transformers-style rescoring (Hamming top {multiplier}k, float query x bits)",
                "multiplier": multiplier, "codes_in_client_bytes": int(codes.nbytes)})
    return out


def free_disk(path: Path) -> int:
    p = Path(path)
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def rmtree_quiet(path: Path) -> None:
    if Path(path).exists():
        shutil.rmtree(path, ignore_errors=True)



# ---- FAISS peers, in process ------------------------------------------------------------------------


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _faiss_runs(search_one, queries: np.ndarray, truth: np.ndarray, k: int,  # noqa: ANN001 - Callable
                concurrency: tuple[int, ...]) -> dict[str, Any]:
    """Query one at a time (as a service would) at each concurrency: FAISS releases the GIL in its
    searches, so threads share the index like requests share a server."""
    runs = {}
    for conc in concurrency:
        def fn(i: int, _state: Any) -> tuple[list[str], list[float], Any]:
            ids, scores = search_one(np.asarray(queries[i], dtype=np.float32))
            return [str(int(x)) for x in ids[:k]], [float(s) for s in scores[:k]], None

        run = run_parallel(fn, len(queries), conc, lambda: None)
        runs[f"c{conc}"] = summarize(run, truth, int)
    return runs


def faiss_hnsw(corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray, *, k: int = 10, m: int = 16,
               ef_construction: int = 200, ef: int = 128, concurrency: tuple[int, ...] = (1, 8),
               threads: int = 0) -> dict[str, Any]:
    """FAISS IndexHNSWFlat (inner product) over the float32 vectors, in this process: the latency a
    float32 index reaches with no service around it (no RPC, no serialisation). Memory: the growth of
    this process's RSS while the index is built (vectors + graph)."""
    import faiss

    n, d = corpus.shape
    if threads:
        faiss.omp_set_num_threads(threads)
    before = _rss()
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    for a, b in chunks(n, 100_000):
        index.add(np.ascontiguousarray(corpus[a:b], dtype=np.float32))
    build_s = time.perf_counter() - t0
    index.hnsw.efSearch = max(ef, k)
    mem = _rss() - before

    def one(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, i = index.search(q[None, :], k)  # noqa: F821 - `del index` below runs after the last search
        return i[0], s[0]

    out: dict[str, Any] = {"name": f"FAISS IndexHNSWFlat float32 in process (M={m}, efConstruction={ef_construction}, "
                                   f"efSearch={max(ef, k)})", "build_s": round(build_s, 2),
                           "memory": {"rss": mem, "anon": mem, "note": "growth of the benchmark process's RSS"}}
    out["runs"] = _faiss_runs(one, queries, truth, k, concurrency)
    for key in ("p50_ms", "p99_ms", "recall@10", "qps"):
        out[key] = out["runs"]["c1"].get(key)
    del index
    return out


def faiss_binary_rescore(corpus: np.ndarray, codes: np.ndarray, queries: np.ndarray, truth: np.ndarray, *,
                         k: int = 10, nlist: int = 0, nprobe: int = 0, multipliers: tuple[int, ...] = (4, 16),
                         concurrency: tuple[int, ...] = (1, 8)) -> dict[str, Any]:
    """The recipe a user builds from the sentence-transformers quantization docs: FAISS
    IndexBinaryIVF over the sign codes in RAM, the Hamming top k*m rescored with the float32 query
    against float32 rows read from a memmap of the corpus file (sorted gather), top k."""
    import faiss

    n, d = corpus.shape
    nlist = nlist or int(max(16, round(4 * np.sqrt(n))))
    nprobe = nprobe or max(1, nlist // 16)
    before = _rss()
    t0 = time.perf_counter()
    quantizer = faiss.IndexBinaryFlat(d)
    index = faiss.IndexBinaryIVF(quantizer, d, nlist)
    rng = np.random.default_rng(0)
    train = np.asarray(codes[np.sort(rng.choice(n, size=min(n, max(40 * nlist, 50_000)), replace=False))])
    index.train(train)
    for a, b in chunks(n, 500_000):
        index.add(np.ascontiguousarray(codes[a:b]))
    index.nprobe = nprobe
    build_s = time.perf_counter() - t0
    mem = _rss() - before
    out: dict[str, Any] = {"name": f"FAISS IndexBinaryIVF (nlist {nlist}, nprobe {nprobe}) + float32 rescoring "
                                   "from a memmap", "build_s": round(build_s, 2),
                           "memory": {"rss": mem, "anon": mem, "note": "growth of the benchmark process's RSS (codes "
                                      "+ lists; the float rows are read from the page cache)"}, "by_multiplier": {}}
    for mult in multipliers:
        def one(q: np.ndarray, mult: int = mult) -> tuple[np.ndarray, np.ndarray]:
            qb = np.packbits(q > 0)[None, :]
            _, ids = index.search(qb, k * mult)  # noqa: F821 - `del index` below runs after the last search
            ids = ids[0][ids[0] >= 0]
            order = np.argsort(ids)
            rows = np.empty((ids.size, d), np.float32)
            rows[order] = corpus[ids[order]]  # [k*m, d] from the memmap, one sorted pass
            s = rows @ q
            top = np.argsort(-s, kind="stable")[:k]
            return ids[top], s[top]

        runs = _faiss_runs(one, queries, truth, k, concurrency)
        out["by_multiplier"][f"x{mult}"] = {"runs": runs, **{key: runs["c1"].get(key) for key in
                                                             ("p50_ms", "p99_ms", "recall@10", "qps")}}
    best = out["by_multiplier"][f"x{multipliers[-1]}"]
    out["runs"] = best["runs"]
    for key in ("p50_ms", "p99_ms", "recall@10", "qps"):
        out[key] = best[key]
    out["multiplier_reported"] = multipliers[-1]
    del index
    return out
