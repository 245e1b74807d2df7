"""`bitrag` command line: client commands (collections, create, describe, drop, ingest, search,
ask, calibrate, compact, delete, documents) and, when the server package is installed, `bitrag serve`."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from . import __version__, _core
from ._client import Client
from .errors import BitragError, NotFoundError
from .types import (
    AskSummary,
    CalibrationInfo,
    CollectionInfo,
    DocumentInfo,
    GateConfig,
    IndexSpec,
    IngestProgress,
    SearchResult,
)

console = Console()
err_console = Console(stderr=True)


def _client(args: argparse.Namespace) -> Client:
    return Client(
        args.target, timeout=args.timeout, token=args.token or None, tls_ca=args.tls_ca or None,
        tls_client_cert=args.tls_cert or None, tls_client_key=args.tls_key or None,
        tls_server_name=args.tls_server_name,
    )


def _bytes(n: int) -> str:
    x = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if x < 1024 or unit == "TiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return str(n)


def _collections_table(cols: list[CollectionInfo]) -> Table:
    t = Table(title="collections")
    for h in ("name", "dim", "embedder", "index", "rows", "RAM (codes)", "disk (float32)", "gen"):
        t.add_column(h, justify="right" if h in ("dim", "rows", "gen") else "left")
    for c in cols:
        t.add_row(
            c.name, str(c.dimension), c.embedder, c.index.type, f"{c.rows:,}",
            _bytes(c.bytes_in_ram), _bytes(c.bytes_on_disk), str(c.generation),
        )
    return t


def cmd_collections(args: argparse.Namespace) -> int:
    with _client(args) as c:
        cols = c.list_collections()
    if args.json:
        print(json.dumps([asdict(x) for x in cols]))
    elif not cols:
        console.print(f"no collections on {args.target}: create one with `bitrag ingest PATH -c NAME` "
                      "or `bitrag create NAME`")
    else:
        console.print(_collections_table(cols))
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    build = {"nlist": args.nlist} if args.nlist else {}
    search = {"nprobe": args.nprobe} if args.nprobe else {}
    with _client(args) as c:
        info = c.create_collection(
            args.name, dimension=args.dimension, embedder=args.embedder,
            index=IndexSpec(args.index_type, build, search), default_oversample=args.oversample,
            description=args.description,
            gate=GateConfig(
                target_recall=args.target_recall, confidence_threshold=args.threshold,
                fallback=tuple(f.strip() for f in args.fallback.split(",") if f.strip()),
                fallback_collection=args.fallback_collection,
            ),
            consistency_level=args.consistency, partition_key=args.partition_key,
            num_partitions=args.num_partitions,
        )
    console.print(_collections_table([info]))
    return 0


def _when(unix_ms: int) -> str:
    if not unix_ms:
        return "never"
    return datetime.fromtimestamp(unix_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _describe_grid(c: CollectionInfo) -> Table:
    """One collection, section by section: what `collections` cannot fit in a row."""
    g = Table.grid(padding=(0, 2))
    g.add_column(style="bold")
    g.add_column()
    dead = f", {c.dead_rows:,} dead (reclaimed by `bitrag compact`)" if c.dead_rows else ""
    g.add_row("rows", f"{c.rows:,} live chunks{dead} · generation {c.generation} · created {_when(c.created_unix_ms)}"
              + (f" · {c.compactions} compactions" if c.compactions else ""))
    g.add_row("embedder", f"{c.embedder} · dimension {c.dimension}")
    idx = c.index.type or "backend default"
    params = ", ".join(f"{k}={v}" for k, v in {**c.index.build_params, **c.index.search_params}.items())
    parts = f"key {c.partition_key!r} x {c.num_partitions}" if c.partition_key else "none"
    g.add_row("index", f"{idx}{f' ({params})' if params else ''} · consistency {c.consistency_level or 'server default'}"
              f" · partitions {parts} · oversample {c.default_oversample}")
    ram = c.bytes_in_ram + c.bytes_tier
    tier = f" + {c.tier} tier codes {_bytes(c.bytes_tier)}" if c.bytes_tier else f" (middle tier: {c.tier or 'sign'})"
    g.add_row("memory", f"RAM {_bytes(ram)}: 1-bit codes {_bytes(c.bytes_in_ram)}{tier} · disk: float32 "
              f"{_bytes(c.bytes_on_disk)}" + (f", row files {_bytes(c.row_file_bytes)}" if c.row_file_bytes else "")
              + (f" · {c.bytes_on_disk / ram:.0f}x less in RAM than float32" if ram else ""))
    gate, cal = c.gate, c.calibration
    if gate.confidence_threshold:
        threshold = f"threshold {gate.confidence_threshold:.3f} (fixed)"
    elif cal.calibrated:
        threshold = f"threshold {cal.threshold:.3f} (calibrated for target recall {cal.target_recall:.3f})"
    else:
        threshold = f"threshold {cal.threshold:.3f} (uncalibrated)"
    chain = " -> ".join(gate.fallback) or "server default"
    extra = f" · fallback collection {gate.fallback_collection}" if gate.fallback_collection else ""
    if gate.legacy_store.source:
        extra += f" · legacy store {gate.legacy_store.source} (shadow {gate.legacy_store.shadow_rate:g})"
    g.add_row("gate", f"target recall {gate.target_recall or cal.target_recall:.3f} · {threshold} · fallback {chain}{extra}")
    if cal.calibrated:
        g.add_row("calibration", f"{cal.samples} {cal.source} samples at {cal.rows_at_calibration:,} rows, "
                  f"{_when(cal.calibrated_unix_ms)} (`bitrag calibrate {c.name}` shows the reliability table)")
    else:
        g.add_row("calibration", "not yet: the server calibrates in the background once the collection is large "
                  f"enough (200 rows by default); now: `bitrag calibrate {c.name}`")
    if c.plan is not None and c.plan.pool:
        pl = c.plan
        g.add_row("plan", f"route {pl.route} · pool {pl.pool} (candidate recall {pl.candidate_recall:.3f}) · nprobe "
                  f"{pl.nprobe or 'index default'} · binary {pl.binary_us / 1000:.2f} ms, exact {pl.exact_us / 1000:.2f} ms"
                  f" · fallback share {pl.fallback_share:.2f}")
    if c.description:
        g.add_row("description", c.description)
    return g


def cmd_describe(args: argparse.Namespace) -> int:
    with _client(args) as c:
        info = c.describe_collection(args.name)
    if args.json:
        print(json.dumps(asdict(info)))
    else:
        console.print(f"[bold]collection {info.name}[/bold]")
        console.print(_describe_grid(info))
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    if not args.yes:
        err_console.print(f"refusing to drop {args.name!r} without --yes")
        return 2
    with _client(args) as c:
        c.drop_collection(args.name)
    console.print(f"dropped {args.name}")
    return 0


def _progress_bar(total_bytes: int, quiet: bool):  # -> (tqdm bar, on_progress callback)
    """A bar in text bytes answered by the server (rate and ETA), with the chunks embedded so far
    and their rate beside it."""
    from tqdm import tqdm

    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="embed", disable=quiet,
               file=sys.stderr)

    def on_progress(p: IngestProgress) -> None:
        bar.set_postfix_str(f"{p.chunks:,} chunks, {p.chunks_per_s:.1f} chunks/s, {p.items}/{p.items_total} files",
                            refresh=False)
        bar.update(p.bytes_done - bar.n)

    return bar, on_progress


def cmd_ingest(args: argparse.Namespace) -> int:
    from ._files import file_ids, no_text, nothing_to_ingest, read_documents, scan
    from ._unchanged import select_files

    found = scan(args.path, root=args.root)  # before anything exists on the server
    skipped = found.skipped_summary()
    if not found.files:
        err_console.print(f"[red]error[/red]: {nothing_to_ingest(found)}", soft_wrap=True)
        return 1
    if skipped:
        err_console.print(skipped, soft_wrap=True)
    with _client(args) as c:
        try:
            generation = c.describe_collection(args.collection).generation
            exists = True
        except NotFoundError:
            if not args.create:
                raise
            generation, exists = 0, False
        sel = select_files(found.files, file_ids(found, args.id_prefix),
                           None if args.force or not exists else lambda ids: c._held_metadata(args.collection, ids))
        if sel.unchanged:
            err_console.print(f"{len(sel.unchanged)} unchanged, skipped (size + mtime or content hash as held)")
        if sel.to_read:
            n = len(sel.to_read)
            err_console.print(f"reading {n} file{'s' if n != 1 else ''} under {args.path} ...")
        docs = read_documents(replace(found, files=sel.to_read), id_prefix=args.id_prefix,
                              progress=not args.quiet) if sel.to_read else []
        if not docs and not sel.unchanged:
            err_console.print(f"[red]error[/red]: {no_text(found)}", soft_wrap=True)
            return 1
        docs = sel.with_fingerprints(docs)
        if not exists:
            c.create_collection(args.collection, embedder=args.embedder)
            err_console.print(f"created collection {args.collection!r}")
        bar, on_progress = _progress_bar(sum(len(d.text.encode()) for d in docs), args.quiet)
        with bar:
            res = c.ingest_documents(
                args.collection, docs, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap,
                batch_size=args.batch_size, batch_bytes=args.batch_kib * 1024, on_progress=on_progress,
                flush=args.flush,
            )
    res.files_skipped = len(sel.unchanged)
    res.generation = res.generation or generation  # nothing sent: the collection's as it was
    if args.json:
        print(json.dumps(asdict(res)))
    else:
        skipped = f"{res.files_skipped} unchanged, skipped; " if res.files_skipped else ""
        console.print(
            f"{len(docs) + res.files_skipped} files: {skipped}{res.documents_added} added, {res.documents_replaced} replaced, "
            f"{res.documents_unchanged} unchanged; {res.chunks_written} chunks written, "
            f"{res.chunks_deleted} old chunks removed (generation {res.generation})"
        )
    return 0


DOC_WIDTH = 48  # characters of a chunk id shown; longer ids keep their end (the file name and chunk)
HAMMING_HELP = ("hamming: bits that differ between the query's and the chunk's 1-bit codes (the first, "
                "coarse stage: lower = closer); score: the exact float32 cosine the hits are ranked by")


def _tail(text: str, width: int = DOC_WIDTH) -> str:
    """`…/deep/dir/file.md#3` rather than `/home/user/very/lo…`: the end of a path names it."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _doc_column(t: Table, shown: list[str]) -> None:
    """Never wrapped or cut by rich (which would keep the start): `_tail` already fits it."""
    t.add_column("document", no_wrap=True, min_width=max((len(x) for x in shown), default=8))


