"""The SDK's public surface is pinned: changing it is a deliberate act."""

from __future__ import annotations

import importlib
import importlib.resources
from pathlib import Path

import bitrag

PUBLIC = [
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


def test_all_pinned() -> None:
    assert bitrag.__all__ == PUBLIC


def test_every_name_importable() -> None:
    mod = importlib.import_module("bitrag")
    for name in PUBLIC:
        obj = getattr(mod, name)
        assert obj is not None
        ns: dict = {}
        exec(f"from bitrag import {name} as x", ns)  # noqa: S102 - the import statement users write
        assert ns["x"] is obj


def test_error_classes_share_base() -> None:
    for name in PUBLIC:
        if name.endswith("Error"):
            assert issubclass(getattr(bitrag, name), bitrag.BitragError)
            assert issubclass(getattr(bitrag, name), Exception)


def test_version() -> None:
    assert bitrag.__version__ == "0.1.0"
    from importlib.metadata import version

    assert version("bitrag") == bitrag.__version__


def test_py_typed_present() -> None:
    f = importlib.resources.files("bitrag") / "py.typed"
    assert f.is_file()
    assert (Path(bitrag.__file__).parent / "py.typed").is_file()
    # the generated stubs ship their .pyi
    assert (Path(bitrag.__file__).parent / "v1" / "bitrag_pb2.pyi").is_file()


def test_document_dataclass() -> None:
    d = bitrag.Document("a.md", "text")
    assert (d.id, d.text, d.metadata) == ("a.md", "text", {})
    assert bitrag.IndexSpec() == bitrag.IndexSpec("", {}, {})
