"""Domain types of Ask; `convert.py` maps them to and from protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain import Diagnostics

CACHE_STATUSES = ("MISS", "HIT", "SEMANTIC_HIT", "BYPASS", "UNAVAILABLE", "DISABLED")


@dataclass
class AskQuery:
    collection: str
    question: str
    top_k: int = 0  # 0 = settings.ask_top_k
    filter: str = ""
    oversample: int = 0
    mode: str = "AUTO"
    confidence_threshold: float | None = None
    model: str = ""
    temperature: float | None = None
    max_tokens: int = 0
    no_cache: bool = False


@dataclass
class Source:
    number: int
    chunk_id: str
    document_id: str
    score: float
    snippet: str
    metadata: dict[str, Any]
    text: str = ""  # the whole chunk (prompt only; not sent back)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class AskTimings:
    retrieval_us: int = 0
    first_token_us: int = 0
    total_us: int = 0
    cache_us: int = 0


@dataclass
class AskError:
    code: str  # gRPC status name
    message: str
    retry_after_s: float = 0.0


@dataclass
class AskSummary:
    answer: str
    sources: list[Source]
    cited: list[int]
    model: str
    generated: bool
    usage: Usage = field(default_factory=Usage)
    timings: AskTimings = field(default_factory=AskTimings)
    cache: str = "DISABLED"
    retrieval: Diagnostics | None = None
    error: AskError | None = None
    shared: bool = False  # joined an identical Ask in flight (single flight)
