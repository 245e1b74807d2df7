"""Server-side commands of the `bitrag` CLI (`bitrag serve`); the client commands live in the SDK."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from pathlib import Path

from .config import Settings


def add_storage_args(p: argparse.ArgumentParser) -> None:
    """Where collections live: shared by `serve`, `backup` and `restore`."""
    p.add_argument("--data-dir", type=Path, help="float32 files and catalog (BITRAG_DATA_DIR, default ./bitrag-data)")
    p.add_argument(
        "--milvus-uri",
        help="Milvus Lite file (*.db) or http(s)://host:port (BITRAG_MILVUS_URI, default <data-dir>/milvus.db)",
    )
    p.add_argument("--milvus-token", help="Milvus token (BITRAG_MILVUS_TOKEN)")
    p.add_argument("--milvus-server-pem-path", help="TLS: Milvus' certificate (BITRAG_MILVUS_SERVER_PEM_PATH)")
    p.add_argument("--milvus-ca-pem-path", help="mTLS: CA certificate (BITRAG_MILVUS_CA_PEM_PATH)")


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the bitrag gRPC server",
        description="Run the bitrag gRPC server. Every flag also reads a BITRAG_* environment "
        "variable (e.g. BITRAG_DATA_DIR); flags win. It prints `bitrag listening on HOST:PORT` once the "
        "port is open (health NOT_SERVING while the embedding model loads), then `bitrag ready` (SERVING). "
        "A start-up failure (port in use, data directory held by another server, bad setting) is one "
        "line on stderr naming the cause and the fix, exit code 1.",
    )
    p.add_argument("--address", help="listen HOST:PORT (BITRAG_ADDRESS, default 127.0.0.1:50051)")
    add_storage_args(p)
    p.add_argument("--embedder", choices=["local", "openai", "none"], help="default embedder (BITRAG_EMBEDDER)")
    p.add_argument("--local-model", help="sentence-transformers model dir (BITRAG_LOCAL_MODEL)")
    p.add_argument("--openai-base-url", help="OpenAI-compatible endpoint (BITRAG_OPENAI_BASE_URL)")
    p.add_argument("--openai-model", help="embedding model name (BITRAG_OPENAI_MODEL)")
    p.add_argument("--openai-dimensions", type=int, help="embedding dimension (BITRAG_OPENAI_DIMENSIONS)")
    p.add_argument("--default-oversample", type=int, help="candidates per result (BITRAG_DEFAULT_OVERSAMPLE, 4)")
    p.add_argument("--chunk-size", type=int, help="tokens per chunk (BITRAG_CHUNK_SIZE, 512)")
    p.add_argument("--chunk-overlap", type=int, help="tokens of overlap (BITRAG_CHUNK_OVERLAP, 64)")
    p.add_argument("--hamming-pool-factor", type=int,
                   help="Hamming pool per rescored row; shortlisted in RAM (BITRAG_HAMMING_POOL_FACTOR, 4)")
    p.add_argument("--target-recall", type=float, help="gate target of new collections (BITRAG_TARGET_RECALL, 0.99)")
    p.add_argument("--fallback", help="fallback chain of new collections (BITRAG_FALLBACK, widen,exact)")
    p.add_argument("--calibration-query-rate", type=float,
                   help="share of searches verified in the background to calibrate the gate (0.05)")
    p.add_argument("--llm-provider", choices=["groq", "openai"],
                   help="chat SDK: groq, or openai for any OpenAI-compatible endpoint (BITRAG_LLM_PROVIDER)")
    p.add_argument("--llm-base-url", help="chat endpoint root (BITRAG_LLM_BASE_URL); the key only from the "
                   "environment: BITRAG_LLM_API_KEY or GROQ_API_KEY (none = extractive answers)")
    p.add_argument("--llm-model", help="default chat model (BITRAG_LLM_MODEL, llama-3.3-70b-versatile)")
    p.add_argument("--redis-url", help="answer cache, '' = off (BITRAG_REDIS_URL, redis://127.0.0.1:6379/0)")
    p.add_argument("--answer-cache-ttl-s", type=int, help="cached answers' TTL (BITRAG_ANSWER_CACHE_TTL_S, 86400)")
    p.add_argument("--semantic-cache", action=argparse.BooleanOptionalAction, default=None,
                   help="serve answers of near-duplicate questions (BITRAG_SEMANTIC_CACHE, off)")
    p.add_argument("--metrics-port", type=int, help="Prometheus /metrics port, 0 = off (BITRAG_METRICS_PORT)")
    p.add_argument("--max-message-mb", type=int, help="largest request, MiB (BITRAG_MAX_MESSAGE_MB, 64)")
    p.add_argument("--tls-cert", help="TLS: server certificate chain, PEM (BITRAG_TLS_CERT)")
    p.add_argument("--tls-key", help="TLS: server private key, PEM (BITRAG_TLS_KEY)")
    p.add_argument("--tls-client-ca", help="mTLS: CA that client certificates must chain to (BITRAG_TLS_CLIENT_CA)")
    p.add_argument("--auth-tokens-file",
                   help="bearer tokens, `TOKEN ROLE [COLLECTION,...]` per line (BITRAG_AUTH_TOKENS_FILE; off if unset)")
    p.add_argument("--reflection", action=argparse.BooleanOptionalAction, default=None,
                   help="serve gRPC reflection (BITRAG_REFLECTION, on)")
    p.add_argument("--max-concurrent-rpcs", type=int, help="calls executing at once (BITRAG_MAX_CONCURRENT_RPCS, 64)")
    p.add_argument("--max-queued-rpcs", type=int,
                   help="calls waiting for a slot; more get RESOURCE_EXHAUSTED (BITRAG_MAX_QUEUED_RPCS, 256)")
    p.add_argument("--compact-dead-share", type=float,
                   help="compact a collection by itself past this dead share, 0 = never (BITRAG_COMPACT_DEAD_SHARE, 0.5)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING (BITRAG_LOG_LEVEL)")
    p.set_defaults(func=run_serve)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k in Settings.model_fields
    }
    return Settings(**overrides)


def run_serve(args: argparse.Namespace) -> int:
    """Exit 0 after a clean stop; 1 with one line on stderr (cause; fix) when it cannot start."""
    from pydantic import ValidationError

    from .startup import StartupError, flag_of, settings_error

    # milvus-lite imports pkg_resources, whose deprecation warning is no news to an operator
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    flags = set(vars(args))
    try:
        settings = settings_from_args(args)
        level = logging.getLevelName(settings.log_level.upper())
        if not isinstance(level, int):
            raise StartupError(f"bad setting log_level={settings.log_level!r} ({flag_of('log_level', flags)})",
                               "use DEBUG, INFO, WARNING or ERROR")
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from .server import serve

        asyncio.run(serve(settings))
    except ValidationError as exc:
        print(f"bitrag serve: {settings_error(exc, flags)}", file=sys.stderr, flush=True)
        return 1
    except StartupError as exc:
        print(f"bitrag serve: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
