"""Backup and restore of one collection: `bitrag backup NAME DIR`, `bitrag restore DIR [--name NEW]`.

A collection lives in two places: the data directory (manifest, float32 rows, codes, records:
chunk ids, hashes, text) and Milvus (the codes again, with document ids and metadata, and which rows
are live). A backup holds both:

    DIR/backup.json     format version, collection, counts, time
    DIR/collection.json the manifest
    DIR/vectors.f32     float32 rows [rows, d]
    DIR/codes.u8        packed codes [rows, d/8]
    DIR/rows.jsonl      every live Milvus row: row id, chunk id, document id, hash, text, metadata

`backup` holds the collection's write lock (the same flock the servers' writers take) while it
copies, so the snapshot is consistent while servers keep answering searches; with a Milvus server
it runs beside live servers sharing the data directory. (Milvus Lite is one process's file: stop
the server first.) `restore` recreates the Milvus collection with the same index and row ids,
copies the files in, and writes the manifest last (the commit point); running servers sharing the
data directory pick the collection up on its next use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .config import Settings
from .errors import AlreadyExists, BitragError, InvalidArgument, NotFound
from .stores.binary_index import PARTITION_FIELD, BinaryIndex
from .collection import record_of
from .stores.catalog import CODES, LAYOUT, MANIFEST, VECTORS, Catalog, Manifest, check_name
from .stores.float_store import CodeStore, FloatStore, fsync_dir
from .stores.record_store import RecordStore

FORMAT = 1
ROWS = "rows.jsonl"
EXPORT_BATCH = 4096
FIELDS = ["row", "chunk_id", "doc_id", "doc_hash", "text", "metadata"]  # of a rows.jsonl line
MILVUS_FIELDS = ["row", "doc_id", "metadata"]


def _copy_rows(src: Path, dst: Path, rows: int, row_bytes: int) -> None:
    """The first `rows` rows of a row file (rows appended meanwhile are not part of the snapshot)."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        left = rows * row_bytes
        while left:
            chunk = fi.read(min(left, 1 << 24))
            if not chunk:
                raise RuntimeError(f"{src}: shorter than {rows} rows")
            fo.write(chunk)
            left -= len(chunk)
        fo.flush()
        os.fsync(fo.fileno())


