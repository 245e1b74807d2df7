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
class LegacyStore:
    """The float32 store a collection is migrating from (docs/migration.md). `source`:
    "milvus:<uri or .db file>", "chroma:<dir or http://host:port>", "qdrant:<dir or url>",
    "llamaindex:<persist dir>" or "files:<vectors.npy>"; "" = none. `shadow_rate`: share of
    searches also sent there in the background (agreement and latency as Prometheus metrics)."""

    source: str = ""
    collection: str = ""
    vector_field: str = ""
    text_field: str = ""
    document_id_field: str = ""
    id_field: str = ""
    shadow_rate: float = 0.0


@dataclass(frozen=True)
class GateConfig:
    """The confidence gate of AUTO searches. Zero / empty values take the server's defaults."""

    target_recall: float = 0.0  # 0 = 0.99
    confidence_threshold: float = 0.0  # 0 = derived from target_recall by calibration; 1 = always fall back
    fallback: tuple[str, ...] = ()  # ("widen", "exact", "collection"); () = widen, exact
    widen_max_rows: int = 0
    fallback_collection: str = ""  # float32 Milvus collection for "collection"
    fallback_vector_field: str = ""
    legacy_store: LegacyStore = LegacyStore()  # when set, "collection" answers from it


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    count: int
    predicted: float  # mean predicted confidence
    measured: float  # share of queries whose top-k equalled the exact top-k


@dataclass(frozen=True)
class CalibrationInfo:
    calibrated: bool
    threshold: float
    target_recall: float
    samples: int
    source: str  # "pseudo" or "queries"
    rows_at_calibration: int
    calibrated_unix_ms: int
    reliability: list[ReliabilityBin]
    duration_us: int = 0


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
    gate: GateConfig
    calibration: CalibrationInfo
    consistency_level: str = ""
    partition_key: str = ""  # metadata key routing chunks to Milvus partitions ("" = none)
    num_partitions: int = 0
    tier: str = ""  # middle tier in force: "sign", "sq2", "sq4"
    bytes_tier: int = 0  # middle-tier codes in RAM (beyond bytes_in_ram)
    plan: SearchPlan | None = None  # what calibration measured
    dead_rows: int = 0  # deleted or replaced rows still in the row files (reclaimed by `compact`)
    row_file_bytes: int = 0  # float32 file + codes + records on disk
    compactions: int = 0


@dataclass
class CompactResult:
    """What a compaction reclaimed: rows and bytes (floats + codes + records) before and after."""

    compacted: bool  # False: nothing to reclaim
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int
    duration_us: int
    generation: int


@dataclass(frozen=True)
class SearchPlan:
    """A collection's measured search plan (see docs/api.md#search-plan)."""

    pool: int  # Hamming candidates per Milvus search for k = 10 (0 = not measured yet)
    nprobe: int  # IVF lists probed (0 = the index's default)
    route: str  # AUTO's first path: "binary" or "exact"
    candidate_recall: float  # share of the exact top-10 inside the pool
    pool_recall: dict[str, float]  # per pool size tried
    nprobe_recall: dict[str, float]  # per nprobe tried, at the pool
    exact_us: int
    binary_us: int
    scan_us: int
    fallback_share: float
    rows: int
    measured_unix_ms: int
    source: str = "milvus"  # an unfiltered query's pool: "milvus" (one search) or "ram" (the codes in the server's RAM)
    milvus_pool_us: int = 0  # median time of one Milvus search at the pool
    ram_pool_us: int = 0  # ... of the scan of the codes in RAM + the liveness query of an answer


