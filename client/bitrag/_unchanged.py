"""Skip files the collection already holds unchanged, before they are parsed.

Reading a PDF or a DOCX costs far more than the server's own no-op for an unchanged document, so
`ingest_files` / `bitrag ingest` decide per file first. Each file document carries its fingerprint
as metadata (`file_size`, `file_mtime_ns`, `file_sha256` of the file's bytes); before reading, the
client asks the server (ListDocuments, by the ids about to be read) for the fingerprints it holds:

  size and mtime equal          unchanged: not even hashed (as rsync and make judge a file)
  size equal, mtime not         the bytes are hashed: same SHA-256 -> unchanged (a touched file)
  otherwise, or not held        read, parsed and sent

`force` reads every file (the server still skips documents whose content is unchanged).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .types import Document

FINGERPRINT_KEYS = ("file_size", "file_mtime_ns", "file_sha256")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str

    def metadata(self) -> dict[str, Any]:
        # mtime as a string: metadata numbers travel as doubles, exact only to 2**53 (ns since 1970 are ~2**60)
        return {"file_size": self.size, "file_mtime_ns": str(self.mtime_ns), "file_sha256": self.sha256}


def fingerprint(path: Path) -> Fingerprint:
    """Size and mtime (stat'ed before the bytes are read: a write meanwhile shows next time) and
    the SHA-256 of the bytes."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return Fingerprint(st.st_size, st.st_mtime_ns, h.hexdigest())


def _stored(md: Mapping[str, Any]) -> tuple[int, str, str] | None:
    try:
        return int(md["file_size"]), str(md["file_mtime_ns"]), str(md["file_sha256"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class FileSelection:
    """Which files to read, with the fingerprint each document will carry, and which are skipped."""

    to_read: list[Path] = field(default_factory=list)
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)  # document id -> its file's
    unchanged: list[str] = field(default_factory=list)  # document ids skipped

    def with_fingerprints(self, docs: Sequence[Document]) -> list[Document]:
        """`docs` (read from `to_read`) with their files' fingerprints in their metadata."""
        return [replace(d, metadata={**d.metadata, **self.fingerprints[d.id].metadata()})
                if d.id in self.fingerprints else d for d in docs]


def select_files(
    files: Sequence[Path], ids: Sequence[str], held: Callable[[list[str]], Mapping[str, Mapping[str, Any]]] | None,
) -> FileSelection:
    """Split `files` (document ids `ids`, in step) into those to read and those unchanged.
    `held(ids)`: document id -> the metadata the collection holds, for those it holds (None = force:
    read every file)."""
    stored = dict(held(list(ids))) if held is not None and files else {}
    sel = FileSelection()
    for path, doc_id in zip(files, ids, strict=True):
        old = _stored(stored.get(doc_id) or {})
        if old is not None:
            st = path.stat()
            if (st.st_size, str(st.st_mtime_ns)) == old[:2]:
                sel.unchanged.append(doc_id)
                continue
        fp = fingerprint(path)
        if old is not None and (fp.size, fp.sha256) == (old[0], old[2]):
            sel.unchanged.append(doc_id)
            continue
        sel.to_read.append(path)
        sel.fingerprints[doc_id] = fp
    return sel