def _where(chunk_id: str, metadata: dict) -> str:
    """The document column: the chunk's id, and its page where the reader recorded one (PDFs)."""
    page = metadata.get("page")
    return f"{chunk_id} p.{page}" if isinstance(page, int) and not isinstance(page, bool) else chunk_id


def _print_search(res: SearchResult, query: str) -> None:
    t = Table(title=f"{query!r}", show_lines=False, caption=HAMMING_HELP, caption_justify="left")
    t.add_column("#", justify="right")
    t.add_column("score", justify="right")
    t.add_column("hamming", justify="right")
    docs = [_tail(_where(h.chunk_id, h.metadata)) for h in res.hits]
    _doc_column(t, docs)
    t.add_column("text", ratio=1)
    for i, h in enumerate(res.hits, 1):
        snippet = " ".join(h.text.split())
        t.add_row(str(i), f"{h.score:.4f}", str(h.hamming_distance), docs[i - 1],
                  snippet[:160] + ("…" if len(snippet) > 160 else ""))
    console.print(t)
    d = res.diagnostics
    stages = "  ".join(f"{k} {v / 1000:.2f}ms" for k, v in d.timings_us.items())
    gate = f"confidence {d.confidence:.3f} (threshold {d.threshold:.3f}{'' if d.calibrated else ', uncalibrated'})"
    console.print(
        f"[dim]{d.mode} → {d.path} · {gate} · pools {d.pools} · {d.candidates_examined} float rows "
        f"(oversample {d.oversample}) · server {d.total_us / 1000:.2f} ms · {stages}[/dim]"
    )


