"""What every benchmark shares: BEIR loading, ranking metrics, latency summaries, process memory,
exact top-k by a blocked scan, and small I/O helpers."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

K = 10


def _repo() -> Path:
    """The checkout this package runs from (an editable install), else the working directory."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").exists() and (root / "server" / "bitrag_server").is_dir():
        return root
    return Path.cwd()


REPO = _repo()
DEFAULT_RESULTS = REPO / "bench" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "scifact"


def log(msg: str) -> None:
    """Progress goes to stderr, so `--json` keeps stdout to one object."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- BEIR ----------------------------------------------------------------------------------------


@dataclass
class Beir:
    name: str
    corpus_ids: list[str]
    query_ids: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}; empty when absent
    corpus: np.ndarray  # [N, d] float32, L2-normalised
    queries: np.ndarray  # [Q, d] float32, L2-normalised

    def eval_queries(self) -> list[int]:
        """Positions of the queries to evaluate: those with judgments, or all without qrels."""
        return [i for i, q in enumerate(self.query_ids) if not self.qrels or q in self.qrels]


def _jsonl_ids(path: Path) -> list[str]:
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ids.append(str(json.loads(line)["_id"]))
    return ids


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    if (n == 0).any():
        raise SystemExit("embeddings contain a zero vector")
    return x / n


def load_beir(data: Path, embeddings: str, split: str = "test") -> Beir:
    """A BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv (optional) and
    emb/<embeddings>/{corpus,queries}.npy with one row per jsonl line, in file order."""
    data = Path(data)
    for p in (data / "corpus.jsonl", data / "queries.jsonl", data / "emb" / embeddings / "corpus.npy",
              data / "emb" / embeddings / "queries.npy"):
        if not p.exists():
            raise SystemExit(f"{p}: missing (expected a BEIR directory with emb/{embeddings}/*.npy)")
    corpus_ids = _jsonl_ids(data / "corpus.jsonl")
    query_ids = _jsonl_ids(data / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = data / "qrels" / f"{split}.tsv"
    if qrels_path.exists():
        with open(qrels_path, encoding="utf-8") as f:
            for n, line in enumerate(f):
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3 or (n == 0 and not parts[2].lstrip("-").isdigit()):
                    continue  # header
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    corpus = _normalise(np.load(data / "emb" / embeddings / "corpus.npy"))
    queries = _normalise(np.load(data / "emb" / embeddings / "queries.npy"))
    if corpus.shape[0] != len(corpus_ids) or queries.shape[0] != len(query_ids):
        raise SystemExit(
            f"embedding rows ({corpus.shape[0]} corpus, {queries.shape[0]} queries) do not match "
            f"corpus.jsonl / queries.jsonl lines ({len(corpus_ids)}, {len(query_ids)})"
        )
    if corpus.shape[1] != queries.shape[1]:
        raise SystemExit("corpus and query embeddings differ in dimension")
    known = set(corpus_ids)
    qrels = {q: {d: r for d, r in rel.items() if d in known} for q, rel in qrels.items() if q in set(query_ids)}
    qrels = {q: rel for q, rel in qrels.items() if rel}
    return Beir(data.resolve().name, corpus_ids, query_ids, qrels, corpus, queries)


# ---- metrics -------------------------------------------------------------------------------------


def ndcg_at_k(ranked: Sequence[str], rels: dict[str, int], k: int = K) -> float:
    dcg = sum(rels.get(d, 0) / np.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / np.log2(i + 2) for i, r in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0


def recall_at(got: Sequence[int], truth: np.ndarray, k: int) -> float:
    """|top-k returned ∩ exact top-k| / k."""
    t = truth[:k]
    if t.size == 0:
        return 1.0
    return len({int(g) for g in got[:k]} & set(t.tolist())) / t.size


def latency_summary(ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    a = np.asarray(ms, dtype=np.float64)
    if a.size == 0:
        return {}
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "n": int(a.size),
    }


def exact_topk_blocked(
    queries: np.ndarray, corpus: np.ndarray, k: int, *, block_rows: int = 131072,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k (ids `[Q, k]`, scores `[Q, k]`, best first) of `queries` `[Q, d]` over `corpus`
    `[N, d]` (an array or an np.memmap: read one block of rows at a time, so the corpus never
    needs to fit in RAM). Ties broken by row id."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    n = corpus.shape[0]
    k = min(k, n)
    best_s = np.full((q.shape[0], 0), -np.inf, np.float32)
    best_i = np.zeros((q.shape[0], 0), np.int64)
    for start in range(0, n, block_rows):
        block = np.asarray(corpus[start : start + block_rows], dtype=np.float32)
        sc = q @ block.T  # [Q, d] @ [d, b] -> [Q, b]
        ids = np.broadcast_to(np.arange(start, start + block.shape[0], dtype=np.int64), sc.shape)
        all_s = np.concatenate([best_s, sc], axis=1)
        all_i = np.concatenate([best_i, ids], axis=1)
        m = min(k, all_s.shape[1])
        part = np.argpartition(-all_s, m - 1, axis=1)[:, :m]
        best_s = np.take_along_axis(all_s, part, 1)
        best_i = np.take_along_axis(all_i, part, 1)
        if progress:
            progress(block.shape[0])
    order = np.lexsort((best_i, -best_s), axis=1)
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(best_s, order, 1)


# ---- processes and memory ------------------------------------------------------------------------


def threads_looping(step: Callable[[int, int], object], threads: int, seconds: float) -> tuple[list[float], float]:
    """`threads` threads each calling `step(thread, n)` (n = its count so far) for `seconds`:
    (every call's latency in s, calls per second over all threads)."""
    import threading

    lat: list[float] = []
    done = [0]
    stop = time.perf_counter() + seconds

    def loop(j: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            step(j, n)
            lat.append(time.perf_counter() - t0)
            n += 1
        done[0] += n

    ts = [threading.Thread(target=loop, args=(j,)) for j in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, done[0] / (time.perf_counter() - t0)


def _status_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def process_memory(pid: int, include_children: bool = True) -> dict[str, Any]:
    """Resident memory of a process tree, in bytes: `rss` (everything resident), `anon` (private
    memory: heap, Milvus segments and indexes), `file` (file-backed pages mapped into the process,
    e.g. the memory-mapped float32 file: page cache the kernel can drop), `hwm` (peak RSS of the
    root). Children included (Milvus Lite runs as a child of the bitrag server)."""
    import psutil

    pids = [pid]
    if include_children:
        try:
            pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            pass
    tot = {"rss": 0, "anon": 0, "file": 0, "shmem": 0}
    procs = []
    for p in pids:
        st = _status_kb(p)
        if not st:
            continue
        try:
            name = psutil.Process(p).name()
        except psutil.Error:
            name = "?"
        procs.append({"pid": p, "name": name, "rss": st.get("VmRSS", 0) * 1024})
        tot["rss"] += st.get("VmRSS", 0) * 1024
        tot["anon"] += st.get("RssAnon", 0) * 1024
        tot["file"] += st.get("RssFile", 0) * 1024
        tot["shmem"] += st.get("RssShmem", 0) * 1024
    root = _status_kb(pid)
    return {**tot, "hwm_root": root.get("VmHWM", 0) * 1024, "processes": procs}


def dir_bytes(path: Path) -> int:
    """Bytes on disk (allocated blocks) under `path`."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_blocks * 512
    return total


def drop_file_cache(path: Path) -> bool:
    """Ask the kernel to drop `path`'s pages from the page cache (posix_fadvise DONTNEED), so an
    exact scan measures the disk, as it would on a machine without spare RAM."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    except (AttributeError, OSError):
        return False
    finally:
        os.close(fd)


def mem_available() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


# ---- environment and files -----------------------------------------------------------------------


def environment() -> dict[str, Any]:
    import psutil

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True,
                                    timeout=5).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        rev, dirty = "", False
    versions = {}
    for mod in ("numpy", "pymilvus", "milvus", "milvus_lite", "grpc"):
        try:
            m = __import__(mod)
            versions[mod] = getattr(m, "__version__", "?")
        except Exception:  # noqa: BLE001 - optional packages
            pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git": rev + ("-dirty" if dirty else ""),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM",
        "versions": versions,
    }


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o)}")


def gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def rotated(items: Sequence[T], i: int) -> list[T]:
    """`items` in the order rotated by `i`: query i of a side-by-side run takes its modes in this
    order, so no mode always goes first (a warm cache, or background work left by the mode before
    it, would otherwise favour or burden one)."""
    k = i % len(items) if items else 0
    return list(items[k:]) + list(items[:k])


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for s in range(0, n, size):
        yield s, min(n, s + size)


async def search_load(target: str, collection: str, queries: np.ndarray, concurrency: int,
                      seconds: float) -> tuple[int, list[float], float]:
    """Closed-loop search load over gRPC: `concurrency` AsyncClients, each searching `queries` in
    turn (top 10) until `seconds` have passed. Returns (searches done, latencies in ms, wall s)."""
    from bitrag import AsyncClient

    done, lat = 0, []
    t0 = time.perf_counter()
    stop = t0 + seconds

    async def worker(i: int) -> None:
        nonlocal done
        async with AsyncClient(target, timeout=120) as c:
            j = i
            while time.perf_counter() < stop:
                t = time.perf_counter()
                await c.search(collection, queries[j % len(queries)], top_k=10)
                lat.append((time.perf_counter() - t) * 1000)
                done += 1
                j += concurrency

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done, lat, time.perf_counter() - t0
