"""What one Milvus search of the binary collection costs, by pool size (limit) and nprobe, and where
the time goes: Milvus itself (the proxy's own search latency, from Milvus' Prometheus metrics),
the wire and gRPC (the bare Search RPC minus Milvus' time), and decoding on the client (pymilvus'
result objects, one Python dict per hit, against reading the protobuf's id and distance arrays
with numpy, which bitrag does).

Run by `bench scale` on the collection it just built (standalone: with Milvus' metrics; Lite: no
metrics endpoint, so Milvus and the wire are one figure).
"""

from __future__ import annotations

import re
import statistics
import time
import urllib.request
from typing import Any

import numpy as np

POOLS = (10, 40, 160, 640, 2560)
REPEAT = 30


def _proxy_search_ms(metrics_url: str) -> tuple[float, float] | None:
    """(sum ms, count) of Milvus' proxy search latency histogram (all search requests so far)."""
    try:
        text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    except OSError:
        return None
    total, count = 0.0, 0.0
    for name, sink in (("sum", "total"), ("count", "count")):
        for m in re.finditer(rf'^milvus_proxy_sq_latency_{name}\{{([^}}]*)\}} ([0-9.e+-]+)$', text, re.M):
            if 'query_type="search"' in m.group(1):
                if sink == "total":
                    total += float(m.group(2))
                else:
                    count += float(m.group(2))
    return (total, count) if count else None


def search_cost(uri: str, collection: str, codes: np.ndarray, nprobes: list[int], *, metrics_url: str = "",
                pools: tuple[int, ...] = POOLS, repeat: int = REPEAT) -> dict[str, Any]:
    """`codes` `[Q, d/8]` packed query codes. Per (nprobe, pool): p50 ms of pymilvus'
    MilvusClient.search, of the bare Search RPC, of decoding its response both ways, and Milvus'
    mean proxy latency over the same calls."""
    from pymilvus import MilvusClient
    from pymilvus.client.abstract import SearchResult
    from pymilvus.client.prepare import Prepare

    client = MilvusClient(uri=uri)
    conn = client._get_connection()
    qs = [codes[i % len(codes)].tobytes() for i in range(repeat)]
    out: dict[str, Any] = {"repeat": repeat, "rows": []}
    try:
        for q in qs[:5]:  # warm-up
            client.search(collection, data=[q], anns_field="code", limit=10, search_params={"metric_type": "HAMMING"})
        for nprobe in nprobes:
            params = {"metric_type": "HAMMING", "params": {"nprobe": nprobe} if nprobe else {}}
            for pool in pools:
                t_client, t_rpc, t_np, t_pym = [], [], [], []
                before = _proxy_search_ms(metrics_url) if metrics_url else None
                for q in qs:
                    t0 = time.perf_counter()
                    client.search(collection, data=[q], anns_field="code", limit=pool, search_params=params)
                    t_client.append((time.perf_counter() - t0) * 1000)
                mid = _proxy_search_ms(metrics_url) if metrics_url else None
                for q in qs:
                    req = Prepare.search_requests_with_expr(collection, [q], "code", params, pool, None, None, [], -1)
                    t0 = time.perf_counter()
                    resp = conn._stub.Search(req, timeout=60)
                    t1 = time.perf_counter()
                    ids = np.asarray(resp.results.ids.int_id.data, np.int64)
                    np.asarray(resp.results.scores, np.float32)
                    t2 = time.perf_counter()
                    hits = SearchResult(resp.results)[0]
                    [h.to_dict() for h in hits]  # what MilvusClient.search returns: a dict per hit
                    t3 = time.perf_counter()
                    t_rpc.append((t1 - t0) * 1000)
                    t_np.append((t2 - t1) * 1000)
                    t_pym.append((t3 - t2) * 1000)
                row = {"nprobe": nprobe, "pool": pool, "returned": int(ids.size),
                       "milvusclient_p50_ms": round(statistics.median(t_client), 3),
                       "bare_rpc_p50_ms": round(statistics.median(t_rpc), 3),
                       "decode_numpy_p50_ms": round(statistics.median(t_np), 4),
                       "decode_pymilvus_p50_ms": round(statistics.median(t_pym), 3)}
                if before and mid:
                    row["milvus_proxy_mean_ms"] = round((mid[0] - before[0]) / max(1.0, mid[1] - before[1]), 3)
                    row["wire_grpc_ms"] = round(row["bare_rpc_p50_ms"] - row["milvus_proxy_mean_ms"], 3)
                out["rows"].append(row)
    finally:
        client.close()
    return out