def cmd_search(args: argparse.Namespace) -> int:
    with _client(args) as c:
        res = c.search(
            args.collection, args.query, top_k=args.k, filter=args.filter, oversample=args.oversample,
            mode=args.mode, confidence_threshold=args.threshold,
        )
    if args.json:
        print(json.dumps(asdict(res)))
    else:
        _print_search(res, args.query)
    return 0


def _print_sources(a: AskSummary) -> None:
    t = Table(title="sources", show_lines=False)
    t.add_column("#", justify="right")
    t.add_column("score", justify="right")
    docs = [_tail(_where(s.chunk_id, s.metadata) + ("" if s.number in a.cited else " (not cited)")) for s in a.sources]
    _doc_column(t, docs)
    t.add_column("snippet", ratio=1)
    for s, doc in zip(a.sources, docs, strict=True):
        t.add_row(f"[{s.number}]", f"{s.score:.4f}", doc, s.snippet[:160])
    console.print(t)
    tm = a.timings
    label = a.model if a.generated else f"{a.model} (not generated)"
    usage = f" · tokens {a.usage.prompt_tokens}+{a.usage.completion_tokens}" if a.usage.total_tokens else ""
    console.print(
        f"[dim]{label} · cache {a.cache} · retrieval {tm.retrieval_us / 1000:.1f} ms · first token "
        f"{tm.first_token_us / 1000:.1f} ms · total {tm.total_us / 1000:.1f} ms{usage}[/dim]"
    )


