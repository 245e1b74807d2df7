"""Documents -> chunks with stable ids, and content hashes that make re-ingest idempotent.

Chunk ids are `<document id>#<n>`: stable for a given document and chunking. A form feed (`\f`) in a
document's text is a page break (the SDK joins a PDF's pages with it): chunks never span one, and
each chunk's metadata gets `page`, the 1-based number of the page it comes from. A document's hash
covers everything that determines its chunks and vectors (text, metadata, chunking parameters,
splitter version, embedder), so re-ingesting an unchanged document is a no-op and a changed one is
replaced whole.

Markdown (file type text/markdown, or an id ending in .md / .markdown) is split by section first:
each chunk is one section (or a size-split piece of a long one), its text led by the section's
heading path (`## Guide › Install › Linux`) so that both the embedding and a reader know where it
comes from, and its metadata carries the path as `section` (over a document key of that name). A
long section's paragraphs, list items and code blocks are packed whole into chunks of the size, and
only a block longer than that is cut (with the overlap) by the sentence splitter. Other text goes
to the sentence splitter whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
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


Tokenizer = Callable[[str], Sequence[int]]  # text -> token ids (the embedder's own tokens)


@lru_cache(maxsize=16)
def _splitter(chunk_size: int, chunk_overlap: int, tokenizer: Tokenizer | None = None):  # noqa: ANN202 - llama_index type, lazy import
    """Chunks of at most `chunk_size` tokens: the embedder's tokens when it has a window to fit
    (`tokenizer`), else tiktoken's (LlamaIndex's default, OpenAI's models' own)."""
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenizer)


PAGE_BREAK = "\f"  # between a document's pages (a PDF's, from the client): no chunk spans one

# Bumped when the same document and parameters split differently (part of the document hash, so a
# re-ingest after an upgrade replaces the old chunks instead of keeping them as "unchanged").
# 2: Markdown split by section (and paged text split at its page breaks); 3: sized in the embedder's
# own tokens where it has a window (a local model's max_seq_length), not tiktoken's
SPLITTER_VERSION = 3

SECTION_KEY = "section"  # chunk metadata: the heading path of a Markdown chunk
PATH_SEP = " › "
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def is_markdown(doc: DocumentIn) -> bool:
    ft = doc.metadata.get("file_type")
    if isinstance(ft, str) and ft:
        return ft == "text/markdown"
    return doc.id.lower().endswith((".md", ".markdown"))


@dataclass
class Section:
    path: list[str]  # heading titles, outermost first ([] before the first heading)
    level: int  # of the last heading (0: none)
    body: str


def markdown_sections(text: str) -> list[Section]:
    """ATX headings (outside fenced code) cut the text into sections; each carries the path of
    headings it sits under. Sections with no body (a heading directly followed by a sub-heading)
    are dropped: their title lives on in their children's paths."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fence = ""

    def flush() -> None:
        b = "\n".join(body).strip("\n")
        if b.strip():
            sections.append(Section([t for _, t in stack], stack[-1][0] if stack else 0, b))
        body.clear()

    for line in text.splitlines():
        f = _FENCE.match(line)
        if fence:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence):
                fence = ""
            body.append(line)
            continue
        if f:
            fence = f.group(1)
            body.append(line)
            continue
        h = _HEADING.match(line)
        if h is None:
            body.append(line)
            continue
        flush()
        level = len(h.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, h.group(2).strip() or "#"))
    flush()
    return sections


_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])[ \t]")


def _blocks(body: str) -> list[str]:
    """A section's body -> blocks that a chunk boundary should not cut: paragraphs, top-level
    list items (with their continuation lines), fenced code blocks, tables."""
    blocks: list[list[str]] = [[]]
    fence = ""
    for line in body.splitlines():
        f = _FENCE.match(line)
        if fence:
            blocks[-1].append(line)
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence):
                fence = ""
            continue
        if f:
            fence = f.group(1)
        if not line.strip():
            blocks.append([])
        elif _ITEM.match(line) or (f and blocks[-1]):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if "".join(b).strip()]


