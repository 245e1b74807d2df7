"""What the UI shows, computed without Streamlit: citations linked to their sources, a source's page,
the memory panel, stage timings for the chart, uploads turned into documents, benchmark plots.
Pure functions over the SDK's result types, so they are tested without a browser."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitrag import Client, CollectionInfo, Document, IngestProgress, IngestResult, SearchDiagnostics
from bitrag._files import EXTENSIONS, load_documents
from bitrag.cli import _bytes as format_bytes

__all__ = [
    "BENCH_DIR_ENV", "TARGET_ENV", "UPLOAD_TYPES", "BenchPlot", "Memory", "anchor", "bench_dir",
    "bench_plots", "documents_from_uploads", "format_bytes", "gate_verdict", "ingest_uploads",
    "link_citations", "memory", "plain", "source_page", "stage_timings",
]

TARGET_ENV = "BITRAG_UI_TARGET"  # the server the UI talks to (`bitrag ui --target`)
BENCH_DIR_ENV = "BITRAG_UI_BENCH_DIR"  # where benchmark reports are (`bitrag ui --bench-dir`)
UPLOAD_TYPES = sorted({e.lstrip(".") for e in EXTENSIONS})
# Keys another reader may set on a chunk's metadata for its page; the first present wins.
PAGE_KEYS = ("page_label", "page")
_CITE = re.compile(r"\[(\d{1,3})\]")


def anchor(number: int) -> str:
    """The HTML id of source `number` in the page (citations link to it)."""
    return f"source-{number}"


def link_citations(text: str, numbers: Sequence[int]) -> str:
    """Markdown with each `[n]` naming one of `numbers` turned into a link to that source's
    anchor; other bracketed numbers (not a source) stay as they are."""
    known = set(numbers)

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]](#{anchor(n)})" if n in known else m.group(0)

    return _CITE.sub(repl, text)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: str) -> str:
    """Text shown as-is inside Markdown: whitespace collapsed, Markdown characters escaped."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def source_page(metadata: Mapping[str, Any]) -> str | None:
    """The page a chunk came from, when its reader recorded one (`page_label` or `page`)."""
    for key in PAGE_KEYS:
        value = metadata.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


@dataclass(frozen=True)
class Memory:
    """The collection panel: what the codes cost in RAM next to a float32 index of the same rows."""

    rows: int
    dimension: int
    codes_in_ram: int  # bytes of binary codes (Milvus)
    floats_on_disk: int  # bytes of the float32 file (deleted rows included until compaction)
    float32_index: int  # bytes a float32 index of the live rows would hold in RAM

    @property
    def ratio(self) -> float | None:
        """float32 index bytes per byte of codes (32 for 1-bit codes); None when empty."""
        return self.float32_index / self.codes_in_ram if self.codes_in_ram else None


def memory(info: CollectionInfo) -> Memory:
    return Memory(
        rows=info.rows, dimension=info.dimension, codes_in_ram=info.bytes_in_ram,
        floats_on_disk=info.bytes_on_disk, float32_index=info.rows * info.dimension * 4,
    )


def stage_timings(diag: SearchDiagnostics) -> list[dict[str, Any]]:
    """Rows for the per-stage bar chart, in pipeline order: stage, milliseconds, order."""
    return [
        {"stage": stage, "ms": us / 1000, "order": i} for i, (stage, us) in enumerate(diag.timings_us.items())
    ]


def gate_verdict(diag: SearchDiagnostics) -> str:
    """One line: the confidence against the threshold, and what the gate did about it."""
    if diag.mode != "AUTO":
        return f"confidence {diag.confidence:.3f} (mode {diag.mode}: no gate)"
    if not diag.calibrated and diag.path.startswith("FALLBACK"):
        return f"confidence {diag.confidence:.3f}; gate not calibrated yet: took the fallback"
    side = "≥" if diag.confidence >= diag.threshold else "<"
    action = "fallback taken" if diag.path.startswith("FALLBACK") else "answer kept"
    return f"confidence {diag.confidence:.3f} {side} threshold {diag.threshold:.3f}: {action}"


def documents_from_uploads(files: Sequence[tuple[str, bytes]]) -> list[Document]:
    """Uploaded files (name, content) -> Documents read by the SDK's file readers, with the file
    name as document id (so uploading the same file again replaces or skips it)."""
    names = [Path(name).name for name, _ in files]
    if len(set(names)) != len(names):
        raise ValueError("two uploaded files have the same name")
    with tempfile.TemporaryDirectory(prefix="bitrag-ui-") as tmp:
        root = Path(tmp).resolve()
        for name, (_, content) in zip(names, files):
            (root / name).write_bytes(content)
        docs = load_documents(root)  # ids: the names, relative to the upload directory
    return [Document(d.id, d.text, {**d.metadata, "file_name": d.id}) for d in docs]


def ingest_uploads(
    client: Client, collection: str, files: Sequence[tuple[str, bytes]],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[IngestResult, int]:
    """Read and ingest uploaded files one document per request, calling `on_progress(done, total)`
    after each; returns the summed result and the number of documents with text."""
    docs = documents_from_uploads(files)

    def step(p: IngestProgress) -> None:
        if on_progress:
            on_progress(p.items, p.items_total)

    if not docs:
        return IngestResult(), 0
    return client.ingest_documents(collection, docs, batch_size=1, on_progress=step), len(docs)


@dataclass(frozen=True)
class BenchPlot:
    path: Path
    title: str  # e.g. "quality scifact minilm-l6-384 lite pool4"


def bench_dir() -> Path:
    """`BITRAG_UI_BENCH_DIR`, else the repository's bench/results beside this package."""
    env = os.environ.get(BENCH_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "bench" / "results"


def bench_plots(directory: Path) -> list[BenchPlot]:
    """The recall/latency plots of the benchmark reports in `directory` (none if it is absent)."""
    if not directory.is_dir():
        return []
    return [
        BenchPlot(p, p.stem.removesuffix("_recall_latency").replace("_", " "))
        for p in sorted(directory.glob("*recall_latency*.png"))
    ]
