"""Read files into `Document`s with LlamaIndex's SimpleDirectoryReader (md, txt, pdf, docx, pptx,
html), one Document per file. Files are read where they live (the client); the server splits and
embeds, so every client gets the same chunking.

Document ids are the files' paths relative to the ingested root (`scan`): the directory given, or
for a file given directly its own name, so the same tree gets the same ids whatever the working
directory and however its path is spelled (relative, absolute, through `..`). `root` picks another
base and `id_prefix` is prepended verbatim, for callers who need another scheme.

PDFs are read by pdfium (`pypdfium2`), which spaces words by the glyphs' positions as poppler's
`pdftotext` does (pypdf glues the words of TeX-made justified text together:
bench/results/pdf_readers.md). Their pages are joined by form feeds, where the server splits them
and records each chunk's `page`; headers and footers repeated on the pages are dropped."""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InvalidArgumentError, NotFoundError
from ._unchanged import FileSelection
from .types import Document

EXTENSIONS = (".md", ".txt", ".pdf", ".docx", ".pptx", ".html", ".htm")
# Reader metadata that changes without the content changing would defeat idempotent re-ingest.
_VOLATILE = {"creation_date", "last_modified_date", "last_accessed_date", "file_size"}


def _kinds(extensions: tuple[str, ...]) -> str:
    return ", ".join(dict.fromkeys(e.lstrip(".") for e in extensions if e != ".htm"))


