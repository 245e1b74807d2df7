"""The engine: collections, ingest (`ingest_pipeline.py`), delete and search over the two stores.

Write order (per collection, serialised by a lock), so nothing acknowledged is lost on a crash:
  1. float32 rows, codes and records appended to the row files and fsynced (row ids allocated)
  2. the write's Milvus steps recorded in the collection's journal (`recovery.py`)
  3. codes + document ids + metadata inserted into Milvus under those row ids
  4. old chunks of replaced documents deleted from Milvus
  5. the manifest's generation bumped (atomic rewrite), the journal removed
A crash before 2 leaves unreachable rows (disk only, reclaimed by a compaction); after 2, the next
open rolls the write forward from the journal, so a document is never half old, half new.

Several replicas may share one data directory (a ReadWriteMany volume) and one Milvus server.
Writers serialise per collection on the collection's flock (`stores/shared.py`) as well as its
asyncio lock; creates, drops and the start-up sweep on the catalog's flock. Every request stats
the collection's manifest (one `stat`) and reloads it when another replica rewrote it, so each
replica sees the others' collections, generations and calibrations. The manifest also carries the
Milvus timestamp of the last write (`milvus_write_ts`); a replica that loads it makes its Session
reads wait for that write, so read-your-writes holds across replicas, not only within one.

pymilvus and the embedders are synchronous: they run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus.client import ts_utils

from . import filters
from .config import Settings
from .domain import (
    CollectionSpec,
    CollectionStats,
    DeleteResult,
    DocumentIn,
    DocumentPage,
    IngestResult,
    RecordIn,
    SearchQuery,
    SearchResult,
)
from . import compact, documents, failpoints, ingest_pipeline, recovery
from .collection import Collection
from .domain import Mode, Tier, closed
from .embed import Embedders
from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from .ingest_pipeline import check_id
from .migrate.live import LegacyReads
from .quantize import ScalarQuantizer
from .retrieve import calibrate
from .retrieve.calibrate import Fit as CalibrationFit  # `calibrate` is also a method name here
from .retrieve.gate import Calibration
from .retrieve.pipeline import Searcher, Timer
from .retrieve.plan import SearchPlan
from .retrieve.tiers import TIER_BITS
from .stores.binary_index import LEGACY_FIELDS, BinaryIndex
from .stores.catalog import (
    CODES,
    CONSISTENCY_LEVELS,
    FALLBACKS,
    LAYOUT,
    LIVE,
    TIER,
    MANIFEST,
    VECTORS,
    Catalog,
    GateConfig,
    IndexConfig,
    LegacyStore,
    Manifest,
    check_name,
)
from .stores.float_store import CodeStore, FloatStore, LiveStore, TierStore, fsync_dir
from .stores.record_store import RECORD_INDEX, RECORDS, RecordStore

CALIBRATION_INTERVAL_S = 2.0
TIER_FIT_ROWS = 20000  # rows sampled to fit a multi-bit tier's ranges
TIER_REFIT_GROWTH = 8  # refit (and rebuild) the tier when the collection has grown this much
LEGACY_KINDS = ("milvus", "chroma", "qdrant", "llamaindex", "files")  # migrate/sources.py

log = logging.getLogger(__name__)

MAX_OVERSAMPLE = 64
MAX_FETCH_DOCUMENTS = 1000
UNIT_NORM_TOLERANCE = 1e-5  # |norm - 1| of a vector stored as sent


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.data_dir)
        self.embedders = Embedders(settings)
        self.index: BinaryIndex | None = None
        self.searcher: Searcher | None = None
        self.legacy: LegacyReads | None = None
        self._collections: dict[str, Collection] = {}
        self._admin = asyncio.Lock()  # create / drop
        self._calibration_task: asyncio.Task | None = None
        self._compaction_task: asyncio.Task | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.index = await asyncio.to_thread(BinaryIndex.from_settings, s)
        await asyncio.to_thread(self._sweep)
        for name in self.catalog.names():
            c = await asyncio.to_thread(self._adopt, name)
            if c is not None:
                self._collections[name] = c
        self.legacy = LegacyReads(enabled=s.legacy_reads, max_inflight=s.shadow_max_inflight, token=s.legacy_token)
        self.searcher = Searcher(self.index, s, self.legacy)
        self._calibration_task = asyncio.create_task(self._calibration_loop(), name="calibration")
        self._compaction_task = asyncio.create_task(compact.auto_compact_loop(self), name="compaction")
        log.info("engine ready: %d collections, milvus=%s", len(self._collections), s.resolved_milvus_uri())

    def embedders_in_use(self) -> set[str]:
        """The local embedder specs the server will need: the default one (when it is local) and
        those of open collections. `bitrag serve` loads them before it reports SERVING."""
        specs = {c.manifest.embedder for c in self._collections.values() if c.manifest.embedder.startswith("local:")}
        if self.settings.embedder == "local":
            specs.add(self.embedders.resolve("local"))
        return specs

    def _sweep(self) -> None:
        with self.catalog.lock():  # no create of another replica is half-way
            # a create killed after its Milvus collection, before its manifest: nobody else can
            # create that name now (we hold the catalog's lock), so its Milvus collection goes too
            self.catalog.sweep(self._drop_milvus_of, lambda name: self._idx.drop(f"bitrag_{name}"))

    def _drop_milvus_of(self, trash: Path) -> None:
        """A dropped collection's Milvus collections (its own, a compaction's), unless a collection
        of the same name was created since (then the name's Milvus collection is the new one's)."""
        m = Manifest.from_json((trash / MANIFEST).read_text())
        current = self.catalog.load(m.name).milvus_collection if self.catalog.signature(m.name) else None
        for name in compact.milvus_collections(trash, m):
            if name != current:
                self._idx.drop(name)

    def _open(self, m: Manifest) -> Collection:
        """Open a collection's files; the caller holds its write lock (reconcile repairs them)."""
        d = self.catalog.dir(m.name)
        if compact.recover(d, m, self._idx):  # before the row files open: it may rename them
            self.catalog.save(m)
            compact.finish_recovery(d)
        th = np.zeros(m.dimension, np.float32) if m.thresholds is None else np.asarray(m.thresholds, np.float32)
        floats = FloatStore(d / VECTORS, m.dimension, map_budget=self.settings.float_map_budget_mb << 20)
        if not (d / LIVE).exists():  # opened before live.u8 existed, or restored from a backup
            held = self._idx.matching_rows(m.milvus_collection, "row >= 0") if floats.rows else np.empty(0, np.int64)
            LiveStore.build(d / LIVE, floats.rows, held)
        c = Collection(m, floats, CodeStore(d / CODES, m.dimension), th, _calibration_of(m), RecordStore(d),
                       LiveStore(d / LIVE), flock=self.catalog.collection_lock(m.name))
        self._open_tier(c)
        legacy = None
        if m.layout < 2:  # records still only in Milvus: copied to the record store once
            fields = ["row", "doc_id", "metadata", *LEGACY_FIELDS]
            legacy = lambda first: self._idx.iterate(m.milvus_collection, fields, 4096, f"row >= {first}")  # noqa: E731
        c.reconcile(legacy)
        if recovery.replay(c, self._idx):  # a write interrupted after its journal: completed
            self._save(c)
            recovery.end(c)
        c.manifest_sig = self.catalog.signature(m.name)
        _note_write_ts(m)
        return c

    def _open_tier(self, c: Collection) -> None:
        """Open the middle tier's codes once its quantizer is fitted (multi-bit tiers)."""
        m = c.manifest
        old = c.tier_store
        if m.tier_quantizer and Tier(m.tier) in TIER_BITS:
            q = ScalarQuantizer.from_dict(m.tier_quantizer)
            c.tier_store, c.quantizer = TierStore(self.catalog.dir(m.name) / TIER, q.row_bytes), q
        else:
            c.tier_store, c.quantizer = None, None
        if old is not None and old is not c.tier_store:
            old.close()

    def _adopt(self, name: str) -> Collection | None:
        """Open a collection found on disk (at start, or created by another replica)."""
        try:
            with self.catalog.collection_lock(name):
                m = self.catalog.load(name)
                if not self._idx.exists(m.milvus_collection):
                    log.error("collection %s: Milvus collection %s is missing; skipped", name, m.milvus_collection)
                    return None
                return self._open(m)
        except FileNotFoundError:  # dropped meanwhile
            return None

    def _refresh(self, c: Collection) -> bool:
        """Reload the manifest if another replica rewrote it (generation, gate, calibration).
        False: `c` is gone (dropped, or dropped and re-created, by another replica)."""
        sig = self.catalog.signature(c.name)
        if sig is None:
            return False
        if sig == c.manifest_sig or c.compacting:  # our own compaction switches it
            return True
        try:
            m = self.catalog.load(c.name)
        except FileNotFoundError:
            return False
        if m.created_unix_ms != c.manifest.created_unix_ms:  # dropped and re-created elsewhere
            return False
        if m.compact_pending:  # another replica is switching files: follow once it is done
            return True
        if m.compactions != c.manifest.compactions:  # compacted by another replica: new row files
            c.switch(m)
        tier_changed = m.tier_quantizer != c.manifest.tier_quantizer
        c.manifest = m
        c.manifest_sig = sig
        if m.calibration and m.calibration != asdict(c.calibration):
            c.calibration = _calibration_of(m)
        if tier_changed:  # another replica fitted the tier and rebuilt its file
            self._open_tier(c)
        _note_write_ts(m)
        return True

    def _save(self, c: Collection) -> None:
        """Write the manifest (caller holds the write lock), with the Milvus timestamp of this
        process's last write, so other replicas' Session reads wait for it."""
        m = c.manifest
        m.milvus_write_ts = max(m.milvus_write_ts, int(ts_utils.get_collection_ts(m.milvus_collection) or 0))
        self.catalog.save(m)
        c.manifest_sig = self.catalog.signature(c.name)

    @contextlib.asynccontextmanager
    async def _write(self, c: Collection):
        """Exclusive write access to a collection across requests and processes, with its manifest
        and row files brought up to date first."""
        flock = c.flock
        if flock is None:  # opened without its lock file: never by the engine
            raise FailedPrecondition(f"collection {c.name!r} is not open for writing")
        async with c.lock:
            await asyncio.to_thread(flock.acquire)
            try:
                if self._collections.get(c.name) is not c or not self._refresh(c):
                    raise NotFound(f"collection {c.name!r} does not exist", field="collection")
                await asyncio.to_thread(c.refresh)
                yield c
            finally:
                flock.release()

    async def close(self) -> None:
        for task in (self._calibration_task, self._compaction_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._calibration_task = self._compaction_task = None
        for c in self._collections.values():
            async with c.lock:
                c.close()
        self._collections.clear()
        if self.legacy is not None:
            await self.legacy.drain()
            self.legacy.close()
        if self.index is not None:
            await asyncio.to_thread(self.index.close)
            self.index = None

    async def _get(self, name: str, field: str = "collection") -> Collection:
        """The open collection, in step with the catalog on disk: created, dropped or changed by
        another replica sharing the data directory since we last looked (one stat per call)."""
        check_name(name, field)
        c = self._collections.get(name)
        sig = self.catalog.signature(name)
        if c is not None and sig is not None and (sig == c.manifest_sig or self._refresh(c)):
            return c
        # else: dropped, or dropped and re-created, by another replica: forget it, reopen below
        if c is not None or name in self._collections:  # dropped (by another replica)
            self._forget(name)
        if sig is None:
            raise NotFound(f"collection {name!r} does not exist", field=field)
        async with self._admin:
            c = self._collections.get(name)
            if c is None:
                c = await asyncio.to_thread(self._adopt, name)
                if c is None:
                    raise NotFound(f"collection {name!r} does not exist", field=field)
                self._collections[name] = c
        return c

    def _forget(self, name: str) -> None:
        c = self._collections.pop(name, None)
        if c is not None:
            c.close()

    @property
    def _idx(self) -> BinaryIndex:
        if self.index is None:
            raise FailedPrecondition("engine is not started")
        return self.index

    @property
    def _searcher(self) -> Searcher:
        if self.searcher is None:
            raise FailedPrecondition("engine is not started")
        return self.searcher

    # ---- collections ---------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> CollectionStats:
        check_name(spec.name)
        s = self.settings
        embedder = self.embedders.resolve(spec.embedder)
        dim = spec.dimension
        if embedder != "none":
            emb_dim = await asyncio.to_thread(lambda: self.embedders.get(embedder).dimension)
            if dim and dim != emb_dim:
                raise InvalidArgument(f"{dim} does not match embedder {embedder} ({emb_dim})", field="dimension")
            dim = emb_dim
        if dim <= 0:
            raise InvalidArgument("required when the embedder is 'none'", field="dimension")
        if dim % 8 or dim > 32768:
            raise InvalidArgument(f"{dim} must be a multiple of 8 and at most 32768", field="dimension")
        oversample = spec.default_oversample or s.default_oversample
        if not 1 <= oversample <= MAX_OVERSAMPLE:
            raise InvalidArgument(f"{oversample} not in 1..{MAX_OVERSAMPLE}", field="default_oversample")
        index = self._idx.default_index(s.ivf_nlist, s.ivf_nprobe)
        if spec.index is not None and spec.index.type:
            index = IndexConfig(
                spec.index.type.upper(),
                {**(index.build_params if spec.index.type.upper() == index.type else {}), **spec.index.build_params},
                {**(index.search_params if spec.index.type.upper() == index.type else {}), **spec.index.search_params},
            )
        elif spec.index is not None:
            index.build_params.update(spec.index.build_params)
            index.search_params.update(spec.index.search_params)
        self._idx.check_index(index)
        gate = self._resolve_gate(spec.gate)
        consistency = spec.consistency_level or s.milvus_consistency
        if consistency not in CONSISTENCY_LEVELS:
            raise InvalidArgument(f"{consistency!r}: one of {list(CONSISTENCY_LEVELS)}", field="consistency_level")
        if spec.partition_key:
            if self._idx.lite:  # measured: Milvus Lite 2.5 rejects queries on partition-key collections
                raise InvalidArgument("needs a Milvus server (standalone or distributed); Milvus Lite does "
                                      "not support partition keys", field="partition_key")
            if not filters.is_metadata_key(spec.partition_key):
                raise InvalidArgument(f"{spec.partition_key!r} is not a metadata key ([A-Za-z_][A-Za-z0-9_]*)",
                                      field="partition_key")
            if not 0 <= spec.num_partitions <= 1024:
                raise InvalidArgument(f"{spec.num_partitions} not in 1..1024", field="num_partitions")
        elif spec.num_partitions:
            raise InvalidArgument("only with partition_key", field="num_partitions")
        tier = closed(Tier, spec.tier or s.tier, "tier")
        spec = dataclasses.replace(spec, consistency_level=consistency, tier=tier.value,
                                   num_partitions=(spec.num_partitions or 64) if spec.partition_key else 0)

        async with self._admin:
            catalog_lock = self.catalog.lock()
            await asyncio.to_thread(catalog_lock.acquire)
            try:
                return await self._create_locked(spec, dim, embedder, index, oversample, gate)
            finally:
                catalog_lock.release()

    async def _create_locked(
        self, spec: CollectionSpec, dim: int, embedder: str, index: IndexConfig, oversample: int, gate: GateConfig
    ) -> CollectionStats:
        """The caller holds the admin lock and the catalog's flock (no other replica creates now)."""
        if spec.name in self._collections or self.catalog.signature(spec.name) is not None:
            raise AlreadyExists(f"collection {spec.name!r} already exists", field="name")
        m = Manifest(
            name=spec.name,
            dimension=dim,
            embedder=embedder,
            index=index,
            default_oversample=oversample,
            description=spec.description,
            thresholds=[0.0] * dim,  # sign bits; documents and queries share them
            milvus_collection=f"bitrag_{spec.name}",
            gate=gate,
            consistency_level=spec.consistency_level,
            partition_key=spec.partition_key,
            num_partitions=spec.num_partitions,
            layout=LAYOUT,
            tier=spec.tier,
        )
        # The directory first (without a manifest it marks a create in progress: a start's sweep
        # drops the Milvus collection of one that was killed), then Milvus, the manifest last: its
        # existence is the commit point.
        self.catalog.dir(m.name).mkdir(parents=True, exist_ok=True)
        for leftover in (VECTORS, CODES, TIER, LIVE, RECORDS, RECORD_INDEX, recovery.JOURNAL, compact.JOURNAL):
            (self.catalog.dir(m.name) / leftover).unlink(missing_ok=True)
        fsync_dir(self.catalog.root)
        await asyncio.to_thread(
            lambda: self._idx.create(
                m.milvus_collection, dim, index, consistency=m.consistency_level,
                partition_key=bool(m.partition_key), num_partitions=m.num_partitions,
            )
        )
        try:
            with self.catalog.collection_lock(m.name):
                coll = self._open(m)
                self.catalog.save(m)
                coll.manifest_sig = self.catalog.signature(m.name)
        except BaseException:
            await asyncio.to_thread(self._idx.drop, m.milvus_collection)
            raise
        self._collections[m.name] = coll
        return await self._stats(coll)

    def _resolve_gate(self, g: GateConfig | None) -> GateConfig:
        s = self.settings
        out = GateConfig(
            target_recall=s.target_recall,
            fallback=[f.strip() for f in s.fallback.split(",") if f.strip()],
            widen_max_rows=s.widen_max_rows,
        )
        if g is None:
            return out
        if g.target_recall:
            if not 0 < g.target_recall <= 1:
                raise InvalidArgument(f"{g.target_recall} not in (0, 1]", field="gate.target_recall")
            out.target_recall = g.target_recall
        if not 0 <= g.confidence_threshold <= 1:
            raise InvalidArgument(f"{g.confidence_threshold} not in [0, 1]", field="gate.confidence_threshold")
        out.confidence_threshold = g.confidence_threshold
        if g.fallback:
            for i, f in enumerate(g.fallback):
                if f not in FALLBACKS:
                    raise InvalidArgument(f"unknown fallback {f!r}: one of {list(FALLBACKS)}", field=f"gate.fallback[{i}]")
            out.fallback = list(g.fallback)
        if g.widen_max_rows:
            if not 1 <= g.widen_max_rows <= s.max_candidates:
                raise InvalidArgument(f"{g.widen_max_rows} not in 1..{s.max_candidates}", field="gate.widen_max_rows")
            out.widen_max_rows = g.widen_max_rows
        out.fallback_collection = g.fallback_collection
        out.fallback_vector_field = g.fallback_vector_field or "vector"
        out.legacy_store = _check_legacy_store(g.legacy_store, "gate.legacy_store")
        if "collection" in out.fallback and not out.legacy_store.source:
            if not out.fallback_collection:
                raise InvalidArgument("required by the 'collection' fallback (or a gate.legacy_store)",
                                      field="gate.fallback_collection")
            if not self._idx.exists(out.fallback_collection):
                raise InvalidArgument(f"Milvus collection {out.fallback_collection!r} does not exist",
                                      field="gate.fallback_collection")
        return out

    async def list_collections(self) -> list[CollectionStats]:
        out = []
        for name in sorted(set(self.catalog.names()) | set(self._collections)):
            try:
                out.append(await self._stats(await self._get(name, "name")))
            except NotFound:  # dropped meanwhile
                continue
        return out

    async def describe(self, name: str) -> CollectionStats:
        return await self._stats(await self._get(name, "name"))

    async def _stats(self, live: Collection) -> CollectionStats:
        c = live.view()  # a compaction's switch cannot drop the Milvus collection counted here
        try:
            return await self._stats_of(c)
        finally:
            live.release(c)

    async def _stats_of(self, c: Collection) -> CollectionStats:
        m = c.manifest
        rows = await asyncio.to_thread(self._idx.count, c.milvus)
        return CollectionStats(
            name=m.name,
            dimension=m.dimension,
            embedder=m.embedder,
            index=m.index,
            default_oversample=m.default_oversample,
            description=m.description,
            rows=rows,
            float_rows=c.floats.refresh(),
            bytes_in_ram=rows * m.dimension // 8,
            bytes_on_disk=c.floats.bytes_on_disk,
            dead_rows=max(0, c.floats.rows - rows),
            row_file_bytes=c.row_file_bytes(),
            compactions=m.compactions,
            generation=m.generation,
            created_unix_ms=m.created_unix_ms,
            gate=m.gate,
            calibration=c.calibration,
            threshold=c.threshold(),
            consistency_level=m.consistency_level or self.settings.milvus_consistency,
            partition_key=m.partition_key,
            num_partitions=m.num_partitions,
            tier=c.middle_tier().tier.value,
            bytes_tier=c.tier_store.bytes_on_disk if c.tier_store is not None else 0,
            plan=c.plan.to_dict(),
        )

    async def drop(self, name: str) -> None:
        c = await self._get(name, "name")
        async with self._admin:
            catalog_lock = self.catalog.lock()
            await asyncio.to_thread(catalog_lock.acquire)
            try:
                async with self._write(c):
                    del self._collections[name]
                    c.close()
                    # the rename to trash commits the drop; an interrupted one is finished by the
                    # next start's sweep (stores/catalog.py)
                    await asyncio.to_thread(self.catalog.remove, name, self._drop_milvus_of)
            finally:
                catalog_lock.release()

    # ---- ingest / delete -----------------------------------------------------------------------

    async def ingest(
        self,
        name: str,
        documents: list[DocumentIn],
        records: list[RecordIn],
        chunk_size: int = 0,
        chunk_overlap: int = 0,
        *,
        flush: bool = False,
    ) -> IngestResult:
        """Documents (split and embedded here) and records (vectors given) in; see ingest_pipeline."""
        c = await self._get(name)
        req = ingest_pipeline.Request(name, documents, records, chunk_size, chunk_overlap, flush)
        stores = ingest_pipeline.Stores(self._idx, self.embedders, self._write, self._save)
        return await ingest_pipeline.run(c, req, self.settings, stores)

    async def delete(self, name: str, document_ids: list[str]) -> DeleteResult:
        c = await self._get(name)
        if not document_ids:
            raise InvalidArgument("at least one document id is required", field="document_ids")
        for i, d in enumerate(document_ids):
            if not d:
                raise InvalidArgument("empty document id", field=f"document_ids[{i}]")
        ids = list(dict.fromkeys(document_ids))
        async with self._write(c):
            existing = await asyncio.to_thread(self._idx.rows_of_documents, c.milvus, ids)
            rows = [row for lst in existing.values() for row in lst]
            if rows:
                await asyncio.to_thread(recovery.begin, c, "delete", None, rows)
                c.live.mark(rows, False)
                await asyncio.to_thread(self._idx.delete, c.milvus, rows)
                failpoints.hit("delete.deleted")
                c.manifest.generation += 1
                self._save(c)
                await asyncio.to_thread(recovery.end, c)
            return DeleteResult(len(existing), len(rows), c.manifest.generation,
                                missing=[d for d in ids if d not in existing])

    async def list_documents(
        self, name: str, *, page_size: int = 0, page_token: str = "", document_ids: list[str] | None = None,
        prefix: str = "",
    ) -> DocumentPage:
        """The collection's documents in id order, a page at a time (`documents.py`)."""
        c = await self._get(name)
        ids_filter = list(document_ids or [])
        size = documents.check_request(page_size, ids_filter, prefix, ingest_pipeline.DOC_ID_MAX_BYTES)
        after = documents.decode_token(page_token)

        def run() -> DocumentPage:
            if ids_filter:
                wanted = sorted({d for d in ids_filter if d.startswith(prefix) and d > after})
                found = self._idx.rows_of_documents(c.milvus, wanted)
                held = [d for d in wanted if d in found]
                page, more = held[:size], len(held) > size
                chunks = [len(found[d]) for d in page]
                first = [min(found[d]) for d in page]
            else:
                ix = self._document_index(c)
                span, more = documents.select(ix.ids, after, prefix, size)
                page = [ix.ids[i] for i in span]
                chunks = [ix.chunks[i] for i in span]
                first = [ix.first_row[i] for i in span]
            return documents.page_of(page, chunks, c.records.get(first), more)

        return await asyncio.to_thread(run)

    def _document_index(self, c: Collection) -> documents.DocumentIndex:
        """Every live document of the collection's current generation (one scan per generation)."""
        key = (c.milvus, c.manifest.generation, c.manifest.compactions)
        ix = c.doc_index
        if isinstance(ix, documents.DocumentIndex) and ix.key == key:
            return ix
        ix = documents.build_index(key, self._idx.iterate(c.milvus, ["row", "doc_id"], documents.SCAN_BATCH))
        c.doc_index = ix
        return ix

    async def fetch(self, name: str, document_ids: list[str], include_vectors: bool) -> tuple[list[RecordIn], list[str]]:
        """The live chunks of documents, in row order, with their float32 rows exactly as stored;
        and the requested ids that have none."""
        c = await self._get(name)
        if not 1 <= len(document_ids) <= MAX_FETCH_DOCUMENTS:
            raise InvalidArgument(f"{len(document_ids)} ids: 1..{MAX_FETCH_DOCUMENTS} per request", field="document_ids")
        for i, d in enumerate(document_ids):
            check_id(d, f"document_ids[{i}]")
        ids = list(dict.fromkeys(document_ids))
        found = await asyncio.to_thread(self._idx.rows_of_documents, c.milvus, ids)
        rows = sorted(r for lst in found.values() for r in lst)

        def read() -> tuple[list[dict[str, Any]], np.ndarray | None]:
            recs = c.records.get(rows)
            vecs = c.floats.gather(np.asarray(rows, np.int64)) if include_vectors and rows else None
            return recs, vecs

        recs, vecs = await asyncio.to_thread(read)
        out = [
            RecordIn(id=r.get("chunk_id", ""), document_id=r.get("doc_id", ""),
                     vector=vecs[i] if vecs is not None else np.empty(0, np.float32),
                     text=r.get("text", ""), metadata=r.get("metadata") or {})
            for i, r in enumerate(recs)
        ]
        return out, [d for d in ids if d not in found]

    async def set_legacy_store(self, name: str, legacy: LegacyStore, fallback: list[str]) -> CollectionStats:
        """Name (or, with an empty source, unlink) the float32 store a collection is migrating
        from; optionally a new fallback chain. Unlinking drops "collection" from the chain unless
        a fallback_collection in bitrag's Milvus still serves it."""
        c = await self._get(name)
        legacy = _check_legacy_store(legacy, "legacy_store")
        for i, f in enumerate(fallback):
            if f not in FALLBACKS:
                raise InvalidArgument(f"unknown fallback {f!r}: one of {list(FALLBACKS)}", field=f"fallback[{i}]")
        async with self._write(c):
            g = c.manifest.gate
            served = bool(legacy.source or g.fallback_collection)  # something answers "collection"
            chain = list(fallback) if fallback else [f for f in g.fallback if served or f != "collection"]
            if "collection" in chain and not served:
                raise InvalidArgument("the 'collection' fallback needs a legacy store", field="fallback")
            c.manifest.gate = dataclasses.replace(g, legacy_store=legacy, fallback=chain)
            self._save(c)
        return await self._stats(c)

    # ---- search --------------------------------------------------------------------------------

    async def manifest(self, name: str) -> Manifest:
        """A collection's manifest (read only): dimension, embedder, generation, creation time."""
        return (await self._get(name)).manifest

    async def embed_query(self, name: str, text: str, field: str = "text") -> np.ndarray:
        """Query text -> the collection embedder's L2-normalised vector [d]."""
        m = (await self._get(name)).manifest
        embedder = self.embedders.get(m.embedder) if m.embedder != "none" else None
        if embedder is None:
            hint = "send a query vector" if field == "text" else "asking needs a collection with an embedder"
            raise FailedPrecondition(f"collection {m.name!r} has no embedder: {hint}", field=field)
        return (await asyncio.to_thread(embedder.embed, [text]))[0]

    async def search(self, q: SearchQuery) -> SearchResult:
        s = self.settings
        c = await self._get(q.collection)
        m = c.manifest
        if not 1 <= q.top_k <= s.max_top_k:
            raise InvalidArgument(f"{q.top_k} not in 1..{s.max_top_k}", field="top_k")
        oversample = q.oversample or m.default_oversample
        if not 1 <= oversample <= MAX_OVERSAMPLE:
            raise InvalidArgument(f"{oversample} not in 1..{MAX_OVERSAMPLE}", field="oversample")
        mode = closed(Mode, q.mode, "mode")
        th = q.confidence_threshold
        if th is not None and not (0.0 <= th <= 1.0 and math.isfinite(th)):
            raise InvalidArgument(f"{th} not in [0, 1]", field="confidence_threshold")
        expr = filters.to_milvus_expr(q.filter, partition_key=m.partition_key)
        timer = Timer()
        if q.vector is not None:
            if q.vector.shape[0] != m.dimension:
                raise InvalidArgument(
                    f"dimension {q.vector.shape[0]} does not match collection {m.name!r} ({m.dimension})",
                    field="vector",
                )
            query = q.vector
        elif q.text is not None and q.text.strip():
            query = await self.embed_query(m.name, q.text)
            timer.lap("embed")
        else:
            raise InvalidArgument("empty query: send text or a vector", field="query")
        # The search runs in a worker thread on a snapshot of the collection (a compaction may
        # switch its files meanwhile); `cancel` is set when the caller leaves (the RPC is cancelled
        # or its deadline passes: the handler task is cancelled), and the searcher stops at its
        # next check instead of finishing Milvus calls and scans nobody waits for.
        cancel = q.cancel if q.cancel is not None else threading.Event()
        view = c.view()

        def run() -> SearchResult:
            try:
                return self._searcher.search(
                    view, query, top_k=q.top_k, oversample=oversample, expr=expr, mode=mode,
                    threshold_override=th, timer=timer, cancel=cancel, filter_text=q.filter,
                )
            finally:
                c.release(view)

        try:
            result = await asyncio.to_thread(run)
        except asyncio.CancelledError:
            cancel.set()
            raise
        if self.legacy is not None:  # a share of searches shadowed to the legacy store; never waits
            self.legacy.after_search(m.name, m.gate.legacy_store, query, q.top_k, q.filter, result)
        return result

    async def compact(self, name: str, *, force: bool = False) -> compact.CompactResult:
        """Reclaim the row files' space of deleted and replaced rows now (`compact.py`)."""
        return await compact.compact(self, await self._get(name), force=force)

    # ---- calibration ---------------------------------------------------------------------------

    async def calibrate(self, name: str, samples: int = 0) -> tuple[Calibration, int]:
        """Fit the gate on pseudo-queries now. Returns (calibration, duration in microseconds)."""
        c = await self._get(name)
        samples = samples or self.settings.calibration_samples
        if not 20 <= samples <= 5000:
            raise InvalidArgument(f"{samples} not in 20..5000", field="samples")
        rows = await asyncio.to_thread(self._idx.count, c.milvus)
        if rows < 2 * 10:
            raise FailedPrecondition(f"collection {name!r} has {rows} rows; calibration needs at least 20")
        t0 = time.perf_counter_ns()
        await self._recalibrate(c, samples)
        return c.calibration, (time.perf_counter_ns() - t0) // 1000

    async def _recalibrate(self, c: Collection, samples: int) -> None:
        await self._fit_tier(c)
        fit = await asyncio.to_thread(self._calibrate_locked, c, samples)
        await self._install(c, fit.calibration, fit.plan)

    def _verify_locked(self, c: Collection) -> Calibration | None:
        with c.calibrating:  # not while a compaction switches the row files
            return calibrate.verify_served(c, self._searcher, self.settings)

    def _calibrate_locked(self, c: Collection, samples: int) -> CalibrationFit:
        with c.calibrating:  # one calibration of a collection at a time
            return calibrate.calibrate_pseudo(c, self._searcher, samples)

    async def _fit_tier(self, c: Collection) -> None:
        """A multi-bit tier's quantizer is fitted to the collection's data (per-dimension ranges of
        a sample of rows) the first time the collection is calibrated, and again when it has grown
        TIER_REFIT_GROWTH times since; its codes are then rebuilt from the floats into a new file
        that replaces the old one atomically (the write lock keeps ingest out meanwhile)."""
        m = c.manifest
        if Tier(m.tier) not in TIER_BITS:
            return
        rows = c.floats.refresh()
        fitted_at = int(m.tier_quantizer.get("rows", 0)) if m.tier_quantizer else 0
        if m.tier_quantizer and rows < TIER_REFIT_GROWTH * max(1, fitted_at):
            return
        try:
            async with self._write(c):
                await asyncio.to_thread(self._build_tier, c, TIER_BITS[Tier(m.tier)])
        except NotFound:  # dropped meanwhile
            return

    def _build_tier(self, c: Collection, bits: int) -> None:
        n = c.floats.rows
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(n, size=min(n, TIER_FIT_ROWS), replace=False))
        q = ScalarQuantizer.fit(c.floats.gather(sample), bits)
        d = self.catalog.dir(c.name)
        tmp = d / (TIER + ".new")
        tmp.unlink(missing_ok=True)
        new = TierStore(tmp, q.row_bytes)
        try:
            for _, block in c.floats.blocks():
                new.append(q.encode(block))
        finally:
            new.close()
        os.replace(tmp, d / TIER)
        fsync_dir(d)
        c.manifest.tier_quantizer = {**q.to_dict(), "rows": n}
        self._save(c)
        self._open_tier(c)
        log.info("collection %s: %d-bit tier fitted on %d rows and built for %d rows", c.name, bits, sample.size, n)

    async def _install(self, c: Collection, cal: Calibration, plan: SearchPlan | None = None) -> None:
        try:
            async with self._write(c):
                c.calibration = cal
                c.manifest.calibration = asdict(cal)
                if plan is not None:
                    c.manifest.plan = plan.to_dict()
                self._save(c)
        except NotFound:  # dropped (or dropped and re-created) meanwhile
            return

    def _needs_calibration(self, c: Collection) -> bool:
        s = self.settings
        rows = c.floats.refresh()
        if rows < s.calibration_min_rows or c.calibrating.locked():
            return False
        cal = c.calibration
        if not cal.calibrated:
            return True
        return cal.source == "pseudo" and rows >= s.recalibrate_growth * max(1, cal.rows_at_calibration)

    async def _calibration_loop(self) -> None:
        """Background: verify sampled served queries, refit from them; calibrate collections that
        were never calibrated or have grown."""
        while True:
            await asyncio.sleep(CALIBRATION_INTERVAL_S)
            for c in list(self._collections.values()):
                try:
                    if c.pending and not c.calibrating.locked():
                        cal = await asyncio.to_thread(self._verify_locked, c)
                        if cal is not None:
                            await self._install(c, cal)
                    if self._needs_calibration(c):
                        await self._recalibrate(c, self.settings.calibration_samples)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - calibration must never take the server down
                    if self._collections.get(c.name) is not c:  # dropped under it: nothing to fit
                        log.info("background calibration of %s stopped: the collection was dropped", c.name)
                    else:
                        log.exception("background calibration of %s failed", c.name)


