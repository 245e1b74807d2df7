"""ingest.py: chunk ids, chunk sizes (splitter tokens), pages, Markdown sections, content hashes."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bitrag_server.domain import DocumentIn, RecordIn
from bitrag_server import ingest
from bitrag_server.ingest import (
    PAGE_BREAK,
    SECTION_KEY,
    _splitter,
    chunk_id,
    document_hash,
    is_markdown,
    markdown_sections,
    records_hash,
    split_document,
)

WORDS = (
    "binary codes live in memory while float rows stay on disk and every query is rescored "
    "against the exact vectors of its Hamming candidates"
).split()


def _text(n_sentences: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    sents = []
    for _ in range(n_sentences):
        words = rng.choice(WORDS, size=int(rng.integers(6, 18)))
        sents.append(" ".join(words).capitalize() + ".")
    return " ".join(sents)


def test_chunk_id_format() -> None:
    assert chunk_id("doc", 0) == "doc#0"
    assert chunk_id("a/b.md", 12) == "a/b.md#12"


def test_chunk_ids_sequential_and_stable() -> None:
    doc = DocumentIn("notes/a.md", _text(80), {"k": 1})
    a = split_document(doc, 64, 8)
    b = split_document(DocumentIn("notes/a.md", _text(80), {"k": 1}), 64, 8)
    assert len(a) > 3
    assert [c.chunk_id for c in a] == [f"notes/a.md#{i}" for i in range(len(a))]
    assert [(c.chunk_id, c.text) for c in a] == [(c.chunk_id, c.text) for c in b]
    assert all(c.doc_id == "notes/a.md" and c.metadata == {"k": 1} for c in a)


@pytest.mark.parametrize(("size", "overlap"), [(32, 0), (64, 8), (128, 16), (256, 32)])
def test_chunk_size_respected(size: int, overlap: int) -> None:
    text = _text(120, seed=size)
    chunks = split_document(DocumentIn("d", text), size, overlap)
    tok = _splitter(size, overlap)._tokenizer
    counts = [len(tok(c.text)) for c in chunks]
    assert max(counts) <= size
    total = len(tok(text))
    assert len(chunks) >= total // size  # nothing dropped: chunks cover the text
    # every word of the text appears in some chunk, in order of first chunk
    joined = " ".join(c.text for c in chunks)
    assert set(text.split()) <= set(joined.split())


def test_smaller_chunks_give_more_chunks() -> None:
    text = _text(100, seed=9)
    n = [len(split_document(DocumentIn("d", text), s, 0)) for s in (32, 64, 128, 512)]
    assert n == sorted(n, reverse=True) and n[0] > n[-1]


def test_short_document_one_chunk_and_blank_skipped() -> None:
    chunks = split_document(DocumentIn("x", "One short sentence."), 512, 64)
    assert [(c.chunk_id, c.text) for c in chunks] == [("x#0", "One short sentence.")]
    assert split_document(DocumentIn("x", "   \n\n  "), 512, 64) == []


BASE = dict(chunk_size=256, chunk_overlap=32, embedder="local:all-MiniLM-L6-v2")


def _h(doc: DocumentIn, **kw: object) -> str:
    return document_hash(doc, **{**BASE, **kw})  # type: ignore[arg-type]


def test_document_hash_stable() -> None:
    d = DocumentIn("a", "hello world", {"year": 2020, "tags": ["x", "y"], "nested": {"b": 1, "a": 2}})
    h = _h(d)
    assert len(h) == 64 and int(h, 16) >= 0
    assert _h(copy.deepcopy(d)) == h
    # key order of metadata does not matter
    d2 = DocumentIn("a", "hello world", {"nested": {"a": 2, "b": 1}, "tags": ["x", "y"], "year": 2020})
    assert _h(d2) == h
    # the id is not part of the content hash (the id is the lookup key)
    assert _h(DocumentIn("other", d.text, d.metadata)) == h


@pytest.mark.parametrize(
    "change",
    [
        lambda d, kw: (DocumentIn(d.id, d.text + ".", d.metadata), kw),
        lambda d, kw: (DocumentIn(d.id, "Hello world", d.metadata), kw),
        lambda d, kw: (DocumentIn(d.id, d.text, {**d.metadata, "year": 2021}), kw),
        lambda d, kw: (DocumentIn(d.id, d.text, {**d.metadata, "new": None}), kw),
        lambda d, kw: (DocumentIn(d.id, d.text, {}), kw),
        lambda d, kw: (DocumentIn(d.id, d.text, {**d.metadata, "year": "2020"}), kw),
        lambda d, kw: (d, {**kw, "chunk_size": 257}),
        lambda d, kw: (d, {**kw, "chunk_overlap": 0}),
        lambda d, kw: (d, {**kw, "embedder": "openai:text-embedding-3-small"}),
    ],
)
def test_document_hash_changes(change) -> None:  # noqa: ANN001
    d = DocumentIn("a", "hello world", {"year": 2020})
    d2, kw = change(d, dict(BASE))
    assert document_hash(d2, **kw) != document_hash(d, **BASE)


def test_page_breaks_split_pages_and_number_them() -> None:
    """A form feed is a page break (the SDK joins a PDF's pages with it): no chunk spans two
    pages, each chunk carries the 1-based page it comes from, a blank page keeps its number."""
    pages = [_text(30, seed=1), _text(3, seed=2), "  \n ", _text(30, seed=3)]
    doc = DocumentIn("manual.pdf", PAGE_BREAK.join(pages), {"file_type": "application/pdf"})
    chunks = split_document(doc, 64, 8)
    assert [c.chunk_id for c in chunks] == [f"manual.pdf#{i}" for i in range(len(chunks))]  # ids run on
    assert all(PAGE_BREAK not in c.text for c in chunks)
    assert all(c.metadata["file_type"] == "application/pdf" for c in chunks)
    by_page: dict[int, list[str]] = {}
    for c in chunks:
        by_page.setdefault(c.metadata["page"], []).append(c.text)
    assert sorted(by_page) == [1, 2, 4]  # the blank third page has no chunk but keeps its number
    assert [c.metadata["page"] for c in chunks] == sorted(c.metadata["page"] for c in chunks)
    for n, texts in by_page.items():
        # each page's chunks hold exactly that page's words, as a page of its own would be split
        alone = split_document(DocumentIn("p", pages[n - 1]), 64, 8)
        assert texts == [c.text for c in alone]
    assert len(by_page[1]) > 1 and len(by_page[2]) == 1  # a short page is one chunk, not merged on


def test_text_without_page_breaks_has_no_page() -> None:
    chunks = split_document(DocumentIn("a.md", _text(40), {"page": "cover"}), 64, 8)
    assert all(c.metadata == {"page": "cover"} for c in chunks)  # the caller's metadata untouched


def _rec(i: int, v: np.ndarray, text: str = "t", md: dict | None = None) -> RecordIn:
    return RecordIn(f"doc#{i}", "doc", v, text, md or {})


def test_records_hash() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3, 16)).astype(np.float32)
    recs = [_rec(i, v[i], f"t{i}", {"i": i}) for i in range(3)]
    h = records_hash(recs)
    assert records_hash([_rec(i, v[i].copy(), f"t{i}", {"i": i}) for i in range(3)]) == h
    # float64 input with the same float32 values hashes the same
    assert records_hash([_rec(i, v[i].astype(np.float64), f"t{i}", {"i": i}) for i in range(3)]) == h
    changed = [
        [_rec(i, v[i], f"t{i}", {"i": i}) for i in range(2)],  # one record fewer
        [_rec(i, v[i], f"t{i}", {"i": i}) for i in (0, 2, 1)],  # order
        [_rec(i, v[i] + (i == 1) * 1e-3, f"t{i}", {"i": i}) for i in range(3)],  # a vector
        [_rec(i, v[i], f"T{i}", {"i": i}) for i in range(3)],  # a text
        [_rec(i, v[i], f"t{i}", {"i": i + 1}) for i in range(3)],  # metadata
        [RecordIn(f"other#{i}", "doc", v[i], f"t{i}", {"i": i}) for i in range(3)],  # chunk ids
    ]
    for recs2 in changed:
        assert records_hash(recs2) != h
    assert records_hash(recs) != document_hash(DocumentIn("doc", "t0"), **BASE)


# ---- Markdown: by section, then size -----------------------------------------------------------

MD = """# Guide

Intro text of the guide.

## Install

Run the installer.

```sh
# not a heading: a shell comment
make install
```

### Linux

Use the package manager.

## Empty parent

### Child

Child text.
"""


def _md(text: str, size: int = 256, overlap: int = 32, **meta: object) -> list:
    return split_document(DocumentIn("docs/guide.md", text, {"file_type": "text/markdown", **meta}), size, overlap)


def test_markdown_split_by_section_with_heading_path() -> None:
    chunks = _md(MD, year=2024)
    got = [(c.metadata[SECTION_KEY], c.text.split("\n", 1)[0]) for c in chunks]
    assert got == [
        ("Guide", "# Guide"),
        ("Guide › Install", "## Install"),
        ("Guide › Install › Linux", "### Install › Linux"),
        ("Guide › Empty parent › Child", "### Empty parent › Child"),  # a heading with no body: no chunk
    ]
    assert [c.chunk_id for c in chunks] == [f"docs/guide.md#{i}" for i in range(4)]
    assert all(c.metadata["year"] == 2024 for c in chunks)
    install = chunks[1].text
    assert "# not a heading: a shell comment\nmake install" in install  # fenced code stays in its section
    assert "Use the package manager" not in install and "Use the package manager." in chunks[2].text


def test_markdown_long_section_size_split_each_piece_led_by_its_heading() -> None:
    text = "# Doc\n\n## Long part\n\n" + "\n\n".join(_text(4, seed=i) for i in range(30)) + "\n\n## Short\n\nEnd."
    chunks = _md(text, 64, 8)
    tok = _splitter(64, 8)._tokenizer
    long = [c for c in chunks if c.metadata[SECTION_KEY] == "Doc › Long part"]
    assert len(long) > 5
    assert all(c.text.startswith("## Long part\n\n") and len(tok(c.text)) <= 64 for c in long)
    body = " ".join(c.text.removeprefix("## Long part\n\n") for c in long)
    assert set(" ".join(_text(4, seed=i) for i in range(30)).split()) <= set(body.split())  # nothing dropped
    assert chunks[-1].metadata[SECTION_KEY] == "Doc › Short" and chunks[-1].text == "## Short\n\nEnd."


def test_markdown_sections_and_what_counts_as_markdown() -> None:
    secs = markdown_sections("Preamble.\n\n#NoSpace is text\n## A ##\nbody\n~~~\n# x\n~~~\n")
    assert [(s.path, s.level) for s in secs] == [([], 0), (["A"], 2)]
    assert "#NoSpace is text" in secs[0].body and "# x" in secs[1].body
    assert is_markdown(DocumentIn("a.md", "x")) and is_markdown(DocumentIn("a.MARKDOWN", "x"))
    assert not is_markdown(DocumentIn("a.md", "x", {"file_type": "text/plain"}))
    assert is_markdown(DocumentIn("a", "x", {"file_type": "text/markdown"}))
    # other text: the sentence splitter alone, no section metadata, headings left as text
    plain = split_document(DocumentIn("a.txt", MD), 256, 32)
    assert len(plain) == 1 and SECTION_KEY not in plain[0].metadata and plain[0].text.startswith("# Guide")


def test_document_hash_covers_the_splitter_version(monkeypatch: pytest.MonkeyPatch) -> None:
    d = DocumentIn("a.md", "# T\n\nbody")
    before = _h(d)
    monkeypatch.setattr(ingest, "SPLITTER_VERSION", ingest.SPLITTER_VERSION + 1)
    assert _h(d) != before
