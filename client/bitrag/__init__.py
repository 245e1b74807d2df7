"""bitrag SDK: a client for the bitrag retrieval service (1-bit codes in RAM, float32 on disk).

    from bitrag import Client, Document
    with Client("127.0.0.1:50051") as c:
        c.create_collection("docs")
        c.ingest_documents("docs", [Document("a.md", "Binary codes live in RAM.")])
        for hit in c.search("docs", "where do codes live?", top_k=3).hits:
            print(hit.score, hit.text)
"""

from ._async_client import AsyncClient
from ._client import Client
from .errors import (
    AlreadyExistsError,
    BitragError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
)
from .types import (
    CalibrationInfo,
    CollectionInfo,
    GateConfig,
    ReliabilityBin,
    DeleteResult,
    Document,
    Hit,
    IndexSpec,
    IngestResult,
    SearchDiagnostics,
    SearchResult,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "AsyncClient",
    "BitragError",
    "CalibrationInfo",
    "Client",
    "CollectionInfo",
    "DeadlineExceededError",
    "DeleteResult",
    "Document",
    "FailedPreconditionError",
    "GateConfig",
    "Hit",
    "IndexSpec",
    "IngestResult",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "ReliabilityBin",
    "ResourceExhaustedError",
    "SearchDiagnostics",
    "SearchResult",
    "UnavailableError",
]
