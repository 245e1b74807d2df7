from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_MODE_AUTO: _ClassVar[SearchMode]
    SEARCH_MODE_RESCORED: _ClassVar[SearchMode]
    SEARCH_MODE_BINARY_ONLY: _ClassVar[SearchMode]
    SEARCH_MODE_EXACT: _ClassVar[SearchMode]

class SearchPath(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_PATH_UNSPECIFIED: _ClassVar[SearchPath]
    SEARCH_PATH_BINARY_RESCORED: _ClassVar[SearchPath]
    SEARCH_PATH_BINARY_ONLY: _ClassVar[SearchPath]
    SEARCH_PATH_EXACT: _ClassVar[SearchPath]
    SEARCH_PATH_FALLBACK_WIDENED: _ClassVar[SearchPath]
    SEARCH_PATH_FALLBACK_EXACT: _ClassVar[SearchPath]
    SEARCH_PATH_FALLBACK_COLLECTION: _ClassVar[SearchPath]

class CacheStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_STATUS_UNSPECIFIED: _ClassVar[CacheStatus]
    CACHE_STATUS_MISS: _ClassVar[CacheStatus]
    CACHE_STATUS_HIT: _ClassVar[CacheStatus]
    CACHE_STATUS_SEMANTIC_HIT: _ClassVar[CacheStatus]
    CACHE_STATUS_BYPASS: _ClassVar[CacheStatus]
    CACHE_STATUS_UNAVAILABLE: _ClassVar[CacheStatus]
    CACHE_STATUS_DISABLED: _ClassVar[CacheStatus]
SEARCH_MODE_AUTO: SearchMode
SEARCH_MODE_RESCORED: SearchMode
SEARCH_MODE_BINARY_ONLY: SearchMode
SEARCH_MODE_EXACT: SearchMode
SEARCH_PATH_UNSPECIFIED: SearchPath
SEARCH_PATH_BINARY_RESCORED: SearchPath
SEARCH_PATH_BINARY_ONLY: SearchPath
SEARCH_PATH_EXACT: SearchPath
SEARCH_PATH_FALLBACK_WIDENED: SearchPath
SEARCH_PATH_FALLBACK_EXACT: SearchPath
SEARCH_PATH_FALLBACK_COLLECTION: SearchPath
CACHE_STATUS_UNSPECIFIED: CacheStatus
CACHE_STATUS_MISS: CacheStatus
CACHE_STATUS_HIT: CacheStatus
CACHE_STATUS_SEMANTIC_HIT: CacheStatus
CACHE_STATUS_BYPASS: CacheStatus
CACHE_STATUS_UNAVAILABLE: CacheStatus
CACHE_STATUS_DISABLED: CacheStatus

class CompactRequest(_message.Message):
    __slots__ = ("collection", "force")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    force: bool
    def __init__(self, collection: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class CompactResponse(_message.Message):
    __slots__ = ("compacted", "rows_before", "rows_after", "bytes_before", "bytes_after", "duration_us", "generation")
    COMPACTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ROWS_AFTER_FIELD_NUMBER: _ClassVar[int]
    BYTES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    BYTES_AFTER_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    compacted: bool
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int
    duration_us: int
    generation: int
    def __init__(self, compacted: _Optional[bool] = ..., rows_before: _Optional[int] = ..., rows_after: _Optional[int] = ..., bytes_before: _Optional[int] = ..., bytes_after: _Optional[int] = ..., duration_us: _Optional[int] = ..., generation: _Optional[int] = ...) -> None: ...

class IndexSpec(_message.Message):
    __slots__ = ("type", "build_params", "search_params")
    class BuildParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class SearchParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BUILD_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    type: str
    build_params: _containers.ScalarMap[str, int]
    search_params: _containers.ScalarMap[str, int]
    def __init__(self, type: _Optional[str] = ..., build_params: _Optional[_Mapping[str, int]] = ..., search_params: _Optional[_Mapping[str, int]] = ...) -> None: ...

class GateConfig(_message.Message):
    __slots__ = ("target_recall", "confidence_threshold", "fallback", "widen_max_rows", "fallback_collection", "fallback_vector_field", "legacy_store")
    TARGET_RECALL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    WIDEN_MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_VECTOR_FIELD_FIELD_NUMBER: _ClassVar[int]
    LEGACY_STORE_FIELD_NUMBER: _ClassVar[int]
    target_recall: float
    confidence_threshold: float
    fallback: _containers.RepeatedScalarFieldContainer[str]
    widen_max_rows: int
    fallback_collection: str
    fallback_vector_field: str
    legacy_store: LegacyStore
    def __init__(self, target_recall: _Optional[float] = ..., confidence_threshold: _Optional[float] = ..., fallback: _Optional[_Iterable[str]] = ..., widen_max_rows: _Optional[int] = ..., fallback_collection: _Optional[str] = ..., fallback_vector_field: _Optional[str] = ..., legacy_store: _Optional[_Union[LegacyStore, _Mapping]] = ...) -> None: ...

class LegacyStore(_message.Message):
    __slots__ = ("source", "collection", "vector_field", "text_field", "document_id_field", "id_field", "shadow_rate")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_FIELD_NUMBER: _ClassVar[int]
    SHADOW_RATE_FIELD_NUMBER: _ClassVar[int]
    source: str
    collection: str
    vector_field: str
    text_field: str
    document_id_field: str
    id_field: str
    shadow_rate: float
    def __init__(self, source: _Optional[str] = ..., collection: _Optional[str] = ..., vector_field: _Optional[str] = ..., text_field: _Optional[str] = ..., document_id_field: _Optional[str] = ..., id_field: _Optional[str] = ..., shadow_rate: _Optional[float] = ...) -> None: ...

class SetLegacyStoreRequest(_message.Message):
    __slots__ = ("collection", "legacy_store", "fallback")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LEGACY_STORE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    collection: str
    legacy_store: LegacyStore
    fallback: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., legacy_store: _Optional[_Union[LegacyStore, _Mapping]] = ..., fallback: _Optional[_Iterable[str]] = ...) -> None: ...

class ReliabilityBin(_message.Message):
    __slots__ = ("lo", "hi", "count", "predicted", "measured")
    LO_FIELD_NUMBER: _ClassVar[int]
    HI_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    lo: float
    hi: float
    count: int
    predicted: float
    measured: float
    def __init__(self, lo: _Optional[float] = ..., hi: _Optional[float] = ..., count: _Optional[int] = ..., predicted: _Optional[float] = ..., measured: _Optional[float] = ...) -> None: ...

class CalibrationInfo(_message.Message):
    __slots__ = ("calibrated", "threshold", "target_recall", "samples", "source", "rows_at_calibration", "calibrated_unix_ms", "reliability", "duration_us")
    CALIBRATED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TARGET_RECALL_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ROWS_AT_CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    CALIBRATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RELIABILITY_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    calibrated: bool
    threshold: float
    target_recall: float
    samples: int
    source: str
    rows_at_calibration: int
    calibrated_unix_ms: int
    reliability: _containers.RepeatedCompositeFieldContainer[ReliabilityBin]
    duration_us: int
    def __init__(self, calibrated: _Optional[bool] = ..., threshold: _Optional[float] = ..., target_recall: _Optional[float] = ..., samples: _Optional[int] = ..., source: _Optional[str] = ..., rows_at_calibration: _Optional[int] = ..., calibrated_unix_ms: _Optional[int] = ..., reliability: _Optional[_Iterable[_Union[ReliabilityBin, _Mapping]]] = ..., duration_us: _Optional[int] = ...) -> None: ...

class CalibrateRequest(_message.Message):
    __slots__ = ("collection", "samples")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    samples: int
    def __init__(self, collection: _Optional[str] = ..., samples: _Optional[int] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "dimension", "embedder", "index", "default_oversample", "description", "gate", "consistency_level", "partition_key", "num_partitions", "tier")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_OVERSAMPLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    NUM_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    embedder: str
    index: IndexSpec
    default_oversample: int
    description: str
    gate: GateConfig
    consistency_level: str
    partition_key: str
    num_partitions: int
    tier: str
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., embedder: _Optional[str] = ..., index: _Optional[_Union[IndexSpec, _Mapping]] = ..., default_oversample: _Optional[int] = ..., description: _Optional[str] = ..., gate: _Optional[_Union[GateConfig, _Mapping]] = ..., consistency_level: _Optional[str] = ..., partition_key: _Optional[str] = ..., num_partitions: _Optional[int] = ..., tier: _Optional[str] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "dimension", "embedder", "index", "default_oversample", "description", "rows", "float_rows", "bytes_in_ram", "bytes_on_disk", "generation", "created_unix_ms", "gate", "calibration", "consistency_level", "partition_key", "num_partitions", "tier", "bytes_tier", "plan", "dead_rows", "row_file_bytes", "compactions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_OVERSAMPLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FLOAT_ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_IN_RAM_FIELD_NUMBER: _ClassVar[int]
    BYTES_ON_DISK_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    NUM_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    BYTES_TIER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DEAD_ROWS_FIELD_NUMBER: _ClassVar[int]
    ROW_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    embedder: str
    index: IndexSpec
    default_oversample: int
    description: str
    rows: int
    float_rows: int
    bytes_in_ram: int
    bytes_on_disk: int
    generation: int
    created_unix_ms: int
    gate: GateConfig
    calibration: CalibrationInfo
    consistency_level: str
    partition_key: str
    num_partitions: int
    tier: str
    bytes_tier: int
    plan: SearchPlan
    dead_rows: int
    row_file_bytes: int
    compactions: int
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., embedder: _Optional[str] = ..., index: _Optional[_Union[IndexSpec, _Mapping]] = ..., default_oversample: _Optional[int] = ..., description: _Optional[str] = ..., rows: _Optional[int] = ..., float_rows: _Optional[int] = ..., bytes_in_ram: _Optional[int] = ..., bytes_on_disk: _Optional[int] = ..., generation: _Optional[int] = ..., created_unix_ms: _Optional[int] = ..., gate: _Optional[_Union[GateConfig, _Mapping]] = ..., calibration: _Optional[_Union[CalibrationInfo, _Mapping]] = ..., consistency_level: _Optional[str] = ..., partition_key: _Optional[str] = ..., num_partitions: _Optional[int] = ..., tier: _Optional[str] = ..., bytes_tier: _Optional[int] = ..., plan: _Optional[_Union[SearchPlan, _Mapping]] = ..., dead_rows: _Optional[int] = ..., row_file_bytes: _Optional[int] = ..., compactions: _Optional[int] = ...) -> None: ...

