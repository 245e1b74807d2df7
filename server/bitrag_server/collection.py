"""One open collection: its manifest, its row files and its gate state."""

from __future__ import annotations

import asyncio
import collections
import copy
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .domain import Tier
from .quantize import ScalarQuantizer, binarize
from .retrieve.gate import Calibration, Steps
from .retrieve.plan import ObservedRoutes, SearchPlan
from .retrieve.tiers import MiddleTier
from .stores.catalog import Manifest
from .stores.float_store import CodeStore, FloatStore, LiveStore, TierStore
from .stores.record_store import ChunkRecord, RecordStore
from .stores.shared import FileLock


@dataclass
class QuerySample:
    """A served query kept for background verification against the exact top-k: the gate's
    feature and the top-k after each batch of its stopping rule."""

    query: np.ndarray  # [d]
    top_k: int
    steps: list[tuple[float, np.ndarray]]  # (z, [k] rows) per batch


@dataclass
class Collection:
    manifest: Manifest
    floats: FloatStore
    codes: CodeStore
    thresholds: np.ndarray  # [d]
    calibration: Calibration
    records: RecordStore
    # which rows Milvus holds (live.u8): the RAM pool's and the exact scan's liveness check
    live: LiveStore
    # the middle tier's codes (multi-bit tiers, once their quantizer is fitted) and quantizer
    tier_store: TierStore | None = None
    quantizer: ScalarQuantizer | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # served queries waiting for verification, and verified queries: (z, exact?, recall) per batch
    pending: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    verified: list[Steps] = field(default_factory=list)
    verified_at_fit: int = 0
    calibrating: threading.Lock = field(default_factory=threading.Lock)
    # cross-process write lock (replicas sharing the data directory) and the manifest file's
    # (mtime_ns, size, inode) when last loaded or saved here
    flock: FileLock | None = None
    manifest_sig: tuple[int, int, int] | None = None
    # searches in flight per compaction epoch (manifest.compactions): a compaction closes the old
    # row files and drops the old Milvus collection once the searches that started on them end
    _views: collections.Counter = field(default_factory=collections.Counter)
    _views_lock: threading.Lock = field(default_factory=threading.Lock)
    compacting: bool = False  # a compaction is switching the files: manifest reloads wait
    # AUTO's route timed on served queries while no plan is measured (retrieve/plan.py)
    routes: ObservedRoutes = field(default_factory=ObservedRoutes)
    # ListDocuments' index of live documents (documents.DocumentIndex), for one generation
    doc_index: object | None = None

    # The collection's per-row files, by attribute (None: absent, e.g. no multi-bit tier yet): row
    # i of each describes the same row (== the Milvus primary key i), appended in this order.
    # Compaction copies, renames and reopens exactly these; a new per-row tier is compacted by
    # naming its attribute here (a RowFile subclass already has paths/copy_rows/reopen).
    ROW_FILES = ("floats", "codes", "tier_store", "records", "live")

    def row_files(self) -> list:  # list[RowFile | RecordStore]
        """Every per-row file (one row per float row), in append order."""
        return [f for f in (getattr(self, name) for name in self.ROW_FILES) if f is not None]

    def reopen_row_files(self) -> None:
        """Open every row file again at its path (after a compaction renamed new files there);
        the old objects stay open for the searches still reading them."""
        for name in self.ROW_FILES:
            f = getattr(self, name)
            if f is not None:
                setattr(self, name, f.reopen())

    def row_file_bytes(self) -> int:
        return sum(f.bytes_on_disk for f in self.row_files())

    def view(self) -> Collection:
        """A snapshot for one search: the manifest (Milvus collection name) and row files of now,
        unchanged by a compaction that switches the collection meanwhile. Release with `release`."""
        with self._views_lock:
            v = copy.copy(self)
            self._views[v.manifest.compactions] += 1
        return v

    def switch(self, manifest: Manifest) -> None:
        """Adopt a compaction's manifest and the row files renamed into place, at once for searches."""
        with self._views_lock:
            self.reopen_row_files()
            self.manifest = manifest

    def release(self, v: Collection) -> None:
        with self._views_lock:
            self._views[v.manifest.compactions] -= 1

    def wait_views(self, epoch: int, timeout_s: float) -> bool:
        """Block until no search of `epoch` is in flight (True), or `timeout_s` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._views_lock:
                if self._views[epoch] <= 0:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def milvus(self) -> str:
        return self.manifest.milvus_collection

    @property
    def dim(self) -> int:
        return self.manifest.dimension

    @property
    def plan(self) -> SearchPlan:
        """The measured search plan (manifest `plan`), parsed once per manifest dict."""
        d = self.manifest.plan
        cached = self.__dict__.get("_plan")
        if cached is None or cached[0] is not d:
            cached = (d, SearchPlan.from_dict(d))
            self.__dict__["_plan"] = cached
        return cached[1]

    def middle_tier(self) -> MiddleTier:
        return MiddleTier(Tier(self.manifest.tier), self.codes, self.tier_store, self.quantizer)

    def close(self) -> None:
        for f in self.row_files():
            f.close()

    def refresh(self) -> None:
        """Pick up rows other replicas appended (the caller holds the write lock)."""
        for f in self.row_files():
            f.refresh()

    def derive_tier(self, start: int) -> None:
        """Append tier codes for float rows from `start` on (derived data, like the sign codes)."""
        if self.tier_store is None or self.quantizer is None:
            return
        for first, block in self.floats.blocks():
            if first + block.shape[0] <= start:
                continue
            self.tier_store.append(self.quantizer.encode(block[max(0, start - first):]))

    def threshold(self) -> float:
        """The gate's threshold in force: fixed in the gate config, else the calibrated one."""
        fixed = self.manifest.gate.confidence_threshold
        return fixed if fixed > 0 else self.calibration.threshold

    def reconcile(self, legacy_records=None) -> None:  # noqa: ANN001 - Callable[[int], Iterator[list[dict]]]
        """Make the codes and records match the float file after a crash or for collections created
        before they existed: codes are derived data (binarize(floats)), so missing ones are
        recomputed; missing live flags are rows no write acknowledged (0); missing records are rows
        never inserted into Milvus (appends go floats, codes, records, live, then Milvus), or, for a
        layout 1 collection, copied from Milvus by `legacy_records(first_row)` (batches of Milvus rows
        in row order).
        A writer's job: the caller holds the collection's write lock."""
        self.floats.repair()
        self.codes.repair()
        self.records.repair()
        self.live.repair()
        if self.live.rows > self.floats.rows:
            self.live.truncate(self.floats.rows)
        self.live.pad_to(self.floats.rows)  # rows no write acknowledged (a journal replay marks its own)
        if self.records.rows > self.floats.rows:
            self.records.truncate(self.floats.rows)
        if self.records.rows < self.floats.rows:
            n = self.floats.rows
            if legacy_records is not None:
                for batch in legacy_records(self.records.rows):
                    batch = sorted((r for r in batch if self.records.rows <= int(r["row"]) < n), key=lambda r: int(r["row"]))
                    self.records.append_at([int(r["row"]) for r in batch], [record_of(r) for r in batch])
            self.records.pad_to(n)
        if self.codes.rows > self.floats.rows:
            self.codes.truncate(self.floats.rows)
        if self.codes.rows < self.floats.rows:
            start = self.codes.rows
            for first, block in self.floats.blocks():
                if first + block.shape[0] <= start:
                    continue
                self.codes.append(binarize(block[max(0, start - first):], self.thresholds))
        if self.tier_store is not None:
            self.tier_store.repair()
            if self.tier_store.rows > self.floats.rows:
                self.tier_store.truncate(self.floats.rows)
            if self.tier_store.rows < self.floats.rows:
                self.derive_tier(self.tier_store.rows)


def record(chunk_id: str, doc_id: str, doc_hash: str, text: str, metadata: dict, ingested_ms: int = 0) -> ChunkRecord:
    """One row's record in the record store. `ingested_ms`: when the row was written (ListDocuments);
    0 (rows written before it was kept, layout 1 rows) is left out of the stored record."""
    return ChunkRecord(chunk_id, doc_id, doc_hash, text, metadata, ingested_ms)


def record_of(row: dict) -> ChunkRecord:
    """The record of a row that carries every record field (a layout 1 Milvus row, a backup line)."""
    return record(row["chunk_id"], row["doc_id"], row["doc_hash"], row["text"], row["metadata"],
                  int(row.get("ingested_ms", 0)))
