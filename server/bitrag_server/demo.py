"""`make demo`: start the server on the embedded default (Milvus Lite file, local embedder), ingest
the project's own docs/, run three searches through the SDK, print results with timings, ask a
question twice (streamed answer with citations; the second comes from the Redis answer cache when
Redis runs at 127.0.0.1:6379), stop. Without GROQ_API_KEY the answer is extractive (labelled as not
generated), so the demo runs offline."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bitrag import Client
from bitrag._files import load_documents

from .launch import ServerProcess

QUESTION = "Why does bitrag keep float32 vectors on disk when the binary codes are in RAM?"

QUERIES = (
    "How much memory do binary codes save compared to float32?",
    "What happens when the server receives SIGTERM?",
    "How are candidates rescored?",
)
CHUNK_SIZE, CHUNK_OVERLAP = 240, 32  # MiniLM's own tokens (it reads 254); Markdown is split by section first (ingest.py)
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


def main() -> int:
    console = Console()
    root = Path(__file__).resolve().parents[2]
    data_dir = root / ".demo-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    console.rule("bitrag demo: Milvus Lite + local all-MiniLM-L6-v2 embedder")
    t = time.perf_counter()
    with ServerProcess(data_dir) as srv:
        console.print(f"server up on {srv.target} in {time.perf_counter() - t:.1f} s (data in {data_dir})")
        with Client(srv.target, timeout=600) as c:
            c.create_collection("docs", description="the bitrag project's own docs/")
            docs = load_documents(DOCS_DIR)
            t = time.perf_counter()
            res = c.ingest_documents("docs", docs, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
            console.print(
                f"ingested {len(docs)} files -> {res.chunks_written} chunks in {time.perf_counter() - t:.1f} s"
            )
            again = c.ingest_documents("docs", docs, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
            console.print(f"re-ingest of the same files: {again.documents_unchanged} unchanged, "
                          f"{again.chunks_written} chunks written (idempotent)")
            info = c.describe_collection("docs")
            console.print(f"collection 'docs': {info.rows} chunks, {info.bytes_in_ram:,} B of codes in RAM, "
                          f"{info.bytes_on_disk:,} B float32 on disk ({info.bytes_on_disk / max(1, info.bytes_in_ram):.0f}x)")
            for q in QUERIES:
                t = time.perf_counter()
                r = c.search("docs", q, top_k=3)
                rtt_ms = (time.perf_counter() - t) * 1000
                table = Table(title=q, title_justify="left")
                for col in ("score", "chunk", "text"):
                    table.add_column(col)
                for h in r.hits:
                    text = " ".join(h.text.split())
                    table.add_row(f"{h.score:.3f}", h.chunk_id, text[:110] + ("…" if len(text) > 110 else ""))
                console.print(table)
                d = r.diagnostics
                stages = ", ".join(f"{s} {us / 1000:.2f} ms" for s, us in d.timings_us.items())
                console.print(f"  [dim]{d.mode} -> {d.path} (confidence {d.confidence:.2f}): "
                              f"{d.candidates_examined} float rows; round trip {rtt_ms:.1f} ms; "
                              f"server {d.total_us / 1000:.2f} ms ({stages})[/dim]")
            for attempt in ("first ask", "same question again"):
                console.rule(f"ask ({attempt}): {QUESTION}")
                t = time.perf_counter()
                summary = None
                for chunk in c.ask("docs", QUESTION, top_k=3):
                    if chunk.summary is None:
                        console.print(chunk.text, end="", markup=False, highlight=False, soft_wrap=True)
                    else:
                        summary = chunk.summary
                rtt_ms = (time.perf_counter() - t) * 1000
                assert summary is not None
                console.print()
                for src in summary.sources:
                    console.print(f"  [{src.number}] {src.chunk_id} (score {src.score:.3f})", markup=False)
                how = summary.model if summary.generated else f"{summary.model}, not generated"
                console.print(f"  [dim]{how} · cache {summary.cache} · retrieval "
                              f"{summary.timings.retrieval_us / 1000:.1f} ms · round trip {rtt_ms:.1f} ms[/dim]")
        code = srv.stop()
    console.print(f"server stopped (exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
