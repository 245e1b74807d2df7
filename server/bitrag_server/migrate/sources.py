"""Legacy float32 stores, read without re-embedding: one class per store, one interface.

    src = open_source("milvus:http://127.0.0.1:19530", "docs")     # or a Milvus Lite file
    src = open_source("chroma:/data/chroma", "docs")                # or chroma:http://host:8000
    src = open_source("qdrant:/data/qdrant", "docs")                # or qdrant:http://host:6333
    src = open_source("llamaindex:/app/storage")                    # persisted StorageContext
    src = open_source("files:/data/vectors.npy")                    # + vectors.jsonl / .parquet

Every source gives `info` (dimension, metric, rows, the resolved field mapping) and
  scan(cursor, n)   batches in the store's own stable order, each with the cursor after it (a
                    Milvus primary key, a Qdrant point id, an offset): the import's checkpoint
  keys(n)           (source keys, document ids) only, no vectors: the plan of a grouped import
  fetch(keys)       rows by source key (grouped imports, verification)
  search(v, k, f)   the store's own nearest-neighbour search (shadow reads, the fallback), with
                    the store's score and the same score as a cosine similarity (`similarity`)
Vectors come out exactly as the store returns them, as float32 `[n, d]`.

Field mapping (`FieldMap`): the vector field (default: the only one), the text field (default: the
first of TEXT_FIELDS present), a document id field (default none: every chunk is its own
document; LlamaIndex: the node's ref_doc_id), the chunk id field (default: the primary key /
point id / node id). Everything else becomes metadata; a JSON object field or payload key named
"metadata" (LangChain's layout) is merged into it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np

from . import legacy_filter as lf

log = logging.getLogger(__name__)

Metric = Literal["cosine", "ip", "l2"]
METRICS: tuple[str, ...] = ("cosine", "ip", "l2")
KINDS = ("milvus", "chroma", "qdrant", "llamaindex", "files")
TEXT_FIELDS = ("text", "page_content", "document", "content", "chunk")
END = "<end>"  # a cursor past the last row, where a store has no key to resume after


class SourceError(Exception):
    """A source that cannot be read as asked: the message says what to change."""


@dataclass
class FieldMap:
    vector_field: str = ""
    text_field: str = ""
    document_id_field: str = ""
    id_field: str = ""


@dataclass
class SourceInfo:
    kind: str
    location: str
    collection: str
    dimension: int
    metric: str  # cosine | ip | l2
    rows: int
    fields: dict[str, str] = field(default_factory=dict)  # the mapping in force, for reports
    metric_origin: str = "store"  # "store" (read from its index/config) or "flag" / "default"


@dataclass
class Batch:
    keys: list[Any]  # source keys (JSON values): what fetch() takes
    ids: list[str]  # chunk ids in bitrag
    document_ids: list[str]
    vectors: np.ndarray  # [n, d] float32
    texts: list[str]
    metadata: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class LegacyHit:
    id: str
    document_id: str
    score: float  # the store's own number (a distance for Chroma and L2)
    similarity: float  # the same as a cosine similarity (exact for unit vectors)
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def _similarity(metric: str, value: float, kind: str) -> float:
    """The store's score -> cosine similarity of unit vectors. Chroma returns distances (1 - cos,
    1 - ip, squared L2); Milvus similarities for COSINE/IP and squared L2; Qdrant similarities and
    the plain L2 distance."""
    if kind == "chroma":
        return 1.0 - value / 2.0 if metric == "l2" else 1.0 - value
    if metric == "l2":
        return 1.0 - value * value / 2.0 if kind == "qdrant" else 1.0 - value / 2.0
    return value


def _f32(rows: list[Any], dim: int) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32) if len(rows) else np.empty((0, dim), np.float32)
    return np.ascontiguousarray(v.reshape(len(rows), dim))


def _split_payload(
    row: dict[str, Any], *, skip: set[str], text_field: str
) -> tuple[str, dict[str, Any]]:
    """(text, metadata) of a row's fields: a "metadata" object is merged, `skip` dropped."""
    text = row.get(text_field) if text_field else None
    md: dict[str, Any] = {}
    for k, v in row.items():
        if k in skip or k == text_field:
            continue
        if k == "metadata" and isinstance(v, dict):
            md.update(v)
        else:
            md[k] = v
    return ("" if text is None else str(text)), md


