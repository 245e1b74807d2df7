"""Crash safety of multi-step writes: a collection's write journal.

An ingest that replaces documents takes several Milvus calls (insert the new rows in batches,
delete the old ones in batches); a delete of a many-chunk document several. A SIGKILL between
them used to leave a document with old and new chunks at once, or half deleted. So before its
first Milvus call a write records its intent in `<collection>/journal.json` (atomic, fsynced):

    {"op": "ingest", "insert": [start, end], "delete": [old rows...]}
    {"op": "delete", "delete": [rows...]}

and removes it once Milvus has all of it and the live flags (`live.u8`) say so, fsynced. Opening
a collection with a journal left behind rolls the write forward, idempotently: the rows
[start, end) are durable in the row files before the journal is written (appends go floats,
codes, records, live flags 0, fsync each), so they are deleted from Milvus (a partial insert),
inserted again from the files and marked live, then the old rows are marked dead and deleted. An
unacknowledged write is thereby either wholly absent (killed before its journal) or wholly
present (after), never half-visible. The generation is bumped, as the write would have.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .collection import Collection
from .stores.binary_index import LEGACY_FIELDS, BinaryIndex
from .stores.float_store import fsync_dir

log = logging.getLogger(__name__)

JOURNAL = "journal.json"


def write_json(path: Path, obj: Any) -> None:
    """Atomically replace `path` with `obj` as JSON (temp file, fsync, rename, fsync dir)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def journal_path(c: Collection) -> Path:
    return c.floats.path.parent / JOURNAL


def begin(c: Collection, op: str, insert: tuple[int, int] | None, delete: Sequence[int]) -> None:
    """Record a write's Milvus steps before the first of them (the row files are durable)."""
    write_json(
        journal_path(c),
        {"op": op, "insert": list(insert) if insert else None, "delete": [int(r) for r in delete]},
    )


def end(c: Collection) -> None:
    """The write is complete: its live marks durable, then the journal goes."""
    c.live.flush()
    remove(journal_path(c))


def milvus_rows(
    c: Collection,
    rows: Sequence[int] | np.ndarray,
    pks: Sequence[int] | np.ndarray | None = None,
    layout: int | None = None,
) -> list[dict[str, Any]]:
    """Milvus entities of row-file rows, rebuilt from the files: the code from codes.u8, document
    id and metadata (and a partition key's value) from the record store; primary keys `pks`
    (default: the rows themselves). Layout 1 collections (or `layout` 1) also get their legacy fields."""
    m = c.manifest
    layout = m.layout if layout is None else layout
    rows = np.asarray(rows, dtype=np.int64)
    keys = rows if pks is None else np.asarray(pks, dtype=np.int64)
    codes = c.codes.gather(rows)  # [n, d/8]
    recs = c.records.get(rows.tolist())
    return [
        BinaryIndex.row(
            pk, code, r.get("doc_id", ""), r.get("metadata") or {}, partition_key=m.partition_key,
            legacy={k: r.get(k, "") for k in LEGACY_FIELDS} if layout < 2 else None,
        )
        for pk, code, r in zip(keys.tolist(), codes, recs)
    ]


def replay(c: Collection, index: BinaryIndex) -> bool:
    """Roll an interrupted write forward (the caller holds the write lock and saves the manifest
    when this returns True)."""
    path = journal_path(c)
    try:
        op = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except ValueError:  # a torn journal cannot exist (atomic rename); refuse to guess
        raise RuntimeError(f"{path}: unreadable write journal") from None
    ins = op.get("insert")
    if ins:
        start, stop = int(ins[0]), int(ins[1])
        if stop > c.floats.rows or stop > c.records.rows or stop > c.codes.rows:
            raise RuntimeError(f"{path}: journal rows [{start}, {stop}) past the row files ({c.floats.rows})")
        pks = list(range(start, stop))
        index.delete(c.milvus, pks)  # whatever part of the insert had reached Milvus
        index.insert(c.milvus, milvus_rows(c, pks))
        c.live.mark(pks, True)
    if op.get("delete"):
        c.live.mark(op["delete"], False)
        index.delete(c.milvus, op["delete"])
    c.manifest.generation += 1
    metrics.RECOVERED_WRITES.labels(str(op.get("op", "write"))).inc()
    log.warning(
        "collection %s: completed an interrupted %s (%s new rows, %d rows deleted)",
        c.name,
        op.get("op"),
        (int(ins[1]) - int(ins[0])) if ins else 0,
        len(op.get("delete") or []),
    )
    return True
