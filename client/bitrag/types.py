"""Typed results of the bitrag SDK (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    """Milvus index of the binary codes. Empty `type` = backend default (BIN_FLAT on Milvus Lite,
    BIN_IVF_FLAT on a Milvus server)."""

    type: str = ""
    build_params: dict[str, int] = field(default_factory=dict)
    search_params: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    dimension: int
    embedder: str
    index: IndexSpec
    default_oversample: int
    description: str
    rows: int  # live (searchable) chunks
    float_rows: int  # rows in the float32 file, including deleted ones
    bytes_in_ram: int  # binary codes
    bytes_on_disk: int  # float32 rows
    generation: int
    created_unix_ms: int


@dataclass(frozen=True)
class Document:
    """A document for the server to split, embed and store; `id` is its stable source id."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class IngestResult:
    documents_added: int = 0
    documents_replaced: int = 0
    documents_unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    generation: int = 0

    def __iadd__(self, other: IngestResult) -> IngestResult:
        self.documents_added += other.documents_added
        self.documents_replaced += other.documents_replaced
        self.documents_unchanged += other.documents_unchanged
        self.chunks_written += other.chunks_written
        self.chunks_deleted += other.chunks_deleted
        self.generation = max(self.generation, other.generation)
        return self


@dataclass(frozen=True)
class DeleteResult:
    documents_deleted: int
    chunks_deleted: int
    generation: int


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    score: float  # cosine similarity
    text: str
    metadata: dict[str, Any]
    hamming_distance: int


@dataclass(frozen=True)
class SearchDiagnostics:
    path: str  # e.g. "BINARY_RESCORED"
    candidates_examined: int
    oversample: int
    timings_us: dict[str, int]  # stage -> microseconds, in pipeline order
    total_us: int  # server-side


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    diagnostics: SearchDiagnostics