def backup(settings: Settings, name: str, out: Path, *, progress: bool = True) -> dict[str, Any]:
    check_name(name)
    catalog = Catalog(settings.data_dir)
    if catalog.signature(name) is None:
        raise NotFound(f"collection {name!r} does not exist in {settings.data_dir}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise AlreadyExists(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    index = BinaryIndex.from_settings(settings)
    t0 = time.time()
    try:
        with catalog.collection_lock(name):  # no writer changes the collection while we copy
            m = catalog.load(name)
            d = catalog.dir(name)
            floats = FloatStore(d / VECTORS, m.dimension)
            rows = floats.rows
            floats.close()
            _copy_rows(d / VECTORS, out / VECTORS, rows, m.dimension * 4)
            _copy_rows(d / CODES, out / CODES, rows, m.dimension // 8)
            fields = FIELDS + ([PARTITION_FIELD] if m.partition_key else [])
            # a layout 1 collection still holds the records in Milvus (and may not have been
            # opened by a server since the record store came)
            query = (list(fields) if m.layout < 2 else MILVUS_FIELDS + ([PARTITION_FIELD] if m.partition_key else []))
            records = RecordStore(d) if m.layout >= 2 else None
            live = 0
            try:
                with open(out / ROWS, "w") as f, tqdm(desc=f"export {name}", unit="row", disable=not progress,
                                                      file=sys.stderr) as bar:
                    for batch in index.iterate(m.milvus_collection, query, EXPORT_BATCH):
                        if records is not None:
                            for r, rec in zip(batch, records.get([int(r["row"]) for r in batch])):
                                r.update(chunk_id=rec["chunk_id"], doc_hash=rec["doc_hash"], text=rec["text"])
                                if rec.get("ingested_ms"):
                                    r["ingested_ms"] = rec["ingested_ms"]
                        for r in batch:
                            line = {k: r[k] for k in fields} | ({"ingested_ms": r["ingested_ms"]} if "ingested_ms" in r else {})
                            f.write(json.dumps(line, separators=(",", ":")) + "\n")
                        live += len(batch)
                        bar.update(len(batch))
                    f.flush()
                    os.fsync(f.fileno())
            finally:
                if records is not None:
                    records.close()
            (out / MANIFEST).write_text(m.to_json())
        info = {"format": FORMAT, "collection": name, "dimension": m.dimension, "float_rows": rows,
                "live_rows": live, "generation": m.generation, "created_unix_ms": int(t0 * 1000),
                "milvus_uri": settings.resolved_milvus_uri()}
        (out / "backup.json").write_text(json.dumps(info, indent=2) + "\n")
        fsync_dir(out)
        return info
    finally:
        index.close()


def restore(settings: Settings, src: Path, *, name: str = "", progress: bool = True) -> dict[str, Any]:
    src = Path(src)
    try:
        info = json.loads((src / "backup.json").read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"{src} is not a bitrag backup (no backup.json)") from None
    if info.get("format") != FORMAT:
        raise InvalidArgument(f"backup format {info.get('format')} is not {FORMAT}")
    m = Manifest.from_json((src / MANIFEST).read_text())
    name = check_name(name or m.name)
    m = replace(m, name=name, milvus_collection=f"bitrag_{name}", milvus_write_ts=0, layout=LAYOUT)
    catalog = Catalog(settings.data_dir)
    index = BinaryIndex.from_settings(settings)
    try:
        with catalog.lock():
            if catalog.signature(name) is not None:
                raise AlreadyExists(f"collection {name!r} exists in {settings.data_dir}: drop it or restore "
                                    "under another --name")
            index.create(m.milvus_collection, m.dimension, m.index, consistency=m.consistency_level,
                         partition_key=bool(m.partition_key), num_partitions=m.num_partitions or 64)
            try:
                d = catalog.dir(name)
                d.mkdir(parents=True, exist_ok=True)
                with catalog.collection_lock(name):
                    shutil.copyfile(src / VECTORS, d / VECTORS)
                    shutil.copyfile(src / CODES, d / CODES)
                    codes = CodeStore(d / CODES, m.dimension)
                    records = RecordStore(d)
                    n = 0
                    try:
                        with open(src / ROWS) as f, tqdm(total=info["live_rows"], desc=f"import {name}",
                                                         unit="row", disable=not progress, file=sys.stderr) as bar:
                            batch: list[dict[str, Any]] = []
                            for line in f:
                                batch.append(json.loads(line))
                                if len(batch) >= EXPORT_BATCH:
                                    n += _insert(index, m, codes, records, batch)
                                    bar.update(len(batch))
                                    batch = []
                            if batch:
                                n += _insert(index, m, codes, records, batch)
                                bar.update(len(batch))
                        records.pad_to(info["float_rows"])  # deleted rows at the end
                    finally:
                        codes.close()
                        records.close()
                    index.flush(m.milvus_collection)
                    catalog.save(m)  # the commit point
            except BaseException:
                index.drop(m.milvus_collection)
                shutil.rmtree(catalog.dir(name), ignore_errors=True)
                raise
        return {"collection": name, "live_rows": n, "float_rows": info["float_rows"], "generation": m.generation}
    finally:
        index.close()


def _insert(
    index: BinaryIndex, m: Manifest, codes: CodeStore, records: RecordStore, batch: list[dict[str, Any]]
) -> int:
    """Records (rows in order; deleted rows in between get empty ones), then the Milvus rows."""
    try:
        records.append_at([int(r["row"]) for r in batch], [record_of(r) for r in batch])
    except ValueError as exc:
        raise InvalidArgument(f"{ROWS}: {exc}") from None
    rows = np.asarray([r["row"] for r in batch], dtype=np.int64)
    packed = codes.gather(rows)  # [b, d/8], the same bits Milvus had
    index.insert(m.milvus_collection, [
        BinaryIndex.row(r["row"], packed[i], r["doc_id"], r["metadata"], partition_key=m.partition_key)
        for i, r in enumerate(batch)
    ])
    return len(batch)


# ---- CLI -----------------------------------------------------------------------------------------


def add_backup_parsers(sub: argparse._SubParsersAction) -> None:
    from .cli import add_storage_args

    p = sub.add_parser("backup", help="copy one collection (float32 rows, codes, Milvus rows) to a directory",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("collection")
    p.add_argument("out", type=Path, help="an empty or new directory")
    add_storage_args(p)
    p.set_defaults(func=_run_backup)

    p = sub.add_parser("restore", help="recreate a collection from a `bitrag backup` directory",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path)
    p.add_argument("--name", default="", help="restore under this name (default: the backed-up one)")
    add_storage_args(p)
    p.set_defaults(func=_run_restore)


def _settings(args: argparse.Namespace) -> Settings:
    from .cli import settings_from_args

    return settings_from_args(args)


def _run_backup(args: argparse.Namespace) -> int:
    return _report(lambda: backup(_settings(args), args.collection, args.out))


def _run_restore(args: argparse.Namespace) -> int:
    return _report(lambda: restore(_settings(args), args.src, name=args.name))


def _report(fn) -> int:
    try:
        print(json.dumps(fn()))
        return 0
    except BitragError as exc:
        print(f"error ({exc.code.name}): {exc.message}", file=sys.stderr)
        return 1
