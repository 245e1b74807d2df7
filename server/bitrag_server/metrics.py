"""Prometheus metrics (text format at http://<metrics_address>:<metrics_port>/metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

SEARCH_LATENCY = Histogram(
    "bitrag_search_latency_seconds",
    "Server-side search latency by path taken",
    ["path"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
FALLBACKS = Counter("bitrag_search_fallbacks_total", "AUTO searches below the gate's threshold, by fallback tried", ["strategy"])
CONFIDENCE = Histogram(
    "bitrag_search_confidence",
    "Gate confidence of AUTO / RESCORED searches",
    buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0),
)
CANDIDATES = Histogram(
    "bitrag_search_candidates_examined",
    "float32 rows scored per search",
    buckets=(10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 1e5, 1e6, 1e7, 1e8),
)

ASK_LATENCY = Histogram(
    "bitrag_ask_latency_seconds",
    "Ask latency (last message sent) by cache status",
    ["cache"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
CACHE_REQUESTS = Counter("bitrag_answer_cache_requests_total", "Ask cache lookups by result", ["result"])
CACHE_ERRORS = Counter(
    "bitrag_answer_cache_errors_total", "Redis failures of the answer cache (answers served uncached)", ["op"]
)
LLM_ERRORS = Counter("bitrag_llm_errors_total", "Failed answer generations by gRPC status", ["code"])
LLM_TOKENS = Counter("bitrag_llm_tokens_total", "Tokens reported by the LLM provider", ["kind"])


# Migration (migrate/live.py): live shadow reads of a collection's legacy store, its fallback.
SHADOW_OVERLAP = Histogram(
    "bitrag_shadow_overlap",
    "Live shadow reads: overlap@k of bitrag's top-k with the legacy store's (1 = same set)",
    ["collection"],
    buckets=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
SHADOW_LATENCY = Histogram(
    "bitrag_shadow_latency_seconds",
    "Live shadow reads: search latency of each system (bitrag: server side; legacy: its client's call)",
    ["collection", "system"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
SHADOW_READS = Counter(
    "bitrag_shadow_reads_total", "Live shadow reads by result (ok, error, dropped_busy, unsupported_filter)",
    ["collection", "result"],
)
LEGACY_FALLBACK = Counter(
    "bitrag_legacy_fallback_total",
    "The 'collection' fallback to the legacy store by result (answered, disabled, error, unsupported_filter)",
    ["collection", "result"],
)


def observe_shadow(collection: str, overlap: float, bitrag_s: float, legacy_s: float) -> None:
    SHADOW_READS.labels(collection, "ok").inc()
    SHADOW_OVERLAP.labels(collection).observe(overlap)
    SHADOW_LATENCY.labels(collection, "bitrag").observe(bitrag_s)
    SHADOW_LATENCY.labels(collection, "legacy").observe(legacy_s)


def observe_search(path: str, seconds: float, confidence: float | None, examined: int) -> None:
    SEARCH_LATENCY.labels(path).observe(seconds)
    if confidence is not None:
        CONFIDENCE.observe(confidence)
    CANDIDATES.observe(examined)


def serve_metrics(port: int, address: str = "127.0.0.1") -> int:
    """Start the /metrics endpoint in a daemon thread; returns the bound port."""
    server, _thread = start_http_server(port, addr=address)
    return int(server.server_port)

# ---- reliability: overload, cancellation, compaction, recovery ---------------------------------
OVERLOAD_REJECTED = Counter(
    "bitrag_overload_rejected_total", "Calls refused with RESOURCE_EXHAUSTED: every slot busy and the queue full"
)
SEARCH_CANCELLED = Counter(
    "bitrag_search_cancelled_total", "Searches stopped because their caller left (cancelled or past its deadline), "
    "by the stage that noticed", ["stage"],
)
EXACT_ROWS_SCANNED = Counter("bitrag_exact_rows_scanned_total", "float32 rows scored by exact scans")
COMPACTIONS = Counter("bitrag_compactions_total", "Compactions by outcome", ["outcome"])
COMPACTION_BYTES_RECLAIMED = Counter("bitrag_compaction_bytes_reclaimed_total", "Row-file bytes freed by compaction")
RECOVERED_WRITES = Counter(
    "bitrag_recovered_writes_total", "Interrupted writes completed at open from the collection's journal", ["op"]
)
ASK_SHARED = Counter("bitrag_ask_shared_total", "Asks that joined an identical Ask in flight (single flight)")
