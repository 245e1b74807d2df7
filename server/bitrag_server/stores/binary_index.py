"""The Milvus binary collection: packed sign codes (BINARY_VECTOR, metric HAMMING) with the chunk's
ids, text and metadata. The same class serves Milvus Lite (a local .db file, BIN_FLAT only) and a
Milvus server (standalone or distributed, by URI; BIN_IVF_FLAT by default).

Schema: row INT64 (primary key == row number in the float store), code BINARY_VECTOR(dim),
chunk_id / doc_id / doc_hash VARCHAR, text VARCHAR, metadata JSON.

pymilvus is synchronous; callers run these methods in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..errors import Internal, InvalidArgument, Unavailable
from .catalog import IndexConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_MAX_BYTES = 65535
ID_MAX_BYTES = 512
INSERT_BATCH = 2000
QUERY_LIMIT = 16384  # Milvus' cap on (offset + limit) of one query / search


@dataclass
class Candidates:
    ids: np.ndarray  # [C] int64, Hamming order
    distances: np.ndarray  # [C] int32


def _milvus_call(what: str, fn: Callable[[], T]) -> T:
    """Run a pymilvus call; connection trouble -> Unavailable (retryable), else Internal."""
    from pymilvus.exceptions import MilvusException

    try:
        return fn()
    except MilvusException as exc:
        msg = str(getattr(exc, "message", exc))
        code = getattr(exc, "code", None)
        if code in (1, 2) or "connect" in msg.lower() or "unavailable" in msg.lower():
            raise Unavailable(f"Milvus {what} failed: {msg}") from exc
        if "expr" in msg.lower():
            raise InvalidArgument(f"rejected by Milvus: {msg}", field="filter") from exc
        raise Internal(f"Milvus {what} failed: {msg}") from exc
    except Exception as exc:  # grpc errors, timeouts, broken sockets
        name = type(exc).__name__
        if "RpcError" in name or "Timeout" in name or "Connection" in name:
            raise Unavailable(f"Milvus {what} failed: {name}: {exc}") from exc
        raise


class BinaryIndex:
    def __init__(self, uri: str, *, token: str = "", consistency: str = "Strong", lite: bool) -> None:
        from pymilvus import MilvusClient

        self.uri = uri
        self.lite = lite
        self.consistency = consistency
        kw: dict[str, Any] = {"uri": uri}
        if token:
            kw["token"] = token
        self._client = _milvus_call("connect", lambda: MilvusClient(**kw))

    # ---- collections -------------------------------------------------------------------------

    def default_index(self, nlist: int, nprobe: int) -> IndexConfig:
        if self.lite:
            return IndexConfig("BIN_FLAT", {}, {})
        return IndexConfig("BIN_IVF_FLAT", {"nlist": nlist}, {"nprobe": nprobe})

    def check_index(self, index: IndexConfig) -> None:
        allowed = {"BIN_FLAT"} if self.lite else {"BIN_FLAT", "BIN_IVF_FLAT"}
        if index.type not in allowed:
            raise InvalidArgument(
                f"{index.type!r} is not available on this Milvus ({'Lite' if self.lite else 'server'});"
                f" choose one of {sorted(allowed)}",
                field="index.type",
            )

    def exists(self, coll: str) -> bool:
        return _milvus_call("has_collection", lambda: self._client.has_collection(coll))

    def create(self, coll: str, dim: int, index: IndexConfig) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("code", DataType.BINARY_VECTOR, dim=dim)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
        schema.add_field("metadata", DataType.JSON)
        params = self._client.prepare_index_params()
        params.add_index("code", index_type=index.type, metric_type="HAMMING", params=index.build_params)

        def create() -> None:
            if self._client.has_collection(coll):  # never acknowledged: a crash before the manifest
                self._client.drop_collection(coll)
            self._client.create_collection(
                coll, schema=schema, index_params=params, consistency_level=self.consistency
            )
            self._client.load_collection(coll)

        _milvus_call("create_collection", create)

    def drop(self, coll: str) -> None:
        def drop() -> None:
            if self._client.has_collection(coll):
                self._client.drop_collection(coll)

        _milvus_call("drop_collection", drop)

    def count(self, coll: str) -> int:
        res = _milvus_call(
            "count", lambda: self._client.query(coll, filter="", output_fields=["count(*)"])
        )
        return int(res[0]["count(*)"])

    # ---- rows --------------------------------------------------------------------------------

    def insert(self, coll: str, rows: Sequence[dict[str, Any]]) -> None:
        for i in range(0, len(rows), INSERT_BATCH):
            batch = list(rows[i : i + INSERT_BATCH])
            _milvus_call("insert", lambda b=batch: self._client.insert(coll, b))

    def delete(self, coll: str, pks: Iterable[int]) -> None:
        pks = [int(p) for p in pks]
        for i in range(0, len(pks), INSERT_BATCH):
            batch = pks[i : i + INSERT_BATCH]
            _milvus_call("delete", lambda b=batch: self._client.delete(coll, ids=b))
        if pks and not self.lite and self.consistency == "Session":
            # Session reads wait for this client's last write timestamp, but a Milvus 2.3 server
            # answers a delete without one (pymilvus keeps the last insert's), so later reads could
            # still see the deleted rows. One Strong read waits until the deletes are applied.
            _milvus_call(
                "delete",
                lambda: self._client.query(
                    coll, filter=f"row in [{pks[-1]}]", output_fields=["row"], consistency_level="Strong"
                ),
            )

    def rows_of_documents(self, coll: str, doc_ids: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        """doc_id -> [(row, doc_hash), ...] for the given documents."""
        out: dict[str, list[tuple[int, str]]] = {}
        for i in range(0, len(doc_ids), 256):
            batch = list(doc_ids[i : i + 256])
            expr = f"doc_id in {_str_list(batch)}"
            res = _milvus_call(
                "query",
                lambda e=expr: self._client.query(
                    coll, filter=e, output_fields=["row", "doc_id", "doc_hash"], limit=QUERY_LIMIT
                ),
            )
            for r in res:
                out.setdefault(r["doc_id"], []).append((int(r["row"]), r["doc_hash"]))
        return out

    def live_rows(self, coll: str, pks: Sequence[int], expr: str = "") -> set[int]:
        """The subset of `pks` that exist (not deleted) and match `expr`."""
        out: set[int] = set()
        for i in range(0, len(pks), QUERY_LIMIT):
            batch = [int(p) for p in pks[i : i + QUERY_LIMIT]]
            e = f"row in {batch}" + (f" and ({expr})" if expr else "")
            res = _milvus_call(
                "query", lambda e=e, n=len(batch): self._client.query(coll, filter=e, output_fields=["row"], limit=n)
            )
            out.update(int(r["row"]) for r in res)
        return out

    def matching_rows(self, coll: str, expr: str) -> np.ndarray:
        """Every live row matching `expr` (all of them: iterates past Milvus' 16384 window)."""
        def run() -> np.ndarray:
            it = self._client.query_iterator(coll, batch_size=QUERY_LIMIT // 2, filter=expr, output_fields=["row"])
            rows: list[int] = []
            try:
                while batch := it.next():
                    rows.extend(int(r["row"]) for r in batch)
            finally:
                it.close()
            return np.asarray(rows, dtype=np.int64)

        return _milvus_call("query_iterator", run)

    def get(self, coll: str, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
        """row -> {chunk_id, doc_id, text, metadata} for the given primary keys."""
        if not len(pks):
            return {}
        res = _milvus_call(
            "get",
            lambda: self._client.get(
                coll, ids=[int(p) for p in pks], output_fields=["chunk_id", "doc_id", "text", "metadata"]
            ),
        )
        return {int(r["row"]): r for r in res}

    def search(
        self, coll: str, code: bytes, limit: int, expr: str, search_params: dict[str, int]
    ) -> Candidates:
        """Hamming nearest codes: limit best (row, distance), ascending distance."""
        res = _milvus_call(
            "search",
            lambda: self._client.search(
                coll,
                data=[code],
                anns_field="code",
                limit=limit,
                filter=expr,
                search_params={"metric_type": "HAMMING", "params": dict(search_params)},
            ),
        )
        hits = res[0]
        ids = np.fromiter((h["id"] for h in hits), dtype=np.int64, count=len(hits))
        dists = np.fromiter((h["distance"] for h in hits), dtype=np.int32, count=len(hits))
        return Candidates(ids, dists)

    def search_float(
        self, coll: str, field: str, query: np.ndarray, limit: int, expr: str
    ) -> list[dict[str, Any]]:
        """Search a float32 collection (e.g. the RAG index being migrated from): entities with
        "id" (primary key) and "distance" (the collection's metric: IP/COSINE similarity)."""
        res = _milvus_call(
            "search",
            lambda: self._client.search(
                coll, data=[query.astype(np.float32).tolist()], anns_field=field, limit=limit, filter=expr,
                output_fields=["*"],
            ),
        )
        out = []
        for h in res[0]:
            ent = dict(h.get("entity") or {})
            ent.pop(field, None)
            out.append({**ent, "id": h["id"], "distance": h["distance"]})
        return out

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error
            log.debug("closing Milvus client failed", exc_info=True)


def _str_list(values: Sequence[str]) -> str:
    import json

    return "[" + ", ".join(json.dumps(v) for v in values) + "]"