def _head(path: list[str], level: int) -> str:
    """The heading line a Markdown chunk starts with: the path below the document's title (the
    title alone for its own sections), which would otherwise weigh on every chunk's embedding."""
    shown = path[1:] if len(path) > 1 and level > 1 else path
    return f"{'#' * max(level, 1)} {PATH_SEP.join(shown)}\n\n" if shown else ""


def _split_markdown(doc: DocumentIn, chunk_size: int, chunk_overlap: int,
                    tokenizer: Tokenizer | None = None) -> list[tuple[str, dict[str, Any]]]:
    tok = _splitter(chunk_size, chunk_overlap, tokenizer)._tokenizer
    out: list[tuple[str, dict[str, Any]]] = []
    for sec in markdown_sections(doc.text):
        head = _head(sec.path, sec.level)
        md = {**doc.metadata, SECTION_KEY: PATH_SEP.join(sec.path)} if sec.path else doc.metadata
        if len(tok(head + sec.body)) <= chunk_size:
            out.append((head + sec.body, md))
            continue
        # A long section: its blocks packed into chunks of at most `chunk_size` tokens with the
        # heading line (whose tokens come out of the budget, never more than half of it); a block
        # longer than that is split by the sentence splitter.
        budget = max(chunk_size - len(tok(head)), chunk_size // 2)
        pieces: list[str] = []
        cur: list[str] = []
        used = 0
        for block in _blocks(sec.body):
            n = len(tok(block)) + 1
            if cur and used + n > budget:
                pieces.append("\n\n".join(cur))
                cur, used = [], 0
            if n > budget:
                pieces.extend(_splitter(budget, min(chunk_overlap, budget // 4), tokenizer).split_text(block))
                continue
            cur.append(block)
            used += n
        if cur:
            pieces.append("\n\n".join(cur))
        out.extend((head + p, md) for p in pieces if p.strip())
    return out


def split_document(doc: DocumentIn, chunk_size: int, chunk_overlap: int, tokenizer: Tokenizer | None = None) -> list[Chunk]:
    """Paged text (PAGE_BREAK): page by page (`split_pages`). Markdown: by section, then size
    (see the module docstring). Other text: the LlamaIndex SentenceSplitter (token-sized chunks,
    sentence boundaries preferred). Sizes count `tokenizer`'s tokens (default: tiktoken's)."""
    if PAGE_BREAK in doc.text:
        return split_pages(doc, chunk_size, chunk_overlap, tokenizer)
    if is_markdown(doc):
        parts = _split_markdown(doc, chunk_size, chunk_overlap, tokenizer)
    else:
        splitter = _splitter(chunk_size, chunk_overlap, tokenizer)
        parts = [(t, doc.metadata) for t in splitter.split_text(doc.text) if t.strip()]
    return [Chunk(chunk_id(doc.id, i), doc.id, t, md) for i, (t, md) in enumerate(parts)]


def split_pages(doc: DocumentIn, chunk_size: int, chunk_overlap: int, tokenizer: Tokenizer | None = None) -> list[Chunk]:
    """A paged document (pages joined by PAGE_BREAK) split page by page: no chunk spans two pages,
    each carries `page` (1-based; blank pages keep their number), ids run on across pages."""
    chunks: list[Chunk] = []
    for page, page_text in enumerate(doc.text.split(PAGE_BREAK), 1):
        page_doc = DocumentIn(doc.id, page_text, {**doc.metadata, "page": page})
        for c in split_document(page_doc, chunk_size, chunk_overlap, tokenizer):
            chunks.append(Chunk(chunk_id(doc.id, len(chunks)), doc.id, c.text, c.metadata))
    return chunks


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def document_hash(doc: DocumentIn, *, chunk_size: int, chunk_overlap: int, embedder: str) -> str:
    h = hashlib.sha256(b"doc\0")
    h.update(_canon([doc.text, doc.metadata, chunk_size, chunk_overlap, SPLITTER_VERSION, embedder]))
    return h.hexdigest()


def records_hash(records: list[RecordIn]) -> str:
    h = hashlib.sha256(b"rec\0")
    for r in records:
        h.update(_canon([r.id, r.text, r.metadata]))
        h.update(np.ascontiguousarray(r.vector, dtype="<f4").tobytes())
    return h.hexdigest()