def _doc_id(row: dict[str, Any], md: dict[str, Any], doc_field: str, chunk: str) -> str:
    if not doc_field:
        return chunk
    v = row.get(doc_field, md.get(doc_field))
    return chunk if v is None or v == "" else str(v)


class Source:
    kind = ""
    info: SourceInfo
    fields: FieldMap

    def scan(self, cursor: Any, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        raise NotImplementedError

    def keys(self, batch_size: int) -> Iterator[tuple[list[Any], list[str]]]:
        for b, _ in self.scan(None, batch_size):
            yield b.keys, b.document_ids

    def fetch(self, keys: list[Any]) -> Batch:
        raise NotImplementedError

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _field_of(self, key: str) -> str:
        """A filter key -> the store's name for it (payload / metadata keys by name)."""
        if key == "document_id":
            if not self.fields.document_id_field:
                raise lf.Unsupported("the legacy store has no document id field")
            return self.fields.document_id_field
        return key

    def _check_dim(self, v: np.ndarray) -> None:
        if v.shape[0] != self.info.dimension:
            raise SourceError(f"query has dimension {v.shape[0]}, the legacy store {self.info.dimension}")


# ---- Milvus ----------------------------------------------------------------------------------------

_MILVUS_METRICS = {"COSINE": "cosine", "IP": "ip", "L2": "l2"}


class MilvusSource(Source):
    """A Milvus FLOAT_VECTOR collection (a server by URI, or a Milvus Lite file), read with
    pymilvus' query iterator in primary-key order; the cursor is the last primary key read."""

    kind = "milvus"

    def __init__(self, uri: str, collection: str, fields: FieldMap, *, token: str = "", metric: str = "",
                 search_params: dict[str, Any] | None = None) -> None:
        from pymilvus import DataType, MilvusClient

        self.search_params = dict(search_params or {})  # e.g. {"ef": 64} for HNSW; {} = the index defaults
        self.client = MilvusClient(uri=uri, **({"token": token} if token else {}))
        if not collection:
            names = self.client.list_collections()
            if len(names) != 1:
                raise SourceError(f"name the Milvus collection (--from-collection): found {sorted(names)}")
            collection = names[0]
        if not self.client.has_collection(collection):
            raise SourceError(f"Milvus collection {collection!r} does not exist at {uri}")
        self.collection = collection
        desc = self.client.describe_collection(collection)
        flds = {f["name"]: f for f in desc["fields"]}
        self.pk = next(n for n, f in flds.items() if f.get("is_primary"))
        self.pk_int = flds[self.pk]["type"] == DataType.INT64
        vectors = [n for n, f in flds.items() if f["type"] == DataType.FLOAT_VECTOR]
        others = [n for n, f in flds.items() if "VECTOR" in f["type"].name and f["type"] != DataType.FLOAT_VECTOR]
        vf = fields.vector_field or (vectors[0] if len(vectors) == 1 else "")
        if vf not in vectors:
            hint = f"; {others} are not float32 (FLOAT_VECTOR)" if others else ""
            raise SourceError(f"choose the FLOAT_VECTOR field with --vector-field: found {vectors}{hint}")
        tf = fields.text_field or next((t for t in TEXT_FIELDS if t in flds), "")
        for name, f in (("--text-field", tf), ("--document-id-field", fields.document_id_field),
                        ("--id-field", fields.id_field)):
            if f and f not in flds and not desc.get("enable_dynamic_field"):
                raise SourceError(f"{name} {f!r}: no such field in {collection} ({sorted(flds)})")
        self.fields = FieldMap(vf, tf, fields.document_id_field, fields.id_field)
        self._vector_fields = {n for n, f in flds.items() if "VECTOR" in f["type"].name}
        self._scalars = set(flds) - self._vector_fields
        self._json = {n for n, f in flds.items() if f["type"] == DataType.JSON}
        self._dynamic = bool(desc.get("enable_dynamic_field"))
        store_metric = ""
        for ix in self.client.list_indexes(collection, field_name=vf):
            store_metric = _MILVUS_METRICS.get(str(self.client.describe_index(collection, ix).get("metric_type", "")), "")
        if metric and store_metric and metric != store_metric:
            raise SourceError(f"--metric {metric}: the collection's index on {vf!r} uses {store_metric}")
        dim = int(flds[vf]["params"]["dim"])
        rows = int(self.client.query(collection, filter="", output_fields=["count(*)"])[0]["count(*)"])
        self.info = SourceInfo("milvus", uri, collection, dim, metric or store_metric or "cosine", rows,
                               {"primary_key": self.pk, **_named(self.fields)},
                               "store" if store_metric else ("flag" if metric else "default"))

    def _lit(self, key: Any) -> str:
        return str(int(key)) if self.pk_int else json.dumps(str(key))

    def _batch(self, rows: list[dict[str, Any]]) -> Batch:
        f = self.fields
        skip = {self.pk, *self._vector_fields} | ({f.id_field} if f.id_field else set())
        keys, ids, docs, texts, mds = [], [], [], [], []
        for r in rows:
            key = r[self.pk]
            text, md = _split_payload(r, skip=skip, text_field=f.text_field)
            chunk = str(r.get(f.id_field, key) if f.id_field else key)
            keys.append(key)
            ids.append(chunk)
            docs.append(_doc_id(r, md, f.document_id_field, chunk))
            texts.append(text)
            mds.append(md)
        return Batch(keys, ids, docs, _f32([r[f.vector_field] for r in rows], self.info.dimension), texts, mds)

    def scan(self, cursor: Any, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        expr = f"{self.pk} > {self._lit(cursor)}" if cursor is not None else ""
        it = self.client.query_iterator(self.collection, batch_size=batch_size, filter=expr, output_fields=["*"])
        try:
            while rows := it.next():
                b = self._batch(rows)
                yield b, b.keys[-1]
        finally:
            it.close()

    def keys(self, batch_size: int) -> Iterator[tuple[list[Any], list[str]]]:
        f = self.fields
        out = [self.pk] + [x for x in (f.document_id_field, f.id_field) if x]
        it = self.client.query_iterator(self.collection, batch_size=batch_size, filter="", output_fields=out)
        try:
            while rows := it.next():
                keys = [r[self.pk] for r in rows]
                chunks = [str(r.get(f.id_field, r[self.pk]) if f.id_field else r[self.pk]) for r in rows]
                yield keys, [_doc_id(r, {}, f.document_id_field, c) for r, c in zip(rows, chunks)]
        finally:
            it.close()

    def fetch(self, keys: list[Any]) -> Batch:
        if not keys:
            return self._batch([])
        expr = f"{self.pk} in [{', '.join(self._lit(k) for k in keys)}]"
        rows = self.client.query(self.collection, filter=expr, output_fields=["*"], limit=len(keys))
        by = {r[self.pk]: r for r in rows}
        missing = [k for k in keys if (int(k) if self.pk_int else str(k)) not in by]
        if missing:
            raise SourceError(f"{len(missing)} keys not in the source, e.g. {missing[:3]}")
        return self._batch([by[int(k) if self.pk_int else str(k)] for k in keys])

    def _field_of(self, key: str) -> str:
        if key == "document_id":
            if not self.fields.document_id_field:
                raise lf.Unsupported("the legacy store has no document id field")
            key = self.fields.document_id_field
        if key in self._scalars or (self._dynamic and key not in self._json):
            return key
        if "metadata" in self._json:
            return f'metadata["{key}"]'
        raise lf.Unsupported(f"the legacy collection has no field {key!r}")

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        self._check_dim(vector)
        expr = lf.to_milvus(lf.parse(filter), self._field_of)
        res = self.client.search(
            self.collection, data=[np.asarray(vector, np.float32).tolist()], anns_field=self.fields.vector_field,
            limit=k, filter=expr, output_fields=["*"],
            **({"search_params": {"params": self.search_params}} if self.search_params else {}),
        )
        b = self._batch([{**h["entity"], self.pk: h["id"]} for h in res[0]])
        return [LegacyHit(b.ids[i], b.document_ids[i], float(h["distance"]),
                          _similarity(self.info.metric, float(h["distance"]), "milvus"), b.texts[i], b.metadata[i])
                for i, h in enumerate(res[0])]

    def close(self) -> None:
        self.client.close()


# ---- Chroma ----------------------------------------------------------------------------------------


class ChromaSource(Source):
    """A Chroma collection: a persistent directory (embedded PersistentClient) or a Chroma server
    (http://host:port). Chroma returns rows in insertion order; the cursor is an offset."""

    kind = "chroma"

    def __init__(self, location: str, collection: str, fields: FieldMap, *, metric: str = "",
                 search_params: dict[str, Any] | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        cs = ChromaSettings(anonymized_telemetry=False)
        if location.startswith(("http://", "https://")):
            from urllib.parse import urlparse

            u = urlparse(location)
            self.client = chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                              ssl=u.scheme == "https", settings=cs)
        else:
            if not Path(location).is_dir():
                raise SourceError(f"{location}: not a Chroma persistent directory")
            self.client = chromadb.PersistentClient(path=location, settings=cs)
        if not collection:
            names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
            if len(names) != 1:
                raise SourceError(f"name the Chroma collection (--from-collection): found {sorted(names)}")
            collection = names[0]
        try:
            self.coll = self.client.get_collection(collection, embedding_function=None)
        except Exception as exc:  # noqa: BLE001 - chromadb raises NotFoundError / ValueError by version
            raise SourceError(f"Chroma collection {collection!r}: {exc}") from None
        conf = getattr(self.coll, "configuration_json", None) or {}
        space = ((conf.get("hnsw") or {}).get("space") or (self.coll.metadata or {}).get("hnsw:space") or "l2")
        store_metric = {"cosine": "cosine", "ip": "ip", "l2": "l2"}.get(str(space), "")
        if metric and metric != store_metric:
            raise SourceError(f"--metric {metric}: the Chroma collection's space is {space}")
        peek = self.coll.get(limit=1, include=["embeddings"])
        emb = peek.get("embeddings")
        dim = int(np.asarray(emb).shape[1]) if emb is not None and len(emb) else 0
        self.fields = FieldMap("embedding", "document", fields.document_id_field, fields.id_field)
        if fields.text_field and fields.text_field != "document":  # text kept in a metadata key
            self.fields.text_field = fields.text_field
        self.info = SourceInfo("chroma", location, collection, dim, store_metric or "l2", self.coll.count(),
                               _named(self.fields), "store")

    def _batch(self, res: Any) -> Batch:  # a chromadb GetResult / QueryResult row set
        f = self.fields
        ids = list(res["ids"])
        mds_in = res.get("metadatas") or [None] * len(ids)
        docs_in = res.get("documents") or [None] * len(ids)
        keys, chunks, docs, texts, mds = [], [], [], [], []
        for i, key in enumerate(ids):
            md = dict(mds_in[i] or {})
            text = docs_in[i] or ""
            if f.text_field != "document":
                text = str(md.pop(f.text_field, "") or "")
            chunk = str(md.pop(f.id_field)) if f.id_field and f.id_field in md else key
            keys.append(key)
            chunks.append(chunk)
            docs.append(_doc_id({}, md, f.document_id_field, chunk))
            texts.append(text)
            mds.append(md)
        emb = res.get("embeddings")
        return Batch(keys, chunks, docs, _f32(list(emb) if emb is not None else [], self.info.dimension), texts, mds)

    def scan(self, cursor: Any, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        offset = int(cursor or 0)
        while True:
            res = self.coll.get(limit=batch_size, offset=offset, include=["embeddings", "documents", "metadatas"])
            if not res["ids"]:
                return
            offset += len(res["ids"])
            yield self._batch(res), offset

    def fetch(self, keys: list[Any]) -> Batch:
        res = self.coll.get(ids=[str(k) for k in keys], include=["embeddings", "documents", "metadatas"])
        b = self._batch(res)
        pos = {k: i for i, k in enumerate(b.keys)}
        missing = [k for k in keys if k not in pos]
        if missing:
            raise SourceError(f"{len(missing)} ids not in the source, e.g. {missing[:3]}")
        order = [pos[k] for k in keys]
        return Batch([b.keys[i] for i in order], [b.ids[i] for i in order], [b.document_ids[i] for i in order],
                     b.vectors[order], [b.texts[i] for i in order], [b.metadata[i] for i in order])

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        self._check_dim(vector)
        where = lf.to_chroma(lf.parse(filter), self._field_of)
        res = self.coll.query(query_embeddings=[np.asarray(vector, np.float32).tolist()], n_results=k, where=where,
                              include=["documents", "metadatas", "distances"])
        b = self._batch({"ids": res["ids"][0], "documents": (res.get("documents") or [[]])[0],
                         "metadatas": (res.get("metadatas") or [[]])[0], "embeddings": None})
        dists = (res.get("distances") or [[]])[0]
        return [LegacyHit(b.ids[i], b.document_ids[i], float(d), _similarity(self.info.metric, float(d), "chroma"),
                          b.texts[i], b.metadata[i]) for i, d in enumerate(dists)]


# ---- Qdrant ----------------------------------------------------------------------------------------

_QDRANT_METRICS = {"Cosine": "cosine", "Dot": "ip", "Euclid": "l2"}


class QdrantSource(Source):
    """A Qdrant collection: a local-mode directory (qdrant-client, embedded) or a Qdrant server
    (http://host:port). Scrolled in point-id order; the cursor is the next point id."""

    kind = "qdrant"

    def __init__(self, location: str, collection: str, fields: FieldMap, *, metric: str = "",
                 search_params: dict[str, Any] | None = None) -> None:
        from qdrant_client import QdrantClient

        self.search_params = dict(search_params or {})  # models.SearchParams fields, e.g. {"hnsw_ef": 64}
        if location.startswith(("http://", "https://")):
            self.client = QdrantClient(url=location)
        else:
            if not Path(location).is_dir():
                raise SourceError(f"{location}: not a Qdrant local-mode directory")
            self.client = QdrantClient(path=location)
        if not collection:
            names = [c.name for c in self.client.get_collections().collections]
            if len(names) != 1:
                raise SourceError(f"name the Qdrant collection (--from-collection): found {sorted(names)}")
            collection = names[0]
        if not self.client.collection_exists(collection):
            raise SourceError(f"Qdrant collection {collection!r} does not exist at {location}")
        self.collection = collection
        vectors: Any = self.client.get_collection(collection).config.params.vectors
        self.using: str | None = None
        if isinstance(vectors, dict):  # named vectors
            name = fields.vector_field or (next(iter(vectors)) if len(vectors) == 1 else "")
            if name not in vectors:
                raise SourceError(f"choose the named vector with --vector-field: found {sorted(vectors)}")
            params, self.using = vectors[name], name
        else:
            if fields.vector_field:
                raise SourceError(f"--vector-field {fields.vector_field!r}: the collection has one unnamed vector")
            params, self.using = vectors, None
        dist = getattr(params.distance, "value", str(params.distance))
        store_metric = _QDRANT_METRICS.get(dist, "")
        if not store_metric:
            raise SourceError(f"Qdrant distance {dist} has no bitrag equivalent (cosine, dot, euclid)")
        if metric and metric != store_metric:
            raise SourceError(f"--metric {metric}: the Qdrant collection uses {dist}")
        self.fields = FieldMap(self.using or "", fields.text_field, fields.document_id_field, fields.id_field)
        self._text_default = not fields.text_field
        rows = self.client.count(collection, exact=True).count
        self.info = SourceInfo("qdrant", location, collection, int(params.size), store_metric, rows,
                               _named(self.fields), "store")

    def _text_field(self, payload: dict[str, Any]) -> str:
        if self._text_default:
            return next((t for t in TEXT_FIELDS if t in payload), "")
        return self.fields.text_field

    def _batch(self, points: list[Any], with_vectors: bool = True) -> Batch:
        f = self.fields
        keys, ids, docs, texts, mds, vecs = [], [], [], [], [], []
        for p in points:
            payload = dict(p.payload or {})
            text, md = _split_payload(payload, skip={f.id_field} if f.id_field else set(),
                                      text_field=self._text_field(payload))
            chunk = str(payload[f.id_field]) if f.id_field and f.id_field in payload else str(p.id)
            keys.append(p.id)
            ids.append(chunk)
            docs.append(_doc_id(payload, md, f.document_id_field, chunk))
            texts.append(text)
            mds.append(md)
            if with_vectors:
                vecs.append(p.vector[self.using] if self.using else p.vector)
        return Batch(keys, ids, docs, _f32(vecs, self.info.dimension), texts, mds)

    def scan(self, cursor: Any, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        if cursor == END:
            return
        offset = cursor
        while True:
            points, nxt = self.client.scroll(self.collection, limit=batch_size, offset=offset, with_payload=True,
                                             with_vectors=[self.using] if self.using else True)
            if not points:
                return
            b = self._batch(points)
            if nxt is None:  # the last page: no next point id to resume from
                yield b, END
                return
            yield b, nxt
            offset = nxt

    def fetch(self, keys: list[Any]) -> Batch:
        pts = self.client.retrieve(self.collection, ids=list(keys), with_payload=True,
                                   with_vectors=[self.using] if self.using else True)
        by = {p.id: p for p in pts}
        missing = [k for k in keys if k not in by]
        if missing:
            raise SourceError(f"{len(missing)} point ids not in the source, e.g. {missing[:3]}")
        return self._batch([by[k] for k in keys])

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        self._check_dim(vector)
        flt = lf.to_qdrant(lf.parse(filter), self._field_of)
        from qdrant_client import models

        params = models.SearchParams(**self.search_params) if self.search_params else None
        res = self.client.query_points(self.collection, query=np.asarray(vector, np.float32).tolist(), using=self.using,
                                       limit=k, query_filter=flt, with_payload=True, search_params=params)
        b = self._batch(res.points, with_vectors=False)
        return [LegacyHit(b.ids[i], b.document_ids[i], float(p.score), _similarity(self.info.metric, float(p.score), "qdrant"),
                          b.texts[i], b.metadata[i]) for i, p in enumerate(res.points)]

    def close(self) -> None:
        self.client.close()


# ---- in-memory sources (LlamaIndex, files) -----------------------------------------------------------


class _InMemory(Source):
    """Sources whose rows are addressable by position: keys are positions in `order`; the cursor
    is an offset."""

    _vectors: Any  # [N, d] array-like (an np.memmap for files)
    order: list[int]

    def _rows(self, positions: list[int]) -> Batch:
        raise NotImplementedError

    def scan(self, cursor: Any, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        start = int(cursor or 0)
        for s in range(start, len(self.order), batch_size):
            pos = list(range(s, min(len(self.order), s + batch_size)))
            yield self._rows(pos), pos[-1] + 1

    def fetch(self, keys: list[Any]) -> Batch:
        bad = [k for k in keys if not (isinstance(k, int) and 0 <= k < len(self.order))]
        if bad:
            raise SourceError(f"{len(bad)} keys not in the source, e.g. {bad[:3]}")
        return self._rows([int(k) for k in keys])


class LlamaIndexSource(_InMemory):
    """A LlamaIndex persisted storage context (`index.storage_context.persist(dir)`): the default
    SimpleVectorStore's embeddings and the docstore's nodes (text, metadata, ref_doc_id). The
    document id is the node's ref_doc_id unless --document-id-field names a metadata key."""

    kind = "llamaindex"

    def __init__(self, location: str, collection: str, fields: FieldMap, *, metric: str = "") -> None:
        from llama_index.core import StorageContext

        if not Path(location).is_dir():
            raise SourceError(f"{location}: not a LlamaIndex persist directory")
        try:
            self.storage = StorageContext.from_defaults(persist_dir=location)
        except FileNotFoundError as exc:
            raise SourceError(f"{location}: not a LlamaIndex persist directory ({exc})") from None
        stores = self.storage.vector_stores
        ns = collection or "default"
        if ns not in stores:
            raise SourceError(f"vector store namespace {ns!r} not in {location} ({sorted(stores)})")
        self.vs = stores[ns]
        emb = getattr(getattr(self.vs, "data", None), "embedding_dict", None)
        if emb is None:
            raise SourceError(f"{type(self.vs).__name__}: only LlamaIndex's SimpleVectorStore persists embeddings locally")
        if metric and metric != "cosine":
            raise SourceError("--metric: LlamaIndex's SimpleVectorStore ranks by cosine similarity")
        self.node_ids = list(emb)
        self.order = list(range(len(self.node_ids)))
        self._emb = emb
        dim = len(next(iter(emb.values()))) if emb else 0
        self.fields = FieldMap("embedding", "text", fields.document_id_field or "ref_doc_id", fields.id_field)
        self.info = SourceInfo("llamaindex", location, ns, dim, "cosine", len(self.node_ids), _named(self.fields), "store")

    def _rows(self, positions: list[int]) -> Batch:
        from llama_index.core.schema import MetadataMode

        f = self.fields
        keys, ids, docs, texts, mds, vecs = [], [], [], [], [], []
        for p in positions:
            nid = self.node_ids[p]
            node = self.storage.docstore.get_node(nid, raise_error=False)
            md = dict(node.metadata) if node is not None else {}
            text = node.get_content(metadata_mode=MetadataMode.NONE) if node is not None else ""
            chunk = str(md.pop(f.id_field)) if f.id_field and f.id_field in md else nid
            if f.document_id_field == "ref_doc_id":
                doc = (node.ref_doc_id if node is not None else None) or chunk
            else:
                doc = _doc_id({}, md, f.document_id_field, chunk)
            keys.append(p)
            ids.append(chunk)
            docs.append(str(doc))
            texts.append(text)
            mds.append(md)
            vecs.append(self._emb[nid])
        return Batch(keys, ids, docs, _f32(vecs, self.info.dimension), texts, mds)

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        self._check_dim(vector)
        if filter.strip():
            raise lf.Unsupported("filters on a LlamaIndex SimpleVectorStore are not mapped")
        res = self.vs.query(VectorStoreQuery(query_embedding=np.asarray(vector, np.float32).tolist(), similarity_top_k=k))
        pos = {nid: i for i, nid in enumerate(self.node_ids)}
        b = self._rows([pos[n] for n in res.ids or []])
        sims = res.similarities or []
        return [LegacyHit(b.ids[i], b.document_ids[i], float(s), float(s), b.texts[i], b.metadata[i])
                for i, s in enumerate(sims)]


class FilesSource(_InMemory):
    """`vectors.npy` (float32 `[N, d]`, memory-mapped) + a sidecar with one row per vector: JSONL
    (one object a line) or Parquet, with columns id, document_id, text, metadata (an object);
    other columns become metadata. Default sidecar: the .npy's stem + .jsonl or .parquet."""

    kind = "files"

    def __init__(self, location: str, fields: FieldMap, *, sidecar: str = "", metric: str = "") -> None:
        p = Path(location)
        if not p.is_file():
            raise SourceError(f"{location}: no such .npy file")
        self._vectors = np.load(p, mmap_mode="r")
        if self._vectors.ndim != 2:
            raise SourceError(f"{location}: expected a 2-D array [rows, dim], got shape {self._vectors.shape}")
        if self._vectors.dtype != np.float32:
            raise SourceError(f"{location}: dtype {self._vectors.dtype}; bitrag imports float32 as stored, so "
                              "converting is yours to decide: np.save(path, np.load(path).astype(np.float32))")
        side = Path(sidecar) if sidecar else next(
            (q for q in (p.with_suffix(".jsonl"), p.with_suffix(".parquet")) if q.exists()), None)
        if side is None or not side.exists():
            raise SourceError(f"no sidecar for {location}: pass --sidecar FILE.jsonl|FILE.parquet")
        if side.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(side).to_pylist()
        else:
            with open(side, encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
        if len(rows) != self._vectors.shape[0]:
            raise SourceError(f"{side}: {len(rows)} rows for {self._vectors.shape[0]} vectors")
        self._side = rows
        self.order = list(range(len(rows)))
        f = FieldMap("npy", fields.text_field or "text", fields.document_id_field or "document_id",
                     fields.id_field or "id")
        self.fields = f
        self.info = SourceInfo("files", location, str(side), int(self._vectors.shape[1]), metric or "cosine",
                               len(rows), _named(f), "flag" if metric else "default")

    def _rows(self, positions: list[int]) -> Batch:
        f = self.fields
        ids, docs, texts, mds = [], [], [], []
        for p in positions:
            r = self._side[p]
            chunk = str(r[f.id_field]) if r.get(f.id_field) not in (None, "") else str(p)
            text, md = _split_payload(r, skip={f.id_field, f.document_id_field}, text_field=f.text_field)
            ids.append(chunk)
            doc = r.get(f.document_id_field)
            docs.append(chunk if doc in (None, "") else str(doc))
            texts.append(text)
            mds.append(md)
        vec = np.asarray(self._vectors[positions], dtype=np.float32) if positions else np.empty((0, self.info.dimension), np.float32)
        return Batch(list(positions), ids, docs, vec, texts, mds)

    def search(self, vector: np.ndarray, k: int, filter: str = "") -> list[LegacyHit]:
        self._check_dim(vector)
        if filter.strip():
            raise lf.Unsupported("filters on .npy files are not mapped")
        q = np.asarray(vector, np.float32)
        x = self._vectors
        if self.info.metric == "l2":
            scores = -((x - q) ** 2).sum(1)
        elif self.info.metric == "cosine":
            scores = (x @ q) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(q), 1e-30)
        else:
            scores = x @ q
        top = np.argsort(-scores, kind="stable")[:k]
        b = self._rows(top.tolist())
        out = []
        for i, t in enumerate(top):
            s = float(scores[t])
            sim = 1.0 + s / 2.0 if self.info.metric == "l2" else s  # -||a-b||^2 -> 1 - d^2/2
            out.append(LegacyHit(b.ids[i], b.document_ids[i], s, sim, b.texts[i], b.metadata[i]))
        return out


# ---- opening -----------------------------------------------------------------------------------------


@dataclass
class SourceOptions:
    """What names a legacy store and the bitrag collection beside it (import and shadow alike)."""

    source: str  # KIND:LOCATION
    collection: str  # the bitrag collection
    target: str = "127.0.0.1:50051"
    from_collection: str = ""
    fields: FieldMap = field(default_factory=FieldMap)
    metric: str = ""
    sidecar: str = ""
    token: str = ""
    search_params: dict[str, Any] = field(default_factory=dict)  # the legacy store's, e.g. {"ef": 64}

    def open(self) -> Source:
        return open_source(self.source, self.from_collection, self.fields, metric=self.metric, sidecar=self.sidecar,
                           token=self.token, search_params=self.search_params)


def _named(f: FieldMap) -> dict[str, str]:
    return {k: v for k, v in (("vector", f.vector_field), ("text", f.text_field), ("document_id", f.document_id_field),
                              ("id", f.id_field)) if v}


def parse_spec(spec: str) -> tuple[str, str]:
    """"kind:location" -> (kind, location), SourceError naming the accepted forms."""
    kind, sep, loc = spec.partition(":")
    if not sep or kind not in KINDS or not loc:
        raise SourceError(
            f"source {spec!r}: expected KIND:LOCATION with KIND one of {', '.join(KINDS)} "
            "(e.g. milvus:http://127.0.0.1:19530, milvus:./legacy.db, chroma:./chroma, qdrant:./qdrant, "
            "llamaindex:./storage, files:./vectors.npy)"
        )
    return kind, loc


def open_source(
    spec: str, collection: str = "", fields: FieldMap | None = None, *, metric: str = "", sidecar: str = "",
    token: str = "", search_params: dict[str, Any] | None = None,
) -> Source:
    """`search_params`: the legacy store's own search parameters (Milvus: {"ef": 64}; Qdrant:
    {"hnsw_ef": 64}), so a shadow comparison runs the store as production runs it."""
    kind, loc = parse_spec(spec)
    try:
        return _open(kind, loc, collection, fields or FieldMap(), metric=metric, sidecar=sidecar, token=token,
                     search_params=search_params)
    except ImportError as exc:
        raise SourceError(f"{kind} sources need {exc.name or 'a package'}: pip install 'bitrag[migrate]'") from None


def _open(kind: str, loc: str, collection: str, fields: FieldMap, *, metric: str, sidecar: str, token: str,
          search_params: dict[str, Any] | None) -> Source:
    if metric and metric not in METRICS:
        raise SourceError(f"--metric {metric!r}: one of {', '.join(METRICS)}")
    if kind == "milvus":
        if not loc.startswith(("http://", "https://", "tcp://", "unix:")):
            if not Path(loc).exists():
                raise SourceError(f"{loc}: no such Milvus Lite file")
            loc = str(Path(loc).resolve())
        return MilvusSource(loc, collection, fields, token=token, metric=metric, search_params=search_params)
    if kind == "chroma":
        if search_params:
            raise SourceError("Chroma's search parameters are collection settings (hnsw:search_ef), not per query")
        return ChromaSource(loc, collection, fields, metric=metric)
    if kind == "qdrant":
        return QdrantSource(loc, collection, fields, metric=metric, search_params=search_params)
    if search_params and kind in ("llamaindex", "files"):
        raise SourceError(f"{kind}: exact search, no search parameters")
    if kind == "llamaindex":
        return LlamaIndexSource(loc, collection, fields, metric=metric)
    return FilesSource(loc, fields, sidecar=sidecar, metric=metric)