def cmd_ask(args: argparse.Namespace) -> int:
    summary: AskSummary | None = None
    with _client(args) as c:
        chunks = c.ask(
            args.collection, args.question, top_k=args.k, filter=args.filter, mode=args.mode,
            model=args.model, temperature=args.temperature, max_tokens=args.max_tokens, cache=args.cache,
        )
        try:
            for chunk in chunks:
                if chunk.summary is not None:
                    summary = chunk.summary
                elif not args.json:
                    print(chunk.text, end="", flush=True)
        except BitragError:
            if summary is not None and not args.json:  # generation failed: still show the sources
                print()
                _print_sources(summary)
            raise
    assert summary is not None, "the answer stream ended without its summary"
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print()
        _print_sources(summary)
    return 0


def _print_calibration(name: str, cal: CalibrationInfo) -> None:
    t = Table(title=f"{name}: gate calibration ({cal.samples} {cal.source} samples, out-of-fold)")
    for h in ("predicted confidence", "queries", "mean predicted", "measured exact top-k"):
        t.add_column(h, justify="right")
    for b in cal.reliability:
        t.add_row(f"{b.lo:.3f}–{b.hi:.3f}", str(b.count), f"{b.predicted:.3f}", f"{b.measured:.3f}")
    console.print(t)
    console.print(f"threshold {cal.threshold:.3f} for target recall {cal.target_recall:.3f}"
                  + (f" · {cal.duration_us / 1e6:.1f} s" if cal.duration_us else ""))


def cmd_calibrate(args: argparse.Namespace) -> int:
    with _client(args) as c:
        cal = c.calibrate(args.collection, samples=args.samples)
    if args.json:
        print(json.dumps(asdict(cal)))
    else:
        _print_calibration(args.collection, cal)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    with _client(args) as c:
        res = c.compact(args.collection, force=args.force)
    if args.json:
        print(json.dumps(asdict(res)))
    elif not res.compacted:
        console.print(f"{args.collection}: nothing to reclaim ({res.rows_after:,} live rows, {_bytes(res.bytes_after)})")
    else:
        console.print(
            f"{args.collection}: {res.rows_before:,} -> {res.rows_after:,} rows, "
            f"{_bytes(res.bytes_before)} -> {_bytes(res.bytes_after)} on disk "
            f"({_bytes(res.bytes_before - res.bytes_after)} reclaimed) in {res.duration_us / 1e6:.2f} s"
        )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with _client(args) as c:
        res = c.delete(args.collection, args.document_ids)
    console.print(f"deleted {res.documents_deleted} documents, {res.chunks_deleted} chunks")
    if res.missing:
        err_console.print(f"not in {args.collection!r} (nothing deleted): {', '.join(res.missing)}")
        return 1
    return 0


