"""bitrag SDK: a client for the bitrag retrieval service (1-bit codes in RAM, float32 on disk).

    from bitrag import Client, Document
    with Client("127.0.0.1:50051") as c:
        c.create_collection("docs")
        c.ingest_documents("docs", [Document("a.md", "Binary codes live in RAM.")])
        for hit in c.search("docs", "where do codes live?", top_k=3).hits:
            print(hit.score, hit.text)
        for chunk in c.ask("docs", "where do codes live?"):
            print(chunk.text, end="", flush=True)
"""

from ._async_client import AsyncClient
from ._client import Client
from .errors import (
    AlreadyExistsError,
    BitragError,
    CallCancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from .types import (
    AnswerChunk,
    AskSummary,
    AskTimings,
    CalibrationInfo,
    CollectionInfo,
    CompactResult,
    DeleteResult,
    Document,
    DocumentInfo,
    DocumentPage,
    GateConfig,
    GenerationFailure,
    Hit,
    IndexSpec,
    IngestProgress,
    IngestResult,
    LegacyStore,
    Record,
    ReliabilityBin,
    SearchDiagnostics,
    SearchPlan,
    SearchResult,
    Source,
    TokenUsage,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "AnswerChunk",
    "AskSummary",
    "AskTimings",
    "AsyncClient",
    "BitragError",
    "CalibrationInfo",
    "CallCancelledError",
    "Client",
    "CollectionInfo",
    "CompactResult",
    "DeadlineExceededError",
    "DeleteResult",
    "Document",
    "DocumentInfo",
    "DocumentPage",
    "FailedPreconditionError",
    "GateConfig",
    "GenerationFailure",
    "Hit",
    "IndexSpec",
    "IngestProgress",
    "IngestResult",
    "InternalError",
    "InvalidArgumentError",
    "LegacyStore",
    "NotFoundError",
    "PermissionDeniedError",
    "Record",
    "ReliabilityBin",
    "ResourceExhaustedError",
    "SearchDiagnostics",
    "SearchPlan",
    "SearchResult",
    "Source",
    "TokenUsage",
    "UnauthenticatedError",
    "UnavailableError",
]
