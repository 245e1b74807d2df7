"""`bitrag migrate ...`: import, shadow, link, cutover (docs/migration.md). Registered on the
`bitrag` CLI by `add_migrate_parser`; `bitrag migrate SOURCE -c X` is `bitrag migrate import SOURCE
-c X` (see `migrate_argv`). Heavy imports happen when a command runs."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from .sources import KINDS, METRICS, FieldMap

COMMANDS = ("import", "shadow", "link", "cutover")
SOURCE_HELP = ("the legacy store: " + ", ".join(f"{k}:..." for k in KINDS) + " — milvus:http://HOST:19530 or "
               "milvus:FILE.db, chroma:DIR or chroma:http://HOST:8000, qdrant:DIR or qdrant:http://HOST:6333, "
               "llamaindex:PERSIST_DIR, files:VECTORS.npy (+ a .jsonl/.parquet sidecar)")


def migrate_argv(argv: list[str]) -> list[str]:
    """`migrate SOURCE ...` -> `migrate import SOURCE ...` (SOURCE is KIND:LOCATION)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "migrate":
            rest = argv[i + 1 :]
            if rest and not rest[0].startswith("-") and rest[0] not in COMMANDS:
                return [*argv[: i + 1], "import", *rest]
            return argv
        if not a.startswith("-"):
            return argv  # another command
        i += 2 if a in ("--target", "--timeout") else 1  # the global options that take a value
    return argv