def _keep_end(text: str, width: int) -> str:
    """`text` cut to `width` characters from the left: a long path keeps its file name."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _documents_table(name: str, docs: list[DocumentInfo], id_width: int) -> Table:
    import datetime as dt

    t = Table(title=f"{name}: documents")
    for h in ("id", "chunks", "ingested", "content hash"):
        t.add_column(h, justify="right" if h == "chunks" else "left", no_wrap=True)
    for d in docs:
        when = (dt.datetime.fromtimestamp(d.ingested_unix_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
                if d.ingested_unix_ms else "-")
        t.add_row(_keep_end(d.id, id_width), str(d.chunks), when, d.content_hash[:12])
    return t


def cmd_documents(args: argparse.Namespace) -> int:
    with _client(args) as c:
        if args.all:
            docs = list(c.iter_documents(args.collection, page_size=args.page_size, prefix=args.prefix))
            token = ""
        else:
            page = c.list_documents(args.collection, page_size=args.page_size, page_token=args.page_token,
                                    prefix=args.prefix)
            docs, token = page.documents, page.next_page_token
    if args.json:
        print(json.dumps({"documents": [asdict(d) for d in docs], "next_page_token": token}))
        return 0
    if not docs:
        console.print(f"{args.collection}: no documents" + (f" with prefix {args.prefix!r}" if args.prefix else ""))
        return 0
    id_width = max(20, min(max(len(d.id) for d in docs), console.width - 50))
    console.print(_documents_table(args.collection, docs, id_width))
    if token:
        more = f" --prefix {args.prefix!r}" if args.prefix else ""
        console.print(f"[dim]more: bitrag documents {args.collection}{more} --page-size {args.page_size} "
                      f"--page-token {token}  (or --all)[/dim]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bitrag",
        description="bitrag: retrieval with 1-bit codes in RAM and float32 rows on disk.",
    )
    p.add_argument("--version", action="version", version=f"bitrag {__version__}")
    p.add_argument("--target", default=os.environ.get("BITRAG_TARGET", "127.0.0.1:50051"),
                   help="server HOST:PORT (env BITRAG_TARGET; default %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per call (default %(default)s)")
    p.add_argument("--token", default=os.environ.get("BITRAG_TOKEN", ""),
                   help="bearer token sent as `authorization: Bearer TOKEN` (env BITRAG_TOKEN)")
    p.add_argument("--tls-ca", default=os.environ.get("BITRAG_TLS_CA", ""),
                   help="CA certificate (PEM) that signed the server's: connect with TLS (env BITRAG_TLS_CA)")
    p.add_argument("--tls-cert", default=os.environ.get("BITRAG_TLS_CLIENT_CERT", ""),
                   help="client certificate (PEM) for mTLS (env BITRAG_TLS_CLIENT_CERT)")
    p.add_argument("--tls-key", default=os.environ.get("BITRAG_TLS_CLIENT_KEY", ""),
                   help="client key (PEM) for mTLS (env BITRAG_TLS_CLIENT_KEY)")
    p.add_argument("--tls-server-name", default="", help="name in the server's certificate, if not the target's host")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    sp = add("collections", cmd_collections, "list collections with rows and bytes in RAM / on disk")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = add("create", cmd_create, "create a collection")
    sp.add_argument("name")
    sp.add_argument("--dimension", type=int, default=0, help="vector dimension (0 = the embedder's)")
    sp.add_argument("--embedder", default="", help='"local", "openai[:model]", or "none" (raw vectors)')
    sp.add_argument("--index-type", default="", help="BIN_FLAT or BIN_IVF_FLAT (default: backend's)")
    sp.add_argument("--nlist", type=int, default=0, help="BIN_IVF_FLAT clusters")
    sp.add_argument("--nprobe", type=int, default=0, help="BIN_IVF_FLAT clusters searched")
    sp.add_argument("--oversample", type=int, default=0, help="default candidates per result (4)")
    sp.add_argument("--description", default="")
    sp.add_argument("--target-recall", type=float, default=0.0, help="gate target (default 0.99)")
    sp.add_argument("--threshold", type=float, default=0.0,
                    help="fixed gate threshold in [0, 1] (default: derived from the target recall)")
    sp.add_argument("--fallback", default="", help="fallback chain, e.g. widen,exact (default)")
    sp.add_argument("--fallback-collection", default="", help="float32 Milvus collection for 'collection'")
    sp.add_argument("--consistency", default="", choices=["", "Strong", "Bounded", "Session", "Eventually"],
                    help="Milvus consistency level of searches (default: the server's, Session)")
    sp.add_argument("--partition-key", default="",
                    help="metadata key every chunk carries (e.g. tenant): one Milvus partition key per value")
    sp.add_argument("--num-partitions", type=int, default=0, help="with --partition-key (default 64)")

    sp = add("describe", cmd_describe,
             "show one collection: rows, embedder, index, memory, the gate (threshold, fallback) and its calibration")
    sp.add_argument("name")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = add("drop", cmd_drop, "delete a collection and its data")
    sp.add_argument("name")
    sp.add_argument("--yes", action="store_true", help="really drop")

    sp = add("ingest", cmd_ingest, "ingest md/txt/pdf/docx/pptx/html files (a file or a directory)")
    sp.description = (
        "Read md/txt/pdf/docx/pptx/html files (a file or a directory, recursively; hidden files and "
        "other extensions are skipped and counted) and ingest one document per file. Document ids are "
        "the files' paths relative to the ingested directory (a file given directly: its name), with "
        "'/' separators, whatever the working directory: ingesting the same tree again from anywhere "
        "is a no-op. --root DIR makes them relative to DIR instead; --id-prefix is put in front. The "
        "path is checked before the collection is created. Progress is in text bytes embedded by the "
        "server (rate, ETA) and chunks."
    )
    sp.add_argument("path")
    sp.add_argument("-c", "--collection", required=True)
    sp.add_argument("--root", default=None,
                    help="directory the ids are relative to (default: PATH itself, or a file's own directory)")
    sp.add_argument("--id-prefix", default="", help="text put in front of every id, e.g. 'manuals/' (default none)")
    sp.add_argument("--chunk-size", type=int, default=0, help="tokens per chunk (server default 512)")
    sp.add_argument("--chunk-overlap", type=int, default=0, help="token overlap (server default 64)")
    sp.add_argument("--batch-size", type=int, default=16, help="most documents per request (default %(default)s)")
    sp.add_argument("--batch-kib", type=int, default=_core.DEFAULT_BATCH_TEXT_BYTES // 1024,
                    help="most KiB of text per request; a larger file goes alone (default %(default)s)")
    sp.add_argument("--embedder", default="", help="embedder if the collection is created")
    sp.add_argument("--no-create", dest="create", action="store_false",
                    help="fail if the collection does not exist (default: create it)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    sp.add_argument("--force", action="store_true",
                    help="read every file (default: skip files whose size + mtime, or content hash, are "
                         "those the collection holds for their id)")
    sp.add_argument("--flush", action="store_true",
                    help="seal Milvus segments at the end so a Milvus server indexes them now (bulk loads)")
    sp.add_argument("--json", action="store_true", help="print the result as JSON")

    sp = add("search", cmd_search, "search a collection by text; the table's " + HAMMING_HELP)
    sp.add_argument("query")
    sp.add_argument("-c", "--collection", required=True)
    sp.add_argument("-k", type=int, default=5, help="results (default %(default)s)")
    sp.add_argument("--filter", default="", help='metadata filter, e.g. \'file_type == "text/markdown"\'')
    sp.add_argument("--oversample", type=int, default=0, help="candidates per result (0 = collection default)")
    sp.add_argument("--mode", default="AUTO", type=str.upper, choices=["AUTO", "RESCORED", "BINARY_ONLY", "EXACT"],
                    help="AUTO: gated with full-precision fallback (default)")
    sp.add_argument("--threshold", type=float, default=None, help="gate threshold for this search (AUTO)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")

    sp = add("ask", cmd_ask, "ask a question: streams an answer citing its sources, then lists them")
    sp.add_argument("question")
    sp.add_argument("-c", "--collection", required=True)
    sp.add_argument("-k", type=int, default=0, help="sources (0 = server default, 5)")
    sp.add_argument("--filter", default="", help="metadata filter on the sources")
    sp.add_argument("--mode", default="AUTO", type=str.upper, choices=["AUTO", "RESCORED", "BINARY_ONLY", "EXACT"],
                    help="retrieval mode (default AUTO)")
    sp.add_argument("--model", default="", help="chat model (default: the server's)")
    sp.add_argument("--temperature", type=float, default=None, help="sampling temperature 0..2")
    sp.add_argument("--max-tokens", type=int, default=0, help="answer length limit (0 = server default)")
    sp.add_argument("--no-cache", dest="cache", action="store_false", help="bypass the answer cache")
    sp.add_argument("--json", action="store_true", help="print the final summary as one JSON object")

    sp = add("calibrate", cmd_calibrate, "fit a collection's confidence gate now and print its reliability table")
    sp.add_argument("collection")
    sp.add_argument("--samples", type=int, default=0, help="pseudo-queries (server default 300)")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = add("compact", cmd_compact,
             "reclaim the disk space of deleted and replaced rows (searches go on; writes wait)")
    sp.add_argument("collection")
    sp.add_argument("--force", action="store_true", help="compact even when no row is dead")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = add("delete", cmd_delete,
             "delete documents (all their chunks) by id; names the ids the collection does not hold "
             "and exits 1 if there are any")
    sp.add_argument("document_ids", nargs="+")
    sp.add_argument("-c", "--collection", required=True)

    sp = add("documents", cmd_documents,
             "list a collection's documents in id order (id, chunks, ingest time, content hash), a page at a time")
    sp.add_argument("collection")
    sp.add_argument("--page-size", type=int, default=50, help="documents per page, 1..1000 (default %(default)s)")
    sp.add_argument("--page-token", default="", help="continue after a previous page (the token it printed)")
    sp.add_argument("--prefix", default="", help="only ids starting with this")
    sp.add_argument("--all", action="store_true", help="every page, one table")
    sp.add_argument("--json", action="store_true",
                    help="print JSON: documents (with their metadata) and next_page_token")

    try:
        from bitrag_server.cli import add_serve_parser
    except ImportError:  # SDK-only install
        pass
    else:
        add_serve_parser(sub)
        from bitrag_server.backup import add_backup_parsers

        add_backup_parsers(sub)
    try:
        from bitrag_server.ui.launch import add_ui_parser
    except ImportError:  # SDK-only install
        pass
    else:
        add_ui_parser(sub)
    try:
        from bitrag_server.bench.cli import add_bench_parser
    except ImportError:  # SDK-only install
        pass
    else:
        add_bench_parser(sub)
    try:
        from bitrag_server.migrate.cli import add_migrate_parser
    except ImportError:  # SDK-only install
        pass
    else:
        add_migrate_parser(sub)
    return p


def _listens(target: str) -> bool:
    """Whether anything accepts connections at TARGET: tells "no server there" (connection
    refused, unknown host) from an UNAVAILABLE the server itself sent (its Milvus is down)."""
    if target.startswith("unix:"):
        return os.path.exists(target.removeprefix("unix:").removeprefix("//"))
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        return True  # a name resolver's target (dns:///...): leave the server's message
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=3).close()
    except OSError:
        return False
    return True


def _aliases(argv: list[str]) -> list[str]:
    try:
        from bitrag_server.migrate.cli import migrate_argv
    except ImportError:
        return argv
    return migrate_argv(argv)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_aliases(sys.argv[1:] if argv is None else list(argv)))
    try:
        return int(args.func(args) or 0)
    except BitragError as exc:
        # only about --target: a bench calls the server it started (and has stopped by now), so
        # its errors are the server's own
        ours = exc.target in ("", args.target)
        if exc.code == grpc.StatusCode.UNAVAILABLE and ours and not _listens(args.target):
            err_console.print(f"[red]error[/red]: no server at {args.target}: start `bitrag serve` or set BITRAG_TARGET",
                              soft_wrap=True)
            return 1
        retry = f" (retry after {exc.retry_after:g} s)" if exc.retry_after is not None else ""
        err_console.print(f"[red]error[/red] ({exc.code.name}): {exc.message}{retry}")
        return 1
    except FileNotFoundError as exc:
        err_console.print(f"[red]error[/red]: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
