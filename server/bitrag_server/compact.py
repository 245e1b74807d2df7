"""Compaction: the space of deleted and replaced rows reclaimed from every row file.

Milvus says which rows are live; the row numbers change (row == Milvus primary key), so the live
rows move together into new row files and a new Milvus collection, switched to atomically:

  1. journal    `compact.json` = {"new_milvus": name}: what a rollback must drop
  2. copy       each of `Collection.row_files()` -> `<file>.compact` with the live rows, in row
                order (new row j = the j-th live row), fsynced
  3. milvus     a new collection `bitrag<k>_<name>` (same schema and index) filled from the new
                files (codes, document ids, metadata), flushed on a server
  4. commit     the manifest, atomically: the new Milvus collection, `compactions` + 1, and
                `compact_pending` (the renames still to do, the old Milvus collection)
  5. switch     each `<file>.compact` renamed over `<file>`; the collection reopens its files;
                searches that started before keep reading the old ones (`Collection.view`)
  6. finish     once those searches ended: the old Milvus collection dropped, `compact_pending`
                cleared, the journal removed

A crash before 4 rolls back at the next open (the new Milvus collection and the `.compact` files
are removed: nothing changed); after 4 it completes 5-6 (renames are idempotent). Writes to the
collection wait for the compaction (it holds the write lock); searches are served throughout.
Runs on demand (`Compact` RPC, `bitrag compact`) and by itself when the dead share of a
collection passes `compact_dead_share` (checked every `compact_check_interval_s`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import failpoints, metrics, recovery
from .collection import Collection
from .errors import NotFound
from .stores.binary_index import BinaryIndex
from .stores.catalog import Manifest
from .stores.float_store import fsync_dir

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

JOURNAL = "compact.json"
SUFFIX = ".compact"
DRAIN_TIMEOUT_S = 300.0  # searches of the old files get this long before those close anyway


@dataclass
class CompactResult:
    compacted: bool
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int
    duration_us: int
    generation: int


def milvus_name(m: Manifest, k: int) -> str:
    """The Milvus collection of a collection's k-th compaction. `bitrag_<name>` is the first; a
    collection name starts with a letter, so `bitrag<k>_<name>` never collides with either."""
    return f"bitrag{k}_{m.name}"


def _paths(c: Collection) -> list[Path]:
    return [p for f in c.row_files() for p in f.paths()]


def _live_rows(c: Collection, index: BinaryIndex) -> np.ndarray:
    """Every live row (ascending): the rows Milvus holds."""
    rows = np.sort(index.matching_rows(c.milvus, "row >= 0"))
    return rows[rows < c.floats.rows]


# ---- recovery at open (before the row files are opened) ---------------------------------------


def recover(directory: Path, m: Manifest, index: BinaryIndex) -> bool:
    """Complete a committed compaction or roll back an uncommitted one. Returns True when `m` was
    changed (the caller saves it). The caller holds the collection's write lock."""
    journal = directory / JOURNAL
    changed = False
    if m.compact_pending:
        suffix = m.compact_pending.get("suffix", SUFFIX)
        for p in sorted(directory.glob(f"*{suffix}")):
            os.replace(p, p.with_name(p.name[: -len(suffix)]))
        fsync_dir(directory)
        old = m.compact_pending.get("old_milvus", "")
        if old and old != m.milvus_collection:
            index.drop(old)
        m.compact_pending = {}
        changed = True
        log.warning("collection %s: completed an interrupted compaction", m.name)
        metrics.COMPACTIONS.labels("completed_at_open").inc()
    elif journal.exists():
        try:
            new = json.loads(journal.read_text()).get("new_milvus", "")
        except ValueError:
            new = ""
        if new and new != m.milvus_collection:
            index.drop(new)
            log.warning("collection %s: rolled back an interrupted compaction", m.name)
            metrics.COMPACTIONS.labels("rolled_back_at_open").inc()
    for p in directory.glob(f"*{SUFFIX}"):
        p.unlink()
    if journal.exists() and not changed:
        recovery.remove(journal)
    return changed


def finish_recovery(directory: Path) -> None:
    """After the manifest of a completed recovery is saved: the journal goes."""
    recovery.remove(directory / JOURNAL)


def milvus_collections(directory: Path, m: Manifest) -> list[str]:
    """Every Milvus collection a collection's directory may own (its own, a compaction's old or
    new one): what a drop must remove."""
    names = [m.milvus_collection, m.compact_pending.get("old_milvus", "")]
    try:
        names.append(json.loads((directory / JOURNAL).read_text()).get("new_milvus", ""))
    except (FileNotFoundError, ValueError):
        pass
    return [n for n in dict.fromkeys(names) if n]


# ---- compaction --------------------------------------------------------------------------------


def dead_share(c: Collection, live: int) -> float:
    n = c.floats.rows
    return (n - live) / n if n else 0.0