def _check_legacy_store(ls: LegacyStore, field: str) -> LegacyStore:
    """Shape only (the store is opened on first use, so a legacy store that is down never blocks
    a create): a known source kind, a share in [0, 1]."""
    if not ls.source:
        if ls.shadow_rate:
            raise InvalidArgument("a shadow rate needs a legacy store source", field=f"{field}.shadow_rate")
        return LegacyStore()
    kind = ls.source.partition(":")[0]
    if kind not in LEGACY_KINDS or ":" not in ls.source:
        raise InvalidArgument(f"{ls.source!r}: expected KIND:LOCATION, KIND one of {list(LEGACY_KINDS)}",
                              field=f"{field}.source")
    if not (0.0 <= ls.shadow_rate <= 1.0 and math.isfinite(ls.shadow_rate)):
        raise InvalidArgument(f"{ls.shadow_rate} not in [0, 1]", field=f"{field}.shadow_rate")
    return ls


def _calibration_of(m: Manifest) -> Calibration:
    return Calibration(**m.calibration) if m.calibration else Calibration(target_recall=m.gate.target_recall)


def _note_write_ts(m: Manifest) -> None:
    """Make this process's Session reads of the collection wait for the last write recorded in its
    manifest (possibly another replica's)."""
    if m.milvus_write_ts:
        ts_utils.update_collection_ts(m.milvus_collection, m.milvus_write_ts)


# ---- validation helpers --------------------------------------------------------------------------


def parse_vector(data: bytes, field: str) -> np.ndarray:
    """float32 little-endian bytes -> L2-normalised `[d]` float32, or InvalidArgument naming `field`."""
    if not data:
        raise InvalidArgument("empty vector", field=field)
    if len(data) % 4:
        raise InvalidArgument(f"{len(data)} bytes is not a multiple of 4 (float32)", field=field)
    v = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.isfinite(v).all():
        bad = int(np.flatnonzero(~np.isfinite(v))[0])
        raise InvalidArgument(f"non-finite value at index {bad} ({v[bad]})", field=field)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not math.isfinite(norm):
        raise InvalidArgument("zero vector has no direction", field=field)
    # Unit vectors are kept as sent, bit for bit (an imported float32 store stays verifiable);
    # dividing by a norm this close to 1 would move scores by less than 1e-5 anyway.
    return v if abs(norm - 1.0) <= UNIT_NORM_TOLERANCE else v / norm
