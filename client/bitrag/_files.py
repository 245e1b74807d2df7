"""Read files into `Document`s with LlamaIndex's SimpleDirectoryReader (md, txt, pdf, docx, pptx,
html), one Document per file. Files are read where they live (the client); the server splits and
embeds, so every client gets the same chunking.

PDFs are read by pdfium (`pypdfium2`), which spaces words by the glyphs' positions as poppler's
`pdftotext` does (pypdf glues the words of TeX-made justified text together:
bench/results/pdf_readers.md). Their pages are joined by form feeds, where the server splits them
and records each chunk's `page`; headers and footers repeated on the pages are dropped."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from .types import Document

EXTENSIONS = (".md", ".txt", ".pdf", ".docx", ".pptx", ".html", ".htm")
# Reader metadata that changes without the content changing would defeat idempotent re-ingest.
_VOLATILE = {"creation_date", "last_modified_date", "last_accessed_date", "file_size"}


def document_id(path: Path) -> str:
    """A file's stable id: its path relative to the working directory (absolute if outside)."""
    p = path.resolve()
    rel = os.path.relpath(p, Path.cwd())
    return (p.as_posix() if rel.startswith("..") else Path(rel).as_posix())


def find_files(path: str | Path, extensions: tuple[str, ...] = EXTENSIONS) -> list[Path]:
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in extensions and not any(part.startswith(".") for part in p.parts)
    )


def _html_reader():  # noqa: ANN202 - a LlamaIndex BaseReader, imported lazily
    """HTML -> text (html2text; SimpleDirectoryReader has no HTML reader and would keep the tags)."""
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document as LlamaDocument

    class HtmlTextReader(BaseReader):
        def load_data(self, file: Path, extra_info: dict | None = None, **_: object) -> list[LlamaDocument]:
            import html2text

            h = html2text.HTML2Text()
            h.ignore_links = h.ignore_images = True
            h.body_width = 0
            text = h.handle(Path(file).read_text(encoding="utf-8", errors="replace"))
            return [LlamaDocument(text=text, metadata=dict(extra_info or {}))]

    return HtmlTextReader()


PAGE_BREAK = "\f"  # between a document's pages: the server splits there and sets each chunk's `page`

# pdfium's text: \r\n line ends, \x02 for a hyphen that breaks a word across lines (joined here),
# other control characters for glyphs without Unicode (dropped).
_PDF_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_DIGITS = re.compile(r"\d+")
# a front-matter page number: "Debian Reference iv"
_ROMAN_END = re.compile(
    r"(?:^|(?<=\s))(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$"
)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def _pdf_page_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "")
    lines = (_PDF_CONTROL.sub("", line).rstrip() for line in text.split("\n"))
    return "\n".join(lines).strip("\n")


def _line_key(line: str) -> str:
    """A line as it recurs from page to page: numbers (the page's, a chapter's) made alike."""
    key = _DIGITS.sub("#", " ".join(line.split()).lower())
    return _ROMAN_END.sub("#", key)


def _running_keys(pages: list[list[str]], edge: int) -> set[str]:
    """Keys of the lines at the top or bottom of pages that are page furniture: the same on at
    least half the pages, or carrying the page number (a number that rises with the page on three
    or more pages: "42 Chapter 5. Best practices", a bare "42")."""
    seen: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for i, lines in enumerate(pages):
        page_keys: dict[str, str] = {}
        for line in lines[:edge] + lines[-edge:]:
            page_keys.setdefault(_line_key(line), line)
        for key, line in page_keys.items():
            seen[key].append((i, line))
    with_text = sum(1 for lines in pages if lines)
    keys = set()
    for key, hits in seen.items():
        if len(hits) >= max(3, with_text / 2) or (len(hits) >= 3 and _counts_pages(hits)):
            keys.add(key)
    return keys


def _numbers(line: str) -> list[int]:
    found = [int(n) for n in _DIGITS.findall(line)]
    roman = _ROMAN_END.search(line.lower())
    if roman:
        value = 0
        for a, b in zip(roman.group(), roman.group()[1:] + " "):
            v = _ROMAN[a]
            value += -v if _ROMAN.get(b, 0) > v else v
        found.append(value)
    return found


def _counts_pages(hits: list[tuple[int, str]]) -> bool:
    numbers = [_numbers(line) for _, line in hits]
    if not numbers[0] or any(len(n) != len(numbers[0]) for n in numbers):
        return False
    return any(len({n[j] - i for (i, _), n in zip(hits, numbers)}) == 1 for j in range(len(numbers[0])))


def strip_running_lines(pages: list[str], edge: int = 2) -> list[str]:
    """Pages without their running headers and footers (see `_running_keys`), looked for among
    each page's first and last `edge` non-blank lines. Fewer than 4 pages: nothing is dropped."""
    if len(pages) < 4:
        return pages
    split = [[line for line in p.split("\n") if line.strip()] for p in pages]
    keys = _running_keys(split, edge)
    out = []
    for lines in split:
        n = len(lines)
        out.append("\n".join(
            ln for j, ln in enumerate(lines) if not ((j < edge or j >= n - edge) and _line_key(ln) in keys)
        ))
    return out


def pdf_pages(path: str | Path) -> list[str]:
    """A PDF's text, one string per page (pdfium), running headers and footers dropped."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    pages = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            try:
                pages.append(_pdf_page_text(textpage.get_text_bounded()))
            finally:
                textpage.close()
                page.close()
    finally:
        pdf.close()
    return strip_running_lines(pages)


def _pdf_reader():  # noqa: ANN202 - a LlamaIndex BaseReader, imported lazily
    """PDF -> one LlamaIndex Document: its pages joined by PAGE_BREAK."""
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document as LlamaDocument

    class PdfiumReader(BaseReader):
        def load_data(self, file: Path, extra_info: dict | None = None, **_: object) -> list[LlamaDocument]:
            pages = pdf_pages(file)
            text = PAGE_BREAK.join(pages) if any(p.strip() for p in pages) else ""
            return [LlamaDocument(text=text, metadata={**(extra_info or {}), "pages": len(pages)})]

    return PdfiumReader()


def _scalar(v: object) -> bool:
    # Reader metadata is copied onto every chunk: keep what filters can use (the pptx reader
    # adds nested per-slide structures that can exceed the server's metadata size limit).
    return isinstance(v, (str, int, float, bool))


def load_documents(path: str | Path, *, progress: bool = False) -> list[Document]:
    """Every supported file under `path` -> one Document (pages/slides joined), id = its path."""
    from llama_index.core import SimpleDirectoryReader

    files = find_files(path)
    if not files:
        return []
    html = _html_reader()
    reader = SimpleDirectoryReader(
        input_files=[str(f) for f in files], raise_on_error=True,
        file_extractor={".html": html, ".htm": html, ".pdf": _pdf_reader()},
    )
    parts: dict[str, list[str]] = {}
    meta: dict[str, dict] = {}
    for d in reader.load_data(show_progress=progress):
        fp = d.metadata.get("file_path", "")
        parts.setdefault(fp, []).append(d.text)
        meta.setdefault(fp, {
            k: v for k, v in d.metadata.items() if k not in _VOLATILE and k != "page_label" and _scalar(v)
        })
    docs = []
    for f in files:
        texts = parts.get(str(f)) or parts.get(str(f.resolve()))
        if not texts or not "".join(texts).strip():
            continue  # nothing extractable (e.g. a scanned PDF)
        md = dict(meta.get(str(f)) or meta.get(str(f.resolve())) or {})
        md["file_path"] = document_id(f)
        docs.append(Document(document_id(f), "\n\n".join(texts), md))
    return docs