class SearchPlan(_message.Message):
    __slots__ = ("pool", "nprobe", "route", "candidate_recall", "pool_recall", "nprobe_recall", "exact_us", "binary_us", "scan_us", "fallback_share", "rows", "measured_unix_ms", "source", "milvus_pool_us", "ram_pool_us")
    class PoolRecallEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class NprobeRecallEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    POOL_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_RECALL_FIELD_NUMBER: _ClassVar[int]
    POOL_RECALL_FIELD_NUMBER: _ClassVar[int]
    NPROBE_RECALL_FIELD_NUMBER: _ClassVar[int]
    EXACT_US_FIELD_NUMBER: _ClassVar[int]
    BINARY_US_FIELD_NUMBER: _ClassVar[int]
    SCAN_US_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_SHARE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MEASURED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MILVUS_POOL_US_FIELD_NUMBER: _ClassVar[int]
    RAM_POOL_US_FIELD_NUMBER: _ClassVar[int]
    pool: int
    nprobe: int
    route: str
    candidate_recall: float
    pool_recall: _containers.ScalarMap[str, float]
    nprobe_recall: _containers.ScalarMap[str, float]
    exact_us: int
    binary_us: int
    scan_us: int
    fallback_share: float
    rows: int
    measured_unix_ms: int
    source: str
    milvus_pool_us: int
    ram_pool_us: int
    def __init__(self, pool: _Optional[int] = ..., nprobe: _Optional[int] = ..., route: _Optional[str] = ..., candidate_recall: _Optional[float] = ..., pool_recall: _Optional[_Mapping[str, float]] = ..., nprobe_recall: _Optional[_Mapping[str, float]] = ..., exact_us: _Optional[int] = ..., binary_us: _Optional[int] = ..., scan_us: _Optional[int] = ..., fallback_share: _Optional[float] = ..., rows: _Optional[int] = ..., measured_unix_ms: _Optional[int] = ..., source: _Optional[str] = ..., milvus_pool_us: _Optional[int] = ..., ram_pool_us: _Optional[int] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Document(_message.Message):
    __slots__ = ("id", "text", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VectorRecord(_message.Message):
    __slots__ = ("id", "document_id", "vector", "text", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    document_id: str
    vector: bytes
    text: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., document_id: _Optional[str] = ..., vector: _Optional[bytes] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("collection", "documents", "records", "chunk_size", "chunk_overlap", "flush")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    collection: str
    documents: _containers.RepeatedCompositeFieldContainer[Document]
    records: _containers.RepeatedCompositeFieldContainer[VectorRecord]
    chunk_size: int
    chunk_overlap: int
    flush: bool
    def __init__(self, collection: _Optional[str] = ..., documents: _Optional[_Iterable[_Union[Document, _Mapping]]] = ..., records: _Optional[_Iterable[_Union[VectorRecord, _Mapping]]] = ..., chunk_size: _Optional[int] = ..., chunk_overlap: _Optional[int] = ..., flush: _Optional[bool] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("documents_added", "documents_replaced", "documents_unchanged", "chunks_written", "chunks_deleted", "generation", "timings_us")
    class TimingsUsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DOCUMENTS_ADDED_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DELETED_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_US_FIELD_NUMBER: _ClassVar[int]
    documents_added: int
    documents_replaced: int
    documents_unchanged: int
    chunks_written: int
    chunks_deleted: int
    generation: int
    timings_us: _containers.ScalarMap[str, int]
    def __init__(self, documents_added: _Optional[int] = ..., documents_replaced: _Optional[int] = ..., documents_unchanged: _Optional[int] = ..., chunks_written: _Optional[int] = ..., chunks_deleted: _Optional[int] = ..., generation: _Optional[int] = ..., timings_us: _Optional[_Mapping[str, int]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("collection", "document_ids")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., document_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("documents_deleted", "chunks_deleted", "generation", "missing")
    DOCUMENTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DELETED_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    documents_deleted: int
    chunks_deleted: int
    generation: int
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, documents_deleted: _Optional[int] = ..., chunks_deleted: _Optional[int] = ..., generation: _Optional[int] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDocumentsRequest(_message.Message):
    __slots__ = ("collection", "page_size", "page_token", "document_ids", "prefix")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    collection: str
    page_size: int
    page_token: str
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    prefix: str
    def __init__(self, collection: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., document_ids: _Optional[_Iterable[str]] = ..., prefix: _Optional[str] = ...) -> None: ...

class DocumentInfo(_message.Message):
    __slots__ = ("id", "chunks", "content_hash", "ingested_unix_ms", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    INGESTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    chunks: int
    content_hash: str
    ingested_unix_ms: int
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., chunks: _Optional[int] = ..., content_hash: _Optional[str] = ..., ingested_unix_ms: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListDocumentsResponse(_message.Message):
    __slots__ = ("documents", "next_page_token")
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[DocumentInfo]
    next_page_token: str
    def __init__(self, documents: _Optional[_Iterable[_Union[DocumentInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("collection", "document_ids", "include_vectors")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_ids: _containers.RepeatedScalarFieldContainer[str]
    include_vectors: bool
    def __init__(self, collection: _Optional[str] = ..., document_ids: _Optional[_Iterable[str]] = ..., include_vectors: _Optional[bool] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("records", "missing")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[VectorRecord]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, records: _Optional[_Iterable[_Union[VectorRecord, _Mapping]]] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("collection", "text", "vector", "top_k", "filter", "oversample", "mode", "confidence_threshold")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    OVERSAMPLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    collection: str
    text: str
    vector: bytes
    top_k: int
    filter: str
    oversample: int
    mode: SearchMode
    confidence_threshold: float
    def __init__(self, collection: _Optional[str] = ..., text: _Optional[str] = ..., vector: _Optional[bytes] = ..., top_k: _Optional[int] = ..., filter: _Optional[str] = ..., oversample: _Optional[int] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., confidence_threshold: _Optional[float] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("chunk_id", "document_id", "score", "text", "metadata", "hamming_distance")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    HAMMING_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    chunk_id: str
    document_id: str
    score: float
    text: str
    metadata: _struct_pb2.Struct
    hamming_distance: int
    def __init__(self, chunk_id: _Optional[str] = ..., document_id: _Optional[str] = ..., score: _Optional[float] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., hamming_distance: _Optional[int] = ...) -> None: ...

class StageTiming(_message.Message):
    __slots__ = ("stage", "micros")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MICROS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    micros: int
    def __init__(self, stage: _Optional[str] = ..., micros: _Optional[int] = ...) -> None: ...

class SearchDiagnostics(_message.Message):
    __slots__ = ("path", "candidates_examined", "oversample", "timings", "total_us", "mode", "confidence", "threshold", "pools", "calibrated", "milvus_calls", "tier", "tier_scored")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    OVERSAMPLE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATED_FIELD_NUMBER: _ClassVar[int]
    MILVUS_CALLS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TIER_SCORED_FIELD_NUMBER: _ClassVar[int]
    path: SearchPath
    candidates_examined: int
    oversample: int
    timings: _containers.RepeatedCompositeFieldContainer[StageTiming]
    total_us: int
    mode: SearchMode
    confidence: float
    threshold: float
    pools: _containers.RepeatedScalarFieldContainer[int]
    calibrated: bool
    milvus_calls: int
    tier: str
    tier_scored: int
    def __init__(self, path: _Optional[_Union[SearchPath, str]] = ..., candidates_examined: _Optional[int] = ..., oversample: _Optional[int] = ..., timings: _Optional[_Iterable[_Union[StageTiming, _Mapping]]] = ..., total_us: _Optional[int] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., confidence: _Optional[float] = ..., threshold: _Optional[float] = ..., pools: _Optional[_Iterable[int]] = ..., calibrated: _Optional[bool] = ..., milvus_calls: _Optional[int] = ..., tier: _Optional[str] = ..., tier_scored: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "diagnostics")
    HITS_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    diagnostics: SearchDiagnostics
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., diagnostics: _Optional[_Union[SearchDiagnostics, _Mapping]] = ...) -> None: ...

class AskRequest(_message.Message):
    __slots__ = ("collection", "question", "top_k", "filter", "oversample", "mode", "confidence_threshold", "model", "temperature", "max_tokens", "no_cache")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    OVERSAMPLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    question: str
    top_k: int
    filter: str
    oversample: int
    mode: SearchMode
    confidence_threshold: float
    model: str
    temperature: float
    max_tokens: int
    no_cache: bool
    def __init__(self, collection: _Optional[str] = ..., question: _Optional[str] = ..., top_k: _Optional[int] = ..., filter: _Optional[str] = ..., oversample: _Optional[int] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., confidence_threshold: _Optional[float] = ..., model: _Optional[str] = ..., temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., no_cache: _Optional[bool] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("number", "chunk_id", "document_id", "score", "snippet", "metadata")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    number: int
    chunk_id: str
    document_id: str
    score: float
    snippet: str
    metadata: _struct_pb2.Struct
    def __init__(self, number: _Optional[int] = ..., chunk_id: _Optional[str] = ..., document_id: _Optional[str] = ..., score: _Optional[float] = ..., snippet: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "total_tokens")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class AskTimings(_message.Message):
    __slots__ = ("retrieval_us", "first_token_us", "total_us", "cache_us")
    RETRIEVAL_US_FIELD_NUMBER: _ClassVar[int]
    FIRST_TOKEN_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    CACHE_US_FIELD_NUMBER: _ClassVar[int]
    retrieval_us: int
    first_token_us: int
    total_us: int
    cache_us: int
    def __init__(self, retrieval_us: _Optional[int] = ..., first_token_us: _Optional[int] = ..., total_us: _Optional[int] = ..., cache_us: _Optional[int] = ...) -> None: ...

class AskError(_message.Message):
    __slots__ = ("code", "message", "retry_after_s")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retry_after_s: float
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retry_after_s: _Optional[float] = ...) -> None: ...

class AskSummary(_message.Message):
    __slots__ = ("answer", "sources", "cited", "model", "generated", "usage", "timings", "cache", "retrieval", "error", "shared")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CITED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GENERATED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    answer: str
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    cited: _containers.RepeatedScalarFieldContainer[int]
    model: str
    generated: bool
    usage: TokenUsage
    timings: AskTimings
    cache: CacheStatus
    retrieval: SearchDiagnostics
    error: AskError
    shared: bool
    def __init__(self, answer: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ..., cited: _Optional[_Iterable[int]] = ..., model: _Optional[str] = ..., generated: _Optional[bool] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., timings: _Optional[_Union[AskTimings, _Mapping]] = ..., cache: _Optional[_Union[CacheStatus, str]] = ..., retrieval: _Optional[_Union[SearchDiagnostics, _Mapping]] = ..., error: _Optional[_Union[AskError, _Mapping]] = ..., shared: _Optional[bool] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("delta", "summary")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    delta: str
    summary: AskSummary
    def __init__(self, delta: _Optional[str] = ..., summary: _Optional[_Union[AskSummary, _Mapping]] = ...) -> None: ...
