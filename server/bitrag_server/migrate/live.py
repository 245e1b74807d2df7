"""Inside the server: reads of a collection's legacy store during a migration.

  shadow   after a search has been answered, a share (`legacy_store.shadow_rate`) of searches is
           sent to the legacy store too, from the event loop as a task on a small thread pool of
           its own: the answer never waits for it, and searches never wait for its threads. The
           agreement (overlap@k of the two top-k) and both latencies become Prometheus metrics
           (metrics.py: bitrag_shadow_*). When more than `shadow_max_inflight` reads are pending,
           the sample is dropped (counted), never queued.
  fallback the `collection` fallback answers from the legacy store (scores as cosine similarities,
           sources.py); a store that is down, or a filter it cannot express, moves the search to
           the next fallback instead of failing it.
  cutover  BITRAG_LEGACY_READS=false turns both off server-wide (the `collection` fallback is then
           skipped, the chain goes on); per collection, SetLegacyStore with an empty store.

Stores are opened on first use (in a worker thread) and kept, one per distinct configuration.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import random
import threading
import time
from typing import Any

import numpy as np

from .. import metrics
from ..domain import Hit, SearchResult
from ..stores.catalog import LegacyStore
from . import legacy_filter
from .sources import FieldMap, Source, open_source

log = logging.getLogger(__name__)


class LegacyReads:
    def __init__(self, *, enabled: bool = True, max_inflight: int = 4, token: str = "") -> None:
        self.enabled = enabled
        self.max_inflight = max_inflight
        self.token = token
        self._stores: dict[tuple[Any, ...], Source] = {}
        self._locks: dict[tuple[Any, ...], Any] = {}  # a Lock, or a nullcontext
        self._open_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_inflight), thread_name_prefix="shadow")
        self._inflight = 0
        self._tasks: set[asyncio.Task] = set()

    # ---- stores --------------------------------------------------------------------------------

    @staticmethod
    def _key(ls: LegacyStore) -> tuple[Any, ...]:
        return (ls.source, ls.collection, ls.vector_field, ls.text_field, ls.document_id_field, ls.id_field)

    def _store(self, ls: LegacyStore) -> tuple[Source, Any]:
        key = self._key(ls)
        with self._open_lock:
            src = self._stores.get(key)
            if src is None:
                f = FieldMap(ls.vector_field, ls.text_field, ls.document_id_field, ls.id_field)
                src = open_source(ls.source, ls.collection, f, token=self.token)
                self._stores[key] = src
                # qdrant-client's local mode is not thread-safe: its reads take turns. Every other
                # client here is (gRPC / HTTP clients, read-only numpy), so the `collection`
                # fallback never waits behind a shadow read.
                local_qdrant = src.kind == "qdrant" and not src.info.location.startswith(("http://", "https://"))
                self._locks[key] = threading.Lock() if local_qdrant else contextlib.nullcontext()
            return src, self._locks[key]

    def search(self, ls: LegacyStore, query: np.ndarray, k: int, filter_text: str) -> list[Any]:
        """The legacy store's top-k (sources.LegacyHit)."""
        src, lock = self._store(ls)
        with lock:
            return src.search(query, k, filter_text)

    # ---- the `collection` fallback -----------------------------------------------------------------

    def fallback(self, collection: str, ls: LegacyStore, query: np.ndarray, top_k: int, filter_text: str) -> list[Hit] | None:
        """Hits from the legacy store, or None: the fallback is skipped (reads switched off, the
        store unreachable, a filter it cannot express) and the chain goes on."""
        if not self.enabled:
            metrics.LEGACY_FALLBACK.labels(collection, "disabled").inc()
            return None
        try:
            res = self.search(ls, query, top_k, filter_text)
        except legacy_filter.Unsupported as exc:
            log.info("collection %s: legacy fallback skipped: %s", collection, exc)
            metrics.LEGACY_FALLBACK.labels(collection, "unsupported_filter").inc()
            return None
        except Exception:
            log.warning("collection %s: legacy store %s failed; next fallback", collection, ls.source, exc_info=True)
            metrics.LEGACY_FALLBACK.labels(collection, "error").inc()
            return None
        metrics.LEGACY_FALLBACK.labels(collection, "answered").inc()
        return [Hit(chunk_id=h.id, document_id=h.document_id, score=float(h.similarity), text=h.text,
                    metadata=h.metadata, hamming_distance=0) for h in res]

    # ---- live shadow reads ----------------------------------------------------------------------

    def after_search(self, collection: str, ls: LegacyStore, query: np.ndarray, top_k: int, filter_text: str,
                     result: SearchResult) -> None:
        """Maybe shadow this (already answered) search; returns at once. Call on the event loop."""
        if not (self.enabled and ls.source and ls.shadow_rate > 0):
            return
        if result.diagnostics.path == "FALLBACK_COLLECTION":  # answered by the legacy store itself
            return
        if random.random() >= ls.shadow_rate:
            return
        if self._inflight >= self.max_inflight:
            metrics.SHADOW_READS.labels(collection, "dropped_busy").inc()
            return
        self._inflight += 1
        ids = [h.chunk_id for h in result.hits]
        task = asyncio.get_running_loop().create_task(
            self._shadow(collection, dataclasses.replace(ls), query.copy(), top_k, filter_text, ids,
                         result.diagnostics.total_us / 1e6))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._inflight -= 1

    async def _shadow(self, collection: str, ls: LegacyStore, query: np.ndarray, k: int, filter_text: str,
                      bitrag_ids: list[str], bitrag_s: float) -> None:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            hits = await loop.run_in_executor(self._pool, self.search, ls, query, k, filter_text)
        except legacy_filter.Unsupported:
            metrics.SHADOW_READS.labels(collection, "unsupported_filter").inc()
            return
        except Exception:
            log.warning("collection %s: shadow read of %s failed", collection, ls.source, exc_info=True)
            metrics.SHADOW_READS.labels(collection, "error").inc()
            return
        legacy_s = time.perf_counter() - t0
        overlap = len(set(bitrag_ids[:k]) & {h.id for h in hits[:k]}) / k
        metrics.observe_shadow(collection, overlap, bitrag_s, legacy_s)

    async def drain(self) -> None:
        """Wait for pending shadow reads (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._open_lock:
            for src in self._stores.values():
                try:
                    src.close()
                except Exception:
                    log.debug("closing legacy store failed", exc_info=True)
            self._stores.clear()