async def compact(engine: Engine, c: Collection, *, force: bool = False) -> CompactResult:
    """Compact `c` (see the module docstring). Waits for the collection's write lock."""
    index = engine._idx
    t0 = time.perf_counter_ns()
    async with engine._write(c):
        # one calibration at a time: none runs against files that are being switched
        await asyncio.to_thread(c.calibrating.acquire)
        try:
            return await asyncio.to_thread(_compact_locked, engine, c, index, force, t0)
        finally:
            c.calibrating.release()


def _compact_locked(engine: Engine, c: Collection, index: BinaryIndex, force: bool, t0: int) -> CompactResult:
    directory = c.floats.path.parent
    bytes_before = c.row_file_bytes()
    rows_before = c.floats.rows
    live = _live_rows(c, index)
    if live.size == rows_before and not force:
        metrics.COMPACTIONS.labels("nothing_to_do").inc()
        return CompactResult(
            False,
            rows_before,
            rows_before,
            bytes_before,
            bytes_before,
            (time.perf_counter_ns() - t0) // 1000,
            c.manifest.generation,
        )
    old = c.manifest
    new_name = milvus_name(old, old.compactions + 1)
    recovery.write_json(directory / JOURNAL, {"new_milvus": new_name})
    failpoints.hit("compact.journal")
    try:
        for f in c.row_files():
            f.copy_rows(live, SUFFIX)
        fsync_dir(directory)
        failpoints.hit("compact.copied")
        index.create(
            new_name,
            old.dimension,
            old.index,
            consistency=old.consistency_level,
            partition_key=bool(old.partition_key),
            num_partitions=old.num_partitions or 64,
        )
        for i in range(0, live.size, 8192):  # new row j = the j-th live row
            stop = min(live.size, i + 8192)
            index.insert(new_name, recovery.milvus_rows(c, live[i:stop], pks=np.arange(i, stop), layout=2))
        index.flush(new_name)
        failpoints.hit("compact.milvus")
    except BaseException:
        _rollback(directory, index, new_name)
        metrics.COMPACTIONS.labels("failed").inc()
        raise
    m = dataclasses.replace(
        old,
        milvus_collection=new_name,
        compactions=old.compactions + 1,
        layout=2,
        milvus_write_ts=0,
        compact_pending={"old_milvus": old.milvus_collection, "suffix": SUFFIX},
    )
    c.compacting = True  # this process's manifest reloads wait for the switch below
    try:
        engine.catalog.save(m)  # the commit point: from here on a restart completes the switch
        failpoints.hit("compact.committed")
        for p in _paths(c):
            os.replace(str(p) + SUFFIX, p)
        fsync_dir(directory)
        failpoints.hit("compact.renamed")
        c.switch(m)
        engine._save(c)
    finally:
        c.compacting = False
    # the searches that started on the old files and Milvus collection end first
    if not c.wait_views(old.compactions, DRAIN_TIMEOUT_S):
        log.warning(
            "collection %s: searches of the old files still running after %.0f s", c.name, DRAIN_TIMEOUT_S
        )
    c.pending.clear()  # sampled served queries name old row numbers
    index.drop(old.milvus_collection)
    failpoints.hit("compact.dropped")
    m.compact_pending = {}
    engine._save(c)
    recovery.remove(directory / JOURNAL)
    bytes_after = c.row_file_bytes()
    metrics.COMPACTIONS.labels("done").inc()
    metrics.COMPACTION_BYTES_RECLAIMED.inc(max(0, bytes_before - bytes_after))
    log.info(
        "compacted %s: %d -> %d rows, %d -> %d bytes",
        c.name,
        rows_before,
        live.size,
        bytes_before,
        bytes_after,
    )
    return CompactResult(
        True,
        rows_before,
        int(live.size),
        bytes_before,
        bytes_after,
        (time.perf_counter_ns() - t0) // 1000,
        m.generation,
    )


def _rollback(directory: Path, index: BinaryIndex, new_name: str) -> None:
    try:
        index.drop(new_name)
    except Exception:  # noqa: BLE001 - the next open retries the rollback from the journal
        log.exception("rollback of compaction: dropping %s failed", new_name)
        return
    for p in directory.glob(f"*{SUFFIX}"):
        p.unlink()
    recovery.remove(directory / JOURNAL)


# ---- automatic compaction ----------------------------------------------------------------------


async def auto_compact_loop(engine: Engine) -> None:
    """Background: compact collections whose dead share passed `compact_dead_share`."""
    s = engine.settings
    while True:
        await asyncio.sleep(s.compact_check_interval_s)
        if s.compact_dead_share <= 0:
            continue
        for c in list(engine._collections.values()):
            try:
                n = c.floats.refresh()
                if n < s.compact_min_rows:
                    continue
                live = await asyncio.to_thread(engine._idx.count, c.milvus)
                if dead_share(c, live) >= s.compact_dead_share:
                    log.info("collection %s: %.0f%% dead rows, compacting", c.name, 100 * dead_share(c, live))
                    await compact(engine, c)
            except asyncio.CancelledError:
                raise
            except NotFound:  # dropped meanwhile
                continue
            except Exception:  # noqa: BLE001 - never takes the server down; retried next round
                log.exception("automatic compaction of %s failed", c.name)
