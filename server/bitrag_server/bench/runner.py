"""Query loops: a list of query vectors through gRPC (the SDK) at a given concurrency, with
per-request wall time (client side: request built, sent, answered, converted), and the figures
every benchmark reports from them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .common import latency_summary, recall_at


@dataclass
class Run:
    ids: list[list[str]]  # returned ids per query, best first
    lat_ms: np.ndarray  # [Q] client-side wall time per request
    wall_s: float  # whole run
    concurrency: int
    diags: list[Any] = field(default_factory=list)  # SearchDiagnostics per query (gRPC runs)
    scores: list[list[float]] = field(default_factory=list)

    @property
    def qps(self) -> float:
        return len(self.ids) / self.wall_s if self.wall_s > 0 else 0.0


def run_parallel(fn: Callable[[int, Any], tuple[list[str], list[float], Any]], n: int, concurrency: int,
                 make_state: Callable[[], Any], close_state: Callable[[Any], None] = lambda s: None,
                 progress: Callable[[int], None] | None = None) -> Run:
    """Call `fn(i, state)` for i in 0..n-1 from `concurrency` threads (each with its own `state`,
    e.g. a client); `fn` returns (ids, scores, diagnostics). Timed per call."""
    ids: list[list[str]] = [[] for _ in range(n)]
    scores: list[list[float]] = [[] for _ in range(n)]
    diags: list[Any] = [None] * n
    lat = np.zeros(n)
    nxt = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        state = make_state()
        try:
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                t = time.perf_counter()
                got, sc, dg = fn(i, state)
                lat[i] = (time.perf_counter() - t) * 1000
                ids[i], scores[i], diags[i] = got, sc, dg
                if progress:
                    progress(1)
        finally:
            close_state(state)

    t0 = time.perf_counter()
    if concurrency <= 1:
        worker()
    else:
        with ThreadPoolExecutor(concurrency) as ex:
            futs = [ex.submit(worker) for _ in range(concurrency)]
            for f in futs:
                f.result()
    return Run(ids, lat, time.perf_counter() - t0, concurrency, diags, scores)


def grpc_run(target: str, collection: str, queries: np.ndarray, *, mode: str, top_k: int, oversample: int = 0,
             concurrency: int = 1, timeout: float = 3600.0, id_attr: str = "chunk_id", desc: str = "",
             progress: bool = False) -> Run:
    """Search every query vector through the SDK (one Client per thread)."""
    from bitrag import Client

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(queries), desc=desc or f"{mode} k={top_k} x{oversample} c={concurrency}",
                   unit="q", mininterval=2.0, leave=False,
                   disable=None)  # only on a terminal: logs get one line per mode instead

    def fn(i: int, c: Client) -> tuple[list[str], list[float], Any]:
        r = c.search(collection, queries[i], top_k=top_k, oversample=oversample, mode=mode)
        return [getattr(h, id_attr) for h in r.hits], [h.score for h in r.hits], r.diagnostics

    try:
        return run_parallel(fn, len(queries), concurrency, lambda: Client(target, timeout=timeout),
                            lambda c: c.close(), bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def summarize(run: Run, truth: np.ndarray | None, to_row: Callable[[str], int], *,
              ks: Sequence[int] = (1, 10)) -> dict[str, Any]:
    """Latency, QPS, recall@k against `truth` `[Q, >=max(ks)]` (exact row ids), and what the
    server reported (path shares, fallback rate, float rows scored, server time)."""
    out: dict[str, Any] = {**latency_summary(run.lat_ms), "qps": round(run.qps, 2), "concurrency": run.concurrency}
    if truth is not None:
        rows = [[to_row(x) for x in got] for got in run.ids]
        for k in ks:
            out[f"recall@{k}"] = round(float(np.mean([recall_at(r, t, k) for r, t in zip(rows, truth)])), 4)
    d = [x for x in run.diags if x is not None and hasattr(x, "path")]
    if d:
        paths = [x.path for x in d]
        out["fallback_rate"] = round(float(np.mean([p.startswith("FALLBACK") for p in paths])), 4)
        out["paths"] = {p: paths.count(p) for p in sorted(set(paths))}
        out["server_p50_ms"] = round(float(np.percentile([x.total_us for x in d], 50)) / 1000, 3)
        out["float_rows_p50"] = int(np.percentile([x.candidates_examined for x in d], 50))
        stages: dict[str, list[int]] = {}
        for x in d:
            for s, us in x.timings_us.items():
                stages.setdefault(s, []).append(us)
        out["server_stage_p50_us"] = {s: int(np.percentile(v, 50)) for s, v in stages.items()}
        calls = [getattr(x, "milvus_calls", 0) for x in d]
        out["milvus_calls_mean"] = round(float(np.mean(calls)), 3)
        out["second_milvus_call_share"] = round(float(np.mean([m > 1 for m in calls])), 4)
        out["tier_scored_p50"] = int(np.percentile([getattr(x, "tier_scored", 0) for x in d], 50))
        out["client_minus_server_p50_ms"] = round(float(np.percentile(
            run.lat_ms - np.asarray([x.total_us / 1000 for x in d]), 50)), 3) if len(d) == len(run.lat_ms) else None
    return out