def _source_args(p: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        p.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    g = p.add_argument_group("the legacy store's layout")
    g.add_argument("--from-collection", default="", help="its collection (Milvus, Chroma, Qdrant; LlamaIndex: the "
                   "vector store namespace); default: the only one")
    g.add_argument("--vector-field", default="", help="FLOAT_VECTOR field / Qdrant named vector (default: the only one)")
    g.add_argument("--text-field", default="", help="field holding the chunk text (default: text, page_content, ...)")
    g.add_argument("--document-id-field", default="",
                   help="field holding the document id; chunks of a document are then imported together "
                   "(default: none, every chunk is its own document; LlamaIndex: ref_doc_id)")
    g.add_argument("--id-field", default="", help="field holding the chunk id (default: the primary key / point id)")
    g.add_argument("--metric", default="", choices=["", *METRICS],
                   help="the store's metric where it has none on record (files; default cosine)")
    g.add_argument("--sidecar", default="", help="files: the JSONL/Parquet file of ids, text, metadata")


def _fields(a: argparse.Namespace) -> FieldMap:
    return FieldMap(a.vector_field, a.text_field, a.document_id_field, a.id_field)


def add_migrate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate", help="move an existing float32 RAG store into bitrag: import, shadow, link, cutover",
        description="Migrate from a float32 vector store without re-embedding (docs/migration.md). "
        "`bitrag migrate SOURCE -c COLLECTION` is `bitrag migrate import SOURCE -c COLLECTION`.",
    )
    ms = p.add_subparsers(dest="migrate_command", metavar="{import,shadow,link,cutover}", required=True)

    i = ms.add_parser("import", help="stream vectors, ids, text and metadata into a collection (resumable)",
                      description="Stream float32 vectors with their ids, text and metadata from SOURCE into a "
                      "bitrag collection (created if missing), checkpointing every batch: after a crash or kill, "
                      "run the same command again. Ends with a verification: counts, a sample of vectors "
                      "bit-identical to the source, metadata equal. Exit code 1 when verification fails.")
    _source_args(i)
    i.add_argument("-c", "--collection", required=True, help="the bitrag collection")
    i.add_argument("--batch-size", type=int, default=1000, help="rows per source batch and checkpoint (default %(default)s)")
    i.add_argument("--normalize", action="store_true",
                   help="store v/|v| for vectors that are not unit length (refused otherwise: see docs/migration.md)")
    i.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (default ./.bitrag-migrate/COLLECTION.json)")
    i.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and stream everything again")
    i.add_argument("--embedder", default="none",
                   help="embedder of a collection created here: none (vector queries, default), or local / "
                   "openai when that model made the legacy vectors (then text queries work)")
    i.add_argument("--fallback", default="", help="fallback chain (e.g. collection,exact); set on a created or linked collection")
    i.add_argument("--link", action="store_true",
                   help="name SOURCE as the collection's legacy store (live shadow reads, the 'collection' fallback)")
    i.add_argument("--shadow-rate", type=float, default=0.0, help="with --link: share of searches shadowed (0..1)")
    i.add_argument("--verify-sample", type=int, default=1000, help="rows compared bit for bit (default %(default)s; 0 = counts only)")
    i.add_argument("--max-rows-per-s", type=float, default=0.0,
                   help="throttle reads of a legacy store that still serves traffic (default: unthrottled)")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.set_defaults(func=cmd_import)

    s = ms.add_parser("shadow", help="run the same queries against the legacy store and bitrag; report + go/no-go",
                      description="Run queries against SOURCE and the bitrag collection side by side and write a "
                      "report (markdown, JSON, PNG): overlap@k, recall@k vs the legacy top-k, NDCG with qrels, "
                      "score deltas, p50/p99 latency and memory of both, bitrag's fallback rate, go/no-go. "
                      "Exit code 1 on NO-GO.")
    _source_args(s)
    s.add_argument("-c", "--collection", required=True)
    s.add_argument("--queries", type=Path, default=None,
                   help="query log: .npy vectors, .jsonl ({id, text} or {id, vector}) or .txt (one text a line)")
    s.add_argument("--query-ids", type=Path, default=None, help="ids of .npy queries (JSONL with _id/id, or one a line)")
    s.add_argument("--sample", type=int, default=0, help="instead: N source vectors as pseudo-queries")
    s.add_argument("--qrels", type=Path, default=None, help="BEIR qrels TSV (query id, document id, relevance): NDCG")
    s.add_argument("-k", type=int, default=10, help="top-k compared (default %(default)s)")
    s.add_argument("--mode", default="AUTO", type=str.upper, choices=["AUTO", "RESCORED", "BINARY_ONLY", "EXACT"])
    s.add_argument("--filter", default="", help="a bitrag filter applied on both sides")
    s.add_argument("--target-overlap", type=float, default=0.9, help="GO needs mean overlap@k >= this (default %(default)s)")
    s.add_argument("--max-ndcg-drop", type=float, default=0.01, help="with qrels: GO needs NDCG within this of the legacy store's")
    s.add_argument("--search-params", type=json.loads, default={},
                   help='the legacy store\'s search parameters as JSON, e.g. \'{"ef": 64}\' (Milvus HNSW) '
                   'or \'{"hnsw_ef": 64}\' (Qdrant)')
    s.add_argument("--embed-model", default="", help="sentence-transformers dir for text queries (default: local MiniLM)")
    s.add_argument("--bitrag-pid", type=int, default=0, help="the bitrag server's pid: its memory in the report")
    s.add_argument("--legacy-pid", type=int, default=0, help="the legacy store's pid (a server): its memory")
    s.add_argument("--label", default="", help="the legacy store's name in the report")
    s.add_argument("--out", type=Path, default=Path("."), help="report directory (default: here)")
    s.add_argument("--name", default="", help="report file stem (default shadow_COLLECTION)")
    s.add_argument("--no-plots", dest="plots", action="store_false")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true", help="print the report JSON")
    s.set_defaults(func=cmd_shadow)

    ln = ms.add_parser("link", help="name SOURCE as a collection's legacy store (live shadow reads, fallback)",
                       description="Name SOURCE as the collection's legacy store: a share of searches is shadowed "
                       "there (agreement and latency as Prometheus metrics), and the 'collection' fallback answers "
                       "from it. The bitrag server opens the store itself (give it a location it can reach). "
                       "Also the rollback after a cutover.")
    _source_args(ln)
    ln.add_argument("-c", "--collection", required=True)
    ln.add_argument("--shadow-rate", type=float, default=0.0, help="share of searches shadowed (0..1; default 0)")
    ln.add_argument("--fallback", default="", help="new fallback chain, e.g. widen,collection,exact")
    ln.set_defaults(func=cmd_link)

    co = ms.add_parser("cutover", help="unlink a collection's legacy store: no shadow reads, no legacy fallback",
                       description="Cut over: the collection stops reading its legacy store ('collection' leaves "
                       "its fallback chain unless --fallback says otherwise). Server-wide, "
                       "BITRAG_LEGACY_READS=false does the same for every collection without a request.")
    co.add_argument("-c", "--collection", required=True)
    co.add_argument("--fallback", default="", help="new fallback chain (default: the current one without 'collection')")
    co.set_defaults(func=cmd_cutover)


