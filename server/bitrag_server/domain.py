"""Domain types the engine speaks; `convert.py` maps them to and from protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .retrieve.gate import Calibration
from .stores.catalog import GateConfig, IndexConfig

MODES = ("AUTO", "RESCORED", "BINARY_ONLY", "EXACT")


@dataclass
class CollectionSpec:
    name: str
    dimension: int = 0
    embedder: str = ""
    index: IndexConfig | None = None  # None or empty type = backend default
    default_oversample: int = 0
    description: str = ""
    gate: GateConfig | None = None
    consistency_level: str = ""  # "" = settings.milvus_consistency
    partition_key: str = ""  # metadata key routing chunks to Milvus partitions (multi-tenant)
    num_partitions: int = 0


@dataclass
class CollectionStats:
    name: str
    dimension: int
    embedder: str
    index: IndexConfig
    default_oversample: int
    description: str
    rows: int
    float_rows: int
    bytes_in_ram: int
    bytes_on_disk: int
    generation: int
    created_unix_ms: int
    gate: GateConfig
    calibration: Calibration
    threshold: float  # in force
    consistency_level: str = ""
    partition_key: str = ""
    num_partitions: int = 0


@dataclass
class DocumentIn:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordIn:
    id: str
    document_id: str
    vector: np.ndarray  # [d] float32, validated and L2-normalised
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class IngestResult:
    documents_added: int = 0
    documents_replaced: int = 0
    documents_unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    generation: int = 0
    timings_us: dict[str, int] = field(default_factory=dict)


@dataclass
class DeleteResult:
    documents_deleted: int
    chunks_deleted: int
    generation: int


@dataclass
class SearchQuery:
    collection: str
    text: str | None = None
    vector: np.ndarray | None = None  # [d] float32, validated and L2-normalised
    top_k: int = 10
    filter: str = ""
    oversample: int = 0
    mode: str = "AUTO"
    confidence_threshold: float | None = None


@dataclass
class Hit:
    chunk_id: str
    document_id: str
    score: float
    text: str
    metadata: dict[str, Any]
    hamming_distance: int


@dataclass
class Diagnostics:
    path: str  # BINARY_RESCORED, BINARY_ONLY, EXACT, FALLBACK_WIDENED, FALLBACK_EXACT, FALLBACK_COLLECTION
    candidates_examined: int
    oversample: int
    timings_us: list[tuple[str, int]]
    total_us: int
    mode: str = "AUTO"
    confidence: float = 0.0
    threshold: float = 0.0
    pools: list[int] = field(default_factory=list)
    calibrated: bool = False


@dataclass
class SearchResult:
    hits: list[Hit]
    diagnostics: Diagnostics
