"""Read files into `Document`s with LlamaIndex's SimpleDirectoryReader (md, txt, pdf, docx, pptx,
html), one Document per file. Files are read where they live (the client); the server splits and
embeds, so every client gets the same chunking."""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def _scalar(v: object) -> bool:
    # Reader metadata is copied onto every chunk: keep what filters can use (the pptx reader
    # adds nested per-slide structures that can exceed the server's metadata size limit).
    return isinstance(v, (str, int, float, bool))


def load_documents(
    path: str | Path, *, progress: bool = False, files: Sequence[Path] | None = None
) -> list[Document]:
    """Every supported file under `path` (or only `files`, found under it) -> one Document
    (pages/slides joined), id = its path."""
    from llama_index.core import SimpleDirectoryReader

    files = list(files) if files is not None else find_files(path)
    if not files:
        return []
    html = _html_reader()
    reader = SimpleDirectoryReader(
        input_files=[str(f) for f in files], raise_on_error=True, file_extractor={".html": html, ".htm": html}
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
