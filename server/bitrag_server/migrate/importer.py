"""`bitrag migrate SOURCE -c COLLECTION`: float32 vectors with their ids, text and metadata from a
legacy store into a bitrag collection over gRPC, without re-embedding.

    open the source -> check its shape (policy) -> create / check the collection -> resume the
    checkpoint -> per source batch: check the vectors, Ingest, checkpoint -> verify -> link

Two ways through the source:
  - streaming (default): batches in the store's own order; the checkpoint holds the store's
    cursor. Every chunk is its own document (document id = chunk id).
  - grouped (a document id field, and always for LlamaIndex: ref_doc_id): bitrag replaces a
    document whole on ingest, so all chunks of a document must travel together. A first pass
    reads only (key, document id) pairs and writes the plan (documents in first-seen order) beside
    the checkpoint; batches are then whole documents fetched by key; the checkpoint holds the
    position in the plan. Memory: the plan's keys (~100 bytes per row).
Both are idempotent: a batch sent twice is a no-op on the server (unchanged content hashes).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, load_plan, save_plan
from .policy import VectorPolicy, check_dimension
from .sources import Batch, Source, SourceOptions
from .verify import verify

INGEST_COUNTERS = ("documents_added", "documents_replaced", "documents_unchanged", "chunks_written", "chunks_deleted")


class MigrationError(Exception):
    """A migration that cannot proceed as asked (the message says what to change)."""


@dataclass
class ImportOptions(SourceOptions):
    batch_size: int = 1000
    normalize: bool = False
    checkpoint: Path | None = None  # default ./.bitrag-migrate/<collection>.json
    restart: bool = False
    embedder: str = "none"  # of a collection created here: "none" (vectors) or "local"/"openai" (text queries)
    fallback: str = ""  # fallback chain of a collection created here ("" = server default)
    link: bool = False  # name the source as the collection's legacy store (live shadow, "collection" fallback)
    shadow_rate: float = 0.0
    verify_sample: int = 1000
    max_rows_per_s: float = 0.0  # 0 = as fast as it goes
    progress: bool = True
    timeout_s: float = 300.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def checkpoint_path(opts: ImportOptions) -> Path:
    return Path(opts.checkpoint) if opts.checkpoint else Path(".bitrag-migrate") / f"{opts.collection}.json"


def legacy_store_of(opts: ImportOptions, src: Source) -> Any:
    """The bitrag.LegacyStore naming this source (for --link and `bitrag migrate link`)."""
    from bitrag import LegacyStore

    kind = src.info.kind
    loc = src.info.location
    if not loc.startswith(("http://", "https://", "tcp://", "unix:")):
        loc = str(Path(loc).resolve())  # the server opens it from its own working directory
    f = src.fields
    own = {"milvus": True, "qdrant": True, "chroma": False, "llamaindex": False, "files": False}[kind]
    return LegacyStore(
        source=f"{kind}:{loc}", collection=src.info.collection if kind != "files" else "",
        vector_field=f.vector_field if own else "", text_field=f.text_field if kind in ("milvus", "qdrant") else "",
        document_id_field=f.document_id_field if kind != "llamaindex" else "", id_field=f.id_field,
        shadow_rate=opts.shadow_rate,
    )


def _grouped(src: Source) -> bool:
    return bool(src.fields.document_id_field)


def _plan(src: Source, path: Path, batch_size: int) -> list[list[Any]]:
    plan = load_plan(path)
    if plan is None:
        _log(f"planning: reading the keys and document ids of {src.info.rows:,} rows (whole documents travel together)")
        groups: dict[str, list[Any]] = {}
        for keys, docs in src.keys(max(batch_size, 1024)):
            for k, d in zip(keys, docs):
                groups.setdefault(d, []).append(k)
        plan = list(groups.values())
        save_plan(path, plan)
    return plan


def _batches(src: Source, ck: Checkpoint, opts: ImportOptions, plan_path: Path) -> Iterator[tuple[Batch, Any]]:
    if not _grouped(src):
        yield from src.scan(ck.cursor, opts.batch_size)
        return
    plan = _plan(src, plan_path, opts.batch_size)
    pos = int(ck.cursor or 0)
    while pos < len(plan):
        keys: list[Any] = []
        end = pos
        while end < len(plan) and (not keys or len(keys) + len(plan[end]) <= opts.batch_size):
            keys += plan[end]
            end += 1
        yield src.fetch(keys), end
        pos = end


def _lookahead(it: Iterator[tuple[Batch, Any]]) -> Iterator[tuple[Batch, Any, bool]]:
    """(batch, cursor, is_last): the last request seals Milvus segments (flush) once."""
    prev = None
    for item in it:
        if prev is not None:
            yield (*prev, False)
        prev = item
    if prev is not None:
        yield (*prev, True)


def _collection(client: Any, opts: ImportOptions, src: Source) -> Any:
    from bitrag import GateConfig, LegacyStore, NotFoundError

    try:
        info = client.describe_collection(opts.collection)
    except NotFoundError:
        chain = tuple(x.strip() for x in opts.fallback.split(",") if x.strip())
        gate = GateConfig(fallback=chain, legacy_store=legacy_store_of(opts, src) if opts.link else LegacyStore())
        info = client.create_collection(opts.collection, dimension=src.info.dimension, embedder=opts.embedder,
                                        gate=gate, description=f"migrated from {src.info.kind}:{src.info.location}")
        _log(f"created collection {opts.collection!r} (dimension {info.dimension}, embedder {info.embedder})")
        return info
    if info.dimension != src.info.dimension:
        raise MigrationError(
            f"collection {opts.collection!r} has dimension {info.dimension}, the source {src.info.dimension}: "
            "vectors of one model cannot be searched with another's; choose another --collection"
        )
    return info


def run_import(opts: ImportOptions) -> dict[str, Any]:
    """Run (or resume) an import; returns the report (see docs/migration.md)."""
    from bitrag import Client

    src = opts.open()
    try:
        check_dimension(src.info.dimension)
        policy = VectorPolicy(src.info.metric, normalize=opts.normalize)
        with Client(opts.target, timeout=opts.timeout_s) as client:
            info = _collection(client, opts, src)
            path = checkpoint_path(opts)
            plan_path = path.with_name(path.stem + ".plan.json")
            fingerprint = {
                "source": f"{src.info.kind}:{src.info.location}", "from_collection": src.info.collection,
                "fields": dataclasses.asdict(src.fields), "normalize": opts.normalize, "collection": opts.collection,
                "collection_created_unix_ms": info.created_unix_ms, "grouped": _grouped(src),
            }
            ck = None if opts.restart else Checkpoint.load(path)
            if ck is not None and ck.fingerprint != fingerprint:
                raise MigrationError(
                    f"{path} is the checkpoint of another migration ({ck.fingerprint.get('source')} -> "
                    f"{ck.fingerprint.get('collection')}); pass --restart to start this one over, or --checkpoint PATH"
                )
            if ck is None:
                ck = Checkpoint(fingerprint)
                plan_path.unlink(missing_ok=True)
            resumed_from = ck.rows_done
            if ck.done:
                _log(f"{path}: this migration already finished ({ck.rows_done:,} rows); verifying")
            else:
                if resumed_from:
                    _log(f"{path}: resuming after {ck.rows_done:,} rows ({ck.batches_done} batches)")
                ck.runs += 1
                _stream(src, client, opts, policy, ck, path, plan_path)
            report: dict[str, Any] = {
                "source": dataclasses.asdict(src.info), "collection": opts.collection, "target": opts.target,
                "rows": ck.rows_done, "batches": ck.batches_done, "runs": ck.runs,
                "resumed_from_row": resumed_from, "seconds": round(ck.seconds, 3),
                "rows_per_s": round(ck.rows_done / ck.seconds) if ck.seconds > 0 else None,
                "ingest": dict(ck.ingest), "policy": policy.summary(), "checkpoint": str(path),
            }
            t0 = time.perf_counter()
            report["verification"] = verify(src, client, opts.collection, policy, sample=opts.verify_sample)
            report["verification"]["seconds"] = round(time.perf_counter() - t0, 3)
            if opts.link:
                ls = legacy_store_of(opts, src)
                chain = tuple(x.strip() for x in opts.fallback.split(",") if x.strip())
                client.set_legacy_store(opts.collection, ls, fallback=chain)
                report["legacy_store"] = dataclasses.asdict(ls)
            report["ok"] = report["verification"]["ok"]
            return report
    finally:
        src.close()


def _stream(src: Source, client: Any, opts: ImportOptions, policy: VectorPolicy, ck: Checkpoint, path: Path,
            plan_path: Path) -> None:
    from tqdm import tqdm

    bar = tqdm(total=src.info.rows, initial=ck.rows_done, unit="rows", unit_scale=True, smoothing=0.1,
               desc=f"migrate {src.info.kind}", disable=not opts.progress, file=sys.stderr)
    t_run = t_prev = time.perf_counter()
    rows_run = 0
    try:
        for batch, cursor, last in _lookahead(_batches(src, ck, opts, plan_path)):
            vectors = policy.apply(batch.ids, batch.vectors)
            res = client.ingest_vectors(
                opts.collection, vectors, ids=batch.ids, document_ids=batch.document_ids, texts=batch.texts,
                metadata=batch.metadata, batch_size=max(1, len(batch)), flush=last,
            )
            # acknowledged: durable and searchable on the server; only now does the cursor move
            ck.cursor = cursor
            ck.rows_done += len(batch)
            ck.batches_done += 1
            for k in INGEST_COUNTERS:
                ck.ingest[k] = ck.ingest.get(k, 0) + int(getattr(res, k))
            ck.seconds += time.perf_counter() - t_prev  # reading the source, checking, ingesting
            ck.save(path)
            bar.update(len(batch))
            rows_run += len(batch)
            if opts.max_rows_per_s > 0:  # spare a legacy store that still serves production
                ahead = rows_run / opts.max_rows_per_s - (time.perf_counter() - t_run)
                if ahead > 0:
                    time.sleep(ahead)
            t_prev = time.perf_counter()
        ck.done = True
        ck.save(path)
    finally:
        bar.close()
