"""Domain types the engine speaks, at the bottom of the layers: `convert.py` maps them to and from
protobuf, `stores/` persists them. The closed sets (search modes, paths, fallbacks, middle tiers,
routes) are defined here once; everything else converts them by lookup."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from .retrieve.gate import Calibration


class Mode(StrEnum):
    AUTO = "AUTO"  # gated: the binary path, a full-precision fallback below the threshold
    RESCORED = "RESCORED"  # the binary path with a fixed float budget, no gate
    BINARY_ONLY = "BINARY_ONLY"  # Hamming order, no float rows
    EXACT = "EXACT"  # exact scan of the float32 rows


class SearchPath(StrEnum):
    """What answered a search (SearchDiagnostics.path)."""

    BINARY_RESCORED = "BINARY_RESCORED"  # one Milvus pool, middle tier, float rows until confident
    BINARY_ONLY = "BINARY_ONLY"
    EXACT = "EXACT"  # EXACT mode, or AUTO routed to the exact scan (cheaper for this collection)
    FALLBACK_WIDENED = "FALLBACK_WIDENED"  # AUTO below the threshold: a wider pool (Milvus, or in RAM)
    FALLBACK_EXACT = "FALLBACK_EXACT"  # AUTO below the threshold: the exact scan
    FALLBACK_COLLECTION = "FALLBACK_COLLECTION"  # AUTO below the threshold: a legacy float32 collection


class Fallback(StrEnum):
    """What AUTO tries, in the collection's order, when the binary answer is below the threshold."""

    WIDEN = "widen"  # a wider candidate pool: a second Milvus call, or all codes in RAM
    EXACT = "exact"  # the exact scan of the float file
    COLLECTION = "collection"  # a float32 Milvus collection (a legacy RAG index, mid-migration)


class Tier(StrEnum):
    """The middle tier: how the Hamming pool is ranked in RAM before float rows are read."""

    SIGN = "sign"  # float query . +-1 codes (the codes already in RAM; no extra memory)
    SQ2 = "sq2"  # 2-bit scalar codes per dimension (d/4 bytes per row)
    SQ4 = "sq4"  # 4-bit scalar codes per dimension (d/2 bytes per row)


class Route(StrEnum):
    """AUTO's first path for a collection, chosen from measured costs at calibration."""

    BINARY = "binary"
    EXACT = "exact"  # an exact scan is cheaper (small collections) or the codes cannot meet the target


class Source(StrEnum):
    """Where an unfiltered AUTO / RESCORED query's Hamming pool comes from, chosen from measured
    costs at calibration (a filtered query always asks Milvus, which applies the filter)."""

    MILVUS = "milvus"  # one Milvus search of the binary collection
    RAM = "ram"  # a scan of every code in the server's RAM (`codes.u8`), then one Milvus query for liveness


def closed(kind: type[StrEnum], value: str, field: str) -> Any:
    """`value` as a member of `kind`, or InvalidArgument naming `field` and the choices."""
    from .errors import InvalidArgument

    try:
        return kind(value)
    except ValueError:
        raise InvalidArgument(f"unknown {kind.__name__.lower()} {value!r}: one of {[m.value for m in kind]}",
                              field=field) from None


@dataclass
class IndexConfig:
    type: str
    build_params: dict[str, int] = field(default_factory=dict)
    search_params: dict[str, int] = field(default_factory=dict)


@dataclass
class LegacyStore:
    """The float32 store a collection is migrating from (`migrate/`): where it is (a source spec,
    e.g. "milvus:http://host:19530", "chroma:/data/chroma"), its collection, how its fields map,
    and the share of searches shadowed there. Empty `source` = none."""

    source: str = ""
    collection: str = ""
    vector_field: str = ""
    text_field: str = ""
    document_id_field: str = ""
    id_field: str = ""
    shadow_rate: float = 0.0


@dataclass
class GateConfig:
    target_recall: float = 0.99
    confidence_threshold: float = 0.0  # 0 = derived from target_recall by calibration
    fallback: list[str] = field(default_factory=lambda: [Fallback.WIDEN.value, Fallback.EXACT.value])
    widen_max_rows: int = 4096  # widen: the largest candidate pool
    fallback_collection: str = ""
    fallback_vector_field: str = "vector"
    legacy_store: LegacyStore = field(default_factory=LegacyStore)  # when set, "collection" answers from it


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
    tier: str = ""  # "" = settings.tier


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
    tier: str = ""
    bytes_tier: int = 0  # middle-tier codes (in RAM)
    plan: dict[str, Any] = field(default_factory=dict)  # retrieve.plan.SearchPlan, as measured
    dead_rows: int = 0  # rows in the row files that Milvus no longer holds (deleted, replaced)
    row_file_bytes: int = 0  # float32 file + codes + records
    compactions: int = 0


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
    missing: list[str] = field(default_factory=list)  # requested ids with no live chunk


@dataclass
class DocumentInfo:
    """A stored document as ListDocuments shows it."""

    id: str
    chunks: int  # live chunks
    content_hash: str  # the ingest hash (ingest.document_hash / records_hash)
    ingested_unix_ms: int  # 0: written before records kept it
    metadata: dict[str, Any] = field(default_factory=dict)  # of its first chunk


@dataclass
class DocumentPage:
    documents: list[DocumentInfo]
    next_page_token: str = ""  # "" = the last page


@dataclass
class SearchQuery:
    collection: str
    text: str | None = None
    vector: np.ndarray | None = None  # [d] float32, validated and L2-normalised
    top_k: int = 10
    filter: str = ""
    oversample: int = 0
    mode: Mode = Mode.AUTO
    confidence_threshold: float | None = None
    # set when the caller is gone (RPC cancelled or past its deadline): the search stops its work
    cancel: threading.Event | None = None


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
    path: SearchPath
    candidates_examined: int  # float32 rows scored (every row for an exact scan)
    oversample: int
    timings_us: list[tuple[str, int]]
    total_us: int
    mode: Mode = Mode.AUTO
    confidence: float = 0.0
    threshold: float = 0.0
    pools: list[int] = field(default_factory=list)  # Hamming candidates received, per pool
    calibrated: bool = False
    milvus_calls: int = 0  # Milvus searches this query made
    tier: str = ""  # the middle tier that ranked the pool
    tier_scored: int = 0  # candidates the middle tier scored


@dataclass
class SearchResult:
    hits: list[Hit]
    diagnostics: Diagnostics