def _chain(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _command() -> str:
    return "bitrag " + shlex.join(sys.argv[1:])


def cmd_import(a: argparse.Namespace) -> int:
    from .importer import ImportOptions, MigrationError, run_import
    from .policy import PolicyError
    from .sources import SourceError

    opts = ImportOptions(
        source=a.source, collection=a.collection, target=a.target, from_collection=a.from_collection,
        fields=_fields(a), metric=a.metric, sidecar=a.sidecar, token=os.environ.get("BITRAG_LEGACY_TOKEN", ""),
        batch_size=a.batch_size, normalize=a.normalize, checkpoint=a.checkpoint, restart=a.restart,
        embedder=a.embedder, fallback=a.fallback, link=a.link, shadow_rate=a.shadow_rate,
        verify_sample=a.verify_sample, max_rows_per_s=a.max_rows_per_s, progress=not a.quiet, timeout_s=a.timeout,
    )
    if a.batch_size < 1:
        return _fail("--batch-size must be at least 1")
    try:
        rep = run_import(opts)
    except (SourceError, PolicyError, MigrationError) as exc:
        return _fail(str(exc))
    if a.json:
        print(json.dumps(rep, default=str))
    else:
        _print_import(rep)
    return 0 if rep["ok"] else 1


def _print_import(rep: dict[str, Any]) -> None:
    v = rep["verification"]
    src = rep["source"]
    ing = rep["ingest"]
    print(f"{src['kind']}:{src['location']} ({src['collection']}) -> {rep['collection']}: {rep['rows']:,} rows in "
          f"{rep['seconds']:.1f} s ({rep['rows_per_s'] or 0:,} rows/s), {rep['batches']} batches, {rep['runs']} run(s)"
          + (f", resumed after {rep['resumed_from_row']:,}" if rep["resumed_from_row"] else ""))
    print(f"  server: {ing.get('documents_added', 0):,} documents added, {ing.get('documents_unchanged', 0):,} "
          f"unchanged (sent again after a resume), {ing.get('documents_replaced', 0):,} replaced")
    for note in rep["policy"]["notes"]:
        print(f"  note: {note}")
    if rep["policy"]["normalised_rows"]:
        print(f"  normalised {rep['policy']['normalised_rows']:,} rows (--normalize)")
    print(f"  verify: rows {v['source_rows']:,} in the source, {v['bitrag_rows']:,} in bitrag "
          f"({'equal' if v['counts_equal'] else 'DIFFERENT'}); sample {v['sample']}: {v['vectors_bit_identical']} "
          f"vectors bit-identical ({v['compared_to']}), {v['texts_equal']} texts, {v['metadata_equal']} metadata equal")
    for m in v["mismatches"]:
        print(f"  mismatch: {m}")
    print("OK" if rep["ok"] else "VERIFICATION FAILED")


def cmd_shadow(a: argparse.Namespace) -> int:
    from .shadow import ShadowOptions, run_shadow
    from .sources import SourceError

    opts = ShadowOptions(
        source=a.source, collection=a.collection, target=a.target, from_collection=a.from_collection,
        fields=_fields(a), metric=a.metric, sidecar=a.sidecar, token=os.environ.get("BITRAG_LEGACY_TOKEN", ""),
        search_params=a.search_params, queries=a.queries, query_ids=a.query_ids, sample=a.sample, qrels=a.qrels, k=a.k, mode=a.mode, filter=a.filter,
        target_overlap=a.target_overlap, max_ndcg_drop=a.max_ndcg_drop, embed_model=a.embed_model,
        bitrag_pid=a.bitrag_pid, legacy_pid=a.legacy_pid, out=a.out, name=a.name, plots=a.plots,
        progress=not a.quiet, label=a.label, command=_command(),
    )
    try:
        doc = run_shadow(opts)
    except (SourceError, ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if a.json:
        print(json.dumps(doc, default=str))
    else:
        from .shadow import markdown

        print(markdown(doc))
        print(f"report: {', '.join(doc.get('files', []))}", file=sys.stderr)
    return 0 if doc["go"] else 1


def cmd_link(a: argparse.Namespace) -> int:
    from bitrag import Client

    from .importer import ImportOptions, legacy_store_of
    from .sources import SourceError, open_source

    try:
        src = open_source(a.source, a.from_collection, _fields(a), metric=a.metric, sidecar=a.sidecar,
                          token=os.environ.get("BITRAG_LEGACY_TOKEN", ""))
    except SourceError as exc:
        return _fail(str(exc))
    with src:
        ls = legacy_store_of(ImportOptions(a.source, a.collection, shadow_rate=a.shadow_rate), src)
    with Client(a.target, timeout=a.timeout) as c:
        info = c.set_legacy_store(a.collection, ls, fallback=_chain(a.fallback))
    print(f"{a.collection}: legacy store {ls.source} ({ls.collection or '-'}), shadow rate {ls.shadow_rate:g}, "
          f"fallback {','.join(info.gate.fallback)}")
    return 0


def cmd_cutover(a: argparse.Namespace) -> int:
    from bitrag import Client

    with Client(a.target, timeout=a.timeout) as c:
        info = c.set_legacy_store(a.collection, None, fallback=_chain(a.fallback))
    print(f"{a.collection}: cut over; legacy store unlinked, fallback {','.join(info.gate.fallback)}")
    return 0
