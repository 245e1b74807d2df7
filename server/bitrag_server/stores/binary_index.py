"""The Milvus binary collection: packed sign codes (BINARY_VECTOR, metric HAMMING) with what
searches and writes filter on. The same class serves Milvus Lite (a local .db file, BIN_FLAT only)
and a Milvus server (standalone or distributed, by URI; BIN_IVF_FLAT by default).

Schema: row INT64 (primary key == row number in the float store), code BINARY_VECTOR(dim),
doc_id VARCHAR (Trie index: ingest and delete look rows up by document), metadata JSON (filters),
and with a partition key its PARTITION_FIELD. Chunk ids, text and document hashes live in the data
directory (stores/record_store.py); collections created before that also hold LEGACY_FIELDS.

pymilvus is synchronous; callers run these methods in a worker thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..errors import Internal, InvalidArgument, Unavailable
from .catalog import IndexConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_MAX_BYTES = 65535
LEGACY_FIELDS = ("chunk_id", "doc_hash", "text")  # in Milvus until manifest layout 2
ID_MAX_BYTES = 512
INSERT_BATCH = 2000
PARTITION_FIELD = "partition"  # the partition-key field of multi-tenant collections
QUERY_LIMIT = 16384  # Milvus' cap on (offset + limit) of one query / search


@dataclass
class Candidates:
    ids: np.ndarray  # [C] int64, Hamming order
    distances: np.ndarray  # [C] int32


def _milvus_call(what: str, fn: Callable[[], T], load: Callable[[], None] | None = None) -> T:
    """Run a pymilvus call; connection trouble -> Unavailable (retryable), else Internal. With
    `load`: a call refused because its collection is not loaded loads it, then runs once more (a
    Milvus 2.3 standalone killed and started again does not load its collections by itself)."""
    try:
        return _milvus_call_once(what, fn)
    except Unavailable as exc:
        if load is None or "not loaded" not in exc.message.lower():
            raise
    load()
    return _milvus_call_once(what, fn)


def _milvus_call_once(what: str, fn: Callable[[], T]) -> T:
    from pymilvus.exceptions import DataNotMatchException, MilvusException, ParamError

    try:
        return fn()
    except (DataNotMatchException, ParamError) as exc:  # refused client-side: retrying cannot help
        raise Internal(f"Milvus {what} failed: {getattr(exc, 'message', exc)}") from exc
    except MilvusException as exc:
        msg = str(getattr(exc, "message", exc))
        code = getattr(exc, "code", None)
        low = msg.lower()
        transient = ("connect", "unavailable", "retry timeout", "deadline", "timed out", "not ready", "not loaded",
                     "node not found", "channel not", "no available")
        if code in (1, 2) or any(t in low for t in transient):
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
    def __init__(
        self, uri: str, *, token: str = "", consistency: str = "Strong", lite: bool, timeout_s: int = 10,
        tls: dict[str, str] | None = None,
    ) -> None:
        from pymilvus import MilvusClient

        self.uri = uri
        self.lite = lite
        self.consistency = consistency
        # Every call is bounded, pymilvus' retries included (it bounds them only for an int
        # timeout): a Milvus that is down or restarting costs a caller `timeout_s`, then UNAVAILABLE.
        self.timeout_s = int(timeout_s)
        self._schemas: dict[str, dict[str, Any]] = {}  # collection -> describe_collection (inserts)
        kw: dict[str, Any] = {"uri": uri, "timeout": self.timeout_s}
        if token:
            kw["token"] = token
        if tls:  # certificate paths for TLS / mTLS to a Milvus server
            kw.update(tls, secure=True)
        self._client = _milvus_call("connect", lambda: MilvusClient(**kw))

    @classmethod
    def from_settings(cls, s: Any) -> BinaryIndex:  # s: config.Settings
        """Connect as the server's settings say: URI, token, TLS, consistency, call timeout."""
        tls = {
            k: v for k, v in {
                "server_pem_path": s.milvus_server_pem_path, "ca_pem_path": s.milvus_ca_pem_path,
                "client_pem_path": s.milvus_client_pem_path, "client_key_path": s.milvus_client_key_path,
                "server_name": s.milvus_server_name,
            }.items() if v
        }
        return cls(s.resolved_milvus_uri(), token=s.milvus_token, consistency=s.milvus_consistency,
                   lite=s.is_milvus_lite, timeout_s=s.milvus_timeout_s, tls=tls)

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
        return _milvus_call("has_collection", lambda: self._client.has_collection(coll, timeout=self.timeout_s))

    def create(
        self, coll: str, dim: int, index: IndexConfig, *, consistency: str = "", partition_key: bool = False,
        num_partitions: int = 64, legacy: bool = False,
    ) -> None:
        """The binary collection; with `partition_key`, a PARTITION_FIELD routing rows to
        `num_partitions` partitions by its value (Milvus' partition key: multi-tenancy).
        `legacy`: also LEGACY_FIELDS, the layout of collections created before the records moved
        to the data directory (kept to test their migration)."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("code", DataType.BINARY_VECTOR, dim=dim)
        if legacy:
            schema.add_field("chunk_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        if legacy:
            schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
        schema.add_field("metadata", DataType.JSON)
        if partition_key:
            schema.add_field(PARTITION_FIELD, DataType.VARCHAR, max_length=ID_MAX_BYTES, is_partition_key=True)
        params = self._client.prepare_index_params()
        params.add_index("code", index_type=index.type, metric_type="HAMMING", params=index.build_params)
        # Ingest looks rows up by doc_id. Unindexed, a lookup scans every sealed row (Milvus 2.3,
        # 300k rows: 13.5 ms per 256 ids, with a Trie 5.6 ms; the scan grows with the collection).
        params.add_index("doc_id", index_type="Trie")

        self._schemas.pop(coll, None)

        def create() -> None:
            if self._client.has_collection(coll, timeout=self.timeout_s):  # never acknowledged: a crash before the manifest
                self._client.drop_collection(coll, timeout=self.timeout_s)
            kw: dict[str, Any] = {"num_partitions": num_partitions} if partition_key else {}
            self._client.create_collection(
                coll, schema=schema, index_params=params, consistency_level=consistency or self.consistency,
                timeout=self.timeout_s, **kw,
            )
            self._client.load_collection(coll, timeout=self.timeout_s)

        _milvus_call("create_collection", create)

    @staticmethod
    def row(
        row: int, code: np.ndarray | bytes, doc_id: str, metadata: dict[str, Any], *, partition_key: str = "",
        legacy: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Milvus row as `create` declares it: primary key `row` (the row files' row), the packed
        `code` ([d/8] uint8), the document id and metadata; with the collection's `partition_key`,
        that metadata value as a string in PARTITION_FIELD; for a layout 1 collection, its `legacy`
        fields (LEGACY_FIELDS: chunk id, document hash, text)."""
        out: dict[str, Any] = {
            "row": int(row),
            "code": code if isinstance(code, bytes) else code.tobytes(),
            "doc_id": doc_id,
            "metadata": metadata,
        }
        if partition_key:
            out[PARTITION_FIELD] = str(metadata.get(partition_key, ""))
        if legacy is not None:
            out.update({k: legacy[k] for k in LEGACY_FIELDS})
        return out

    def drop(self, coll: str) -> None:
        self._schemas.pop(coll, None)
        def drop() -> None:
            if self._client.has_collection(coll, timeout=self.timeout_s):
                self._client.drop_collection(coll, timeout=self.timeout_s)

        _milvus_call("drop_collection", drop)

    def _loader(self, coll: str) -> Callable[[], None]:
        """What a read of `coll` runs when Milvus says the collection is not loaded: load it."""
        def load() -> None:
            log.warning("Milvus collection %s is not loaded (a restarted Milvus): loading it", coll)
            _milvus_call_once("load_collection", lambda: self._client.load_collection(coll, timeout=self.timeout_s))

        return load

    def count(self, coll: str) -> int:
        res = _milvus_call(
            "count", lambda: self._client.query(coll, filter="", output_fields=["count(*)"], timeout=self.timeout_s),
            self._loader(coll),
        )
        return int(res[0]["count(*)"])

    # ---- rows --------------------------------------------------------------------------------

    def _schema(self, coll: str, fresh: bool = False) -> dict[str, Any]:
        if fresh or coll not in self._schemas:
            self._schemas[coll] = _milvus_call(
                "describe_collection", lambda: self._client.describe_collection(coll, timeout=self.timeout_s)
            )
        return self._schemas[coll]

    def insert(self, coll: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows (dicts with every field). Sent column by column: pymilvus converts a row
        insert value by value in Python (measured: ~600 us per row, half of a bitrag ingest's CPU at
        1M rows), a column insert in bulk (~60 us per row)."""
        for i in range(0, len(rows), INSERT_BATCH):
            batch = list(rows[i : i + INSERT_BATCH])
            names = set(batch[0])
            for r in batch:
                if set(r) != names:
                    raise Internal(f"Milvus insert: rows with different fields ({sorted(set(r) ^ names)})")
            schema = self._schema(coll)
            if names != {f["name"] for f in schema["fields"]}:  # re-created elsewhere since cached?
                schema = self._schema(coll, fresh=True)
                if unknown := names - {f["name"] for f in schema["fields"]}:
                    raise Internal(f"Milvus insert failed: unexpected fields {sorted(unknown)} in {coll}")
            entities = [
                {"name": f["name"], "type": f["type"], "values": [r[f["name"]] for r in batch]}
                for f in schema["fields"] if f["name"] in names
            ]
            conn = self._client._get_connection()
            _milvus_call("insert", functools.partial(conn.batch_insert, coll, entities, schema=schema,
                                                     timeout=self.timeout_s))

    def flush(self, coll: str) -> None:
        """Seal growing segments so a server indexes them (searches of growing ones are brute force)."""
        if not self.lite:
            _milvus_call("flush", lambda: self._client.flush(coll, timeout=self.timeout_s))

    def delete(self, coll: str, pks: Iterable[int]) -> None:
        pks = [int(p) for p in pks]
        for i in range(0, len(pks), INSERT_BATCH):
            batch = pks[i : i + INSERT_BATCH]
            _milvus_call("delete", functools.partial(self._client.delete, coll, ids=batch, timeout=self.timeout_s),
                         self._loader(coll))
        if pks and not self.lite:
            # Session reads wait for this client's last write timestamp, but a Milvus 2.3 server
            # answers a delete without one (pymilvus keeps the last insert's), so later reads could
            # still see the deleted rows. One Strong read waits until the deletes are applied.
            _milvus_call(
                "delete",
                lambda: self._client.query(
                    coll, filter=f"row in [{pks[-1]}]", output_fields=["row"], consistency_level="Strong",
                    timeout=self.timeout_s,
                ),
                self._loader(coll),
            )

    def rows_of_documents(self, coll: str, doc_ids: Sequence[str]) -> dict[str, list[int]]:
        """doc_id -> its live rows, for the given documents."""
        out: dict[str, list[int]] = {}
        for i in range(0, len(doc_ids), 256):
            batch = list(doc_ids[i : i + 256])
            expr = f"doc_id in {_str_list(batch)}"
            res = _milvus_call("query", functools.partial(
                self._client.query, coll, filter=expr, output_fields=["row", "doc_id"], limit=QUERY_LIMIT,
                timeout=self.timeout_s,
            ), self._loader(coll))
            for r in res:
                out.setdefault(r["doc_id"], []).append(int(r["row"]))
        return out

    def live_rows(self, coll: str, pks: Sequence[int], expr: str = "") -> set[int]:
        """The subset of `pks` that exist (not deleted) and match `expr`."""
        out: set[int] = set()
        for i in range(0, len(pks), QUERY_LIMIT):
            batch = [int(p) for p in pks[i : i + QUERY_LIMIT]]
            e = f"row in {batch}" + (f" and ({expr})" if expr else "")
            res = _milvus_call("query", functools.partial(
                self._client.query, coll, filter=e, output_fields=["row"], limit=len(batch), timeout=self.timeout_s,
            ), self._loader(coll))
            out.update(int(r["row"]) for r in res)
        return out

    def matching_rows(self, coll: str, expr: str) -> np.ndarray:
        """Every live row matching `expr` (all of them: iterates past Milvus' 16384 window)."""
        def run() -> np.ndarray:
            it = self._client.query_iterator(
                coll, batch_size=QUERY_LIMIT // 2, filter=expr, output_fields=["row"], timeout=self.timeout_s
            )
            rows: list[int] = []
            try:
                while batch := it.next():
                    rows.extend(int(r["row"]) for r in batch)
            finally:
                it.close()
            return np.asarray(rows, dtype=np.int64)

        return _milvus_call("query_iterator", run, self._loader(coll))

    def iterate(
        self, coll: str, fields: list[str], batch_size: int, expr: str = "row >= 0"
    ) -> Iterator[list[dict[str, Any]]]:
        """Every live row matching `expr` with `fields`, in batches in row order (backup, migration)."""
        it = _milvus_call("query_iterator", lambda: self._client.query_iterator(
            coll, batch_size=batch_size, filter=expr, output_fields=fields, timeout=self.timeout_s
        ), self._loader(coll))
        try:
            while batch := _milvus_call("query_iterator", it.next):
                yield batch
        finally:
            it.close()

    def search(
        self, coll: str, code: bytes, limit: int, expr: str, search_params: dict[str, int]
    ) -> Candidates:
        """Hamming nearest codes: limit best (row, distance), ascending distance.

        The request goes through pymilvus' own request builder (consistency, Session timestamps)
        and its retry policy, but the response is read straight from the protobuf's id and
        distance arrays: pymilvus' result objects build a Python dict per hit, which costs more
        than the search itself for pools of hundreds of codes (bench/results/milvus_search.md)."""
        from pymilvus.client.prepare import Prepare

        conn = self._client._get_connection()
        request = Prepare.search_requests_with_expr(
            coll, [code], "code", {"metric_type": "HAMMING", "params": dict(search_params)}, limit,
            expr or None, None, [], -1,
        )
        resp = _milvus_call("search", lambda: _search_rpc(conn, request, timeout=self.timeout_s), self._loader(coll))
        res = resp.results
        ids = np.asarray(res.ids.int_id.data, dtype=np.int64)  # [C] (one query)
        dists = np.asarray(res.scores, dtype=np.float32).astype(np.int32)  # Hamming distances as floats
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
                output_fields=["*"], timeout=self.timeout_s,
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


def _search_rpc(conn: Any, request: Any, timeout: int) -> Any:
    """One Search RPC on pymilvus' connection, retried as pymilvus retries (transient codes, rate
    limits) within `timeout`; a failed status raises MilvusException."""
    from pymilvus.client.utils import check_status
    from pymilvus.decorators import retry_on_rpc_failure

    @retry_on_rpc_failure()
    def call(handler: Any, timeout: int) -> Any:  # the decorator expects a method: handler is its self
        resp = handler._stub.Search(request, timeout=timeout)
        check_status(resp.status)
        return resp

    return call(conn, timeout=timeout)


def _str_list(values: Sequence[str]) -> str:
    """A Milvus list literal of strings. Non-ASCII stays as it is: Milvus' expression parser reads
    no `\\uXXXX` escapes (with them, `doc_id in ["b/\\u00fc.txt"]` matches nothing, and a document
    with such an id was never found again: re-ingest duplicated it, delete missed it)."""
    import json

    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


milvus_row = BinaryIndex.row  # the row shape, importable beside the class
