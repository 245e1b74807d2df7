"""Documents -> chunks with stable ids, and content hashes that make re-ingest idempotent.

Chunk ids are `<document id>#<n>`: stable for a given document and chunking. A form feed (`\f`) in a
document's text is a page break (the SDK joins a PDF's pages with it): chunks never span one, and
each chunk's metadata gets `page`, the 1-based number of the page it comes from. A document's hash
covers everything that determines its chunks and vectors (text, metadata, chunking parameters,
embedder), so re-ingesting an unchanged document is a no-op and a changed one is replaced whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .domain import DocumentIn, RecordIn


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    text: str
    metadata: dict[str, Any]


def chunk_id(doc_id: str, n: int) -> str:
    return f"{doc_id}#{n}"


@lru_cache(maxsize=16)
def _splitter(chunk_size: int, chunk_overlap: int):  # noqa: ANN202 - llama_index type, lazy import
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


PAGE_BREAK = "\f"


def split_document(doc: DocumentIn, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """LlamaIndex SentenceSplitter (token-sized chunks, sentence boundaries preferred)."""
    if PAGE_BREAK in doc.text:
        return split_pages(doc, chunk_size, chunk_overlap)
    texts = [t for t in _splitter(chunk_size, chunk_overlap).split_text(doc.text) if t.strip()]
    return [Chunk(chunk_id(doc.id, i), doc.id, t, doc.metadata) for i, t in enumerate(texts)]


def split_pages(doc: DocumentIn, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """A paged document (pages joined by PAGE_BREAK) split page by page: no chunk spans two pages,
    each carries `page` (1-based; blank pages keep their number), ids run on across pages."""
    chunks: list[Chunk] = []
    for page, page_text in enumerate(doc.text.split(PAGE_BREAK), 1):
        page_doc = DocumentIn(doc.id, page_text, {**doc.metadata, "page": page})
        for c in split_document(page_doc, chunk_size, chunk_overlap):
            chunks.append(Chunk(chunk_id(doc.id, len(chunks)), doc.id, c.text, c.metadata))
    return chunks


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def document_hash(doc: DocumentIn, *, chunk_size: int, chunk_overlap: int, embedder: str) -> str:
    h = hashlib.sha256(b"doc\0")
    h.update(_canon([doc.text, doc.metadata, chunk_size, chunk_overlap, embedder]))
    return h.hexdigest()


def records_hash(records: list[RecordIn]) -> str:
    h = hashlib.sha256(b"rec\0")
    for r in records:
        h.update(_canon([r.id, r.text, r.metadata]))
        h.update(np.ascontiguousarray(r.vector, dtype="<f4").tobytes())
    return h.hexdigest()