@dataclass(frozen=True)
class FileScan:
    """What `scan` found under a path, before anything is read. `root`: the directory ids are
    relative to; `files`: the supported files, sorted; `skipped`: unsupported files counted by
    extension ("" = none); `hidden`: files under a hidden name (".git/...", ".env"), never read."""

    path: Path
    root: Path
    files: list[Path]
    skipped: dict[str, int] = field(default_factory=dict)
    hidden: int = 0

    def skipped_summary(self) -> str:
        """e.g. "skipped 3 files: .png 2, .zip 1; 12 hidden files ignored" ("" if none)."""
        parts = []
        if self.skipped:
            n = sum(self.skipped.values())
            kinds = ", ".join(
                f"{ext or '(no extension)'} {c}"
                for ext, c in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            parts.append(f"skipped {n} file{'s' if n != 1 else ''}: {kinds}")
        if self.hidden:
            parts.append(f"{self.hidden} hidden file{'s' if self.hidden != 1 else ''} ignored")
        return "; ".join(parts)

    def document_id(self, file: Path, id_prefix: str = "") -> str:
        return document_id(file, self.root, id_prefix)


def _absolute(p: Path) -> Path:
    # Lexical (no symlink resolution): a symlinked file inside the tree keeps its place in it.
    return Path(os.path.abspath(p))


def _relative(file: Path, root: Path) -> str | None:
    for f, r in ((_absolute(file), _absolute(root)), (file.resolve(), root.resolve())):
        rel = os.path.relpath(f, r)
        if rel != ".." and not rel.startswith(".." + os.sep) and not os.path.isabs(rel):
            return Path(rel).as_posix()
    return None


def document_id(file: Path, root: Path, id_prefix: str = "") -> str:
    """`id_prefix` + the file's path relative to `root`, with "/" separators. The working
    directory plays no part. Raises `InvalidArgumentError` (field "root") for a file outside `root`."""
    rel = _relative(Path(file), Path(root))
    if rel is None or rel == ".":
        raise InvalidArgumentError(f"{file} is not under the root {root}", field="root")
    return id_prefix + rel


def scan(path: str | Path, *, root: str | Path | None = None,
         extensions: tuple[str, ...] = EXTENSIONS) -> FileScan:
    """List what ingesting `path` would read, without reading it. `root` defaults to `path` for a
    directory and to its parent for a file (whose id is then its name). Raises `NotFoundError`
    (field "path") if `path` does not exist and `InvalidArgumentError` (field "root") if `path` is
    not under `root`; an empty `files` is the caller's to report."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"{p}: no such file or directory", field="path")
    base = Path(root) if root is not None else (p if p.is_dir() else p.parent)
    if root is not None:
        if not base.is_dir():
            raise InvalidArgumentError(f"{base}: not a directory", field="root")
        if _relative(p, base) is None:
            raise InvalidArgumentError(f"{p} is not under the root {base}", field="root")
    if p.is_file():
        candidates = [p]
        hidden = 0
    else:
        candidates, hidden = [], 0
        for f in p.rglob("*"):
            if not f.is_file():
                continue
            # hidden below `path` only: `../docs` or `~/.local/share/docs` themselves are fine
            if any(part.startswith(".") for part in f.relative_to(p).parts):
                hidden += 1
            else:
                candidates.append(f)
    files = sorted(f for f in candidates if f.suffix.lower() in extensions)
    skipped = Counter(f.suffix.lower() for f in candidates if f.suffix.lower() not in extensions)
    return FileScan(p, base, files, dict(skipped), hidden)


def find_files(path: str | Path, extensions: tuple[str, ...] = EXTENSIONS) -> list[Path]:
    """The supported files under `path` (see `scan`)."""
    return scan(path, extensions=extensions).files


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


def read_documents(found: FileScan, *, id_prefix: str = "", progress: bool = False) -> list[Document]:
    """Read `found.files` -> one Document per file (pages/slides joined), id = `id_prefix` + its
    path relative to `found.root` (also its "file_path" metadata). Files with no extractable text
    (empty, a scanned PDF) are left out. `progress`: the reader's per-file progress bar."""
    from llama_index.core import SimpleDirectoryReader

    files = found.files
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
        doc_id = found.document_id(f, id_prefix)
        md["file_path"] = doc_id  # the reader's is absolute: it would make the content hash depend on the location
        docs.append(Document(doc_id, "\n\n".join(texts), md))
    return docs


def load_documents(
    path: str | Path, *, root: str | Path | None = None, id_prefix: str = "", progress: bool = False
) -> list[Document]:
    """Every supported file under `path` -> one Document (see `scan` and `read_documents`)."""
    return read_documents(scan(path, root=root), id_prefix=id_prefix, progress=progress)


def nothing_to_ingest(found: FileScan) -> str:
    """The one-line reason a scan has nothing to ingest."""
    skipped = found.skipped_summary()
    return f"no supported files ({_kinds(EXTENSIONS)}) under {found.path}" + (f"; {skipped}" if skipped else "")


def no_text(found: FileScan) -> str:
    """The one-line reason none of a scan's files gave a document."""
    n = len(found.files)
    what = f"the supported file under {found.path} has" if n == 1 else \
        f"none of the {n} supported files under {found.path} has"
    return f"{what} no text (an empty file or a scanned PDF)" if n == 1 else f"{what} text (empty files or scanned PDFs)"


def scan_to_ingest(path: str | Path, *, root: str | Path | None = None) -> FileScan:
    """`scan` for `ingest_files`: `InvalidArgumentError` (field "path") when nothing under
    `path` is a supported file, rather than an empty scan."""
    found = scan(path, root=root)
    if not found.files:
        raise InvalidArgumentError(nothing_to_ingest(found), field="path")
    return found


def file_ids(found: FileScan, id_prefix: str = "") -> list[str]:
    """The document id of each of `found.files`, in step."""
    return [found.document_id(f, id_prefix) for f in found.files]


def read_selected(found: FileScan, sel: FileSelection, *, id_prefix: str = "",
                  progress: bool = False) -> list[Document]:
    """The files `sel` says to read (`_unchanged.select_files`) -> Documents carrying their
    files' fingerprints. `InvalidArgumentError` (field "path") when there was something to read,
    nothing was unchanged and no file had text."""
    docs = read_documents(replace(found, files=sel.to_read), id_prefix=id_prefix, progress=progress) \
        if sel.to_read else []
    if not docs and not sel.unchanged:
        raise InvalidArgumentError(no_text(found), field="path")
    return sel.with_fingerprints(docs)