@dataclass(frozen=True)
class Record:
    """A stored chunk as `fetch` returns it: `vector` is the float32 row exactly as stored
    (None unless vectors were asked for)."""

    id: str
    document_id: str
    vector: Any  # np.ndarray [d] float32, or None
    text: str
    metadata: dict[str, Any]


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
    timings_us: dict[str, int] = field(default_factory=dict)  # server stages, summed over requests
    # ingest_files: files not even read, their size + mtime or content hash as the collection holds
    files_skipped: int = 0

    def __iadd__(self, other: IngestResult) -> IngestResult:
        self.files_skipped += other.files_skipped
        self.documents_added += other.documents_added
        self.documents_replaced += other.documents_replaced
        self.documents_unchanged += other.documents_unchanged
        self.chunks_written += other.chunks_written
        self.chunks_deleted += other.chunks_deleted
        self.generation = max(self.generation, other.generation)
        for stage, us in other.timings_us.items():
            self.timings_us[stage] = self.timings_us.get(stage, 0) + us
        return self


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest stands, passed to `on_progress` after each request the server has answered.

    The server splits and embeds a request's documents before it answers, so progress moves once
    per request: the SDK sends small requests (`batch_bytes` of text, default 64 KiB, about 30
    chunks of 512 tokens) so that it moves often. A document is never split across requests (an
    ingest replaces a document whole), so one very large file is one step.

    `chunks`: chunks the server has written so far (documents: split and embedded; vectors:
    records stored); unchanged documents add none. `items`: documents (or vector records) answered
    so far, unchanged ones included, of `items_total`. `bytes_done` of `bytes_total`: their UTF-8
    text (or float32 vectors); the ETA is by bytes, since the chunk count of documents is known
    only once the server has split them, and embedding time grows with the text."""

    chunks: int
    chunks_step: int  # written by the request just answered
    items: int
    items_total: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before any byte was answered)."""
        if self.bytes_done <= 0 or self.elapsed_s <= 0:
            return None
        return (self.bytes_total - self.bytes_done) / self.bytes_per_s


@dataclass(frozen=True)
class DeleteResult:
    documents_deleted: int
    chunks_deleted: int
    generation: int
    missing: tuple[str, ...] = ()  # requested ids the collection did not hold (nothing deleted)


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document as `list_documents` returns it. `content_hash`: the server's hash of
    what was ingested (text, metadata, chunking, embedder), equal iff a re-ingest is a no-op;
    `ingested_unix_ms`: when its chunks were written (0 for rows written before this was kept);
    `metadata`: the document's (its first chunk's)."""

    id: str
    chunks: int
    content_hash: str
    ingested_unix_ms: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentPage:
    """One page of `list_documents`, in id order; `next_page_token` "" on the last page."""

    documents: list[DocumentInfo]
    next_page_token: str = ""


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
    path: str  # BINARY_RESCORED, BINARY_ONLY, EXACT, FALLBACK_WIDENED, FALLBACK_EXACT, FALLBACK_COLLECTION
    candidates_examined: int  # float32 rows scored
    oversample: int
    timings_us: dict[str, int]  # stage -> microseconds, in pipeline order
    total_us: int  # server-side
    mode: str  # AUTO, RESCORED, BINARY_ONLY, EXACT
    confidence: float  # estimated P(top-k == exact float32 top-k)
    threshold: float
    pools: list[int]  # Hamming candidates received, per pool
    calibrated: bool
    milvus_calls: int = 0  # Milvus searches this query made
    tier: str = ""  # the middle tier that ranked the pool
    tier_scored: int = 0  # candidates the middle tier scored


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    diagnostics: SearchDiagnostics


@dataclass(frozen=True)
class Source:
    """A retrieved chunk the answer may cite as [number]."""

    number: int
    chunk_id: str
    document_id: str
    score: float
    snippet: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class AskTimings:
    retrieval_us: int = 0  # 0 on a cache hit
    first_token_us: int = 0
    total_us: int = 0
    cache_us: int = 0


@dataclass(frozen=True)
class GenerationFailure:
    """Why generation failed; the stream then raises the matching BitragError."""

    code: str
    message: str
    retry_after_s: float = 0.0


@dataclass(frozen=True)
class AskSummary:
    """The last chunk of an answer: the sources, who answered, and how it went.

    cache: "MISS", "HIT", "SEMANTIC_HIT", "BYPASS", "UNAVAILABLE" (Redis down) or "DISABLED";
    generated is False for an extractive answer (no LLM configured on the server)."""

    answer: str
    sources: list[Source]
    cited: list[int]
    model: str
    generated: bool
    usage: TokenUsage
    timings: AskTimings
    cache: str
    retrieval: SearchDiagnostics | None = None
    error: GenerationFailure | None = None
    shared: bool = False  # joined an identical Ask in flight: generated once for both


@dataclass(frozen=True)
class AnswerChunk:
    """One message of an answer stream: `text` to append, and on the last one `summary`."""

    text: str = ""
    summary: AskSummary | None = None

    @property
    def done(self) -> bool:
        return self.summary is not None
