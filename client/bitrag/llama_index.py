"""LlamaIndex vector store over a bitrag collection: a LlamaIndex application switches from its
float32 store by changing one line.

    from bitrag.llama_index import BitragVectorStore
    vector_store = BitragVectorStore("docs", target="127.0.0.1:50051")
    storage = StorageContext.from_defaults(vector_store=vector_store)
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed)
    index.as_query_engine(llm=llm).query("...")

Nodes are stored as bitrag chunks: chunk id = node id, document id = the node's ref_doc_id, the
node's text, its embedding (float32), and its metadata plus LlamaIndex's serialised node
(`_node_content`, as LlamaIndex's own stores keep it), so queries give back the same nodes.
`add` is an upsert of nodes: bitrag replaces a document whole on ingest, so nodes of documents it
already holds are merged with the stored ones (one Fetch) before they are sent.
MetadataFilters map onto bitrag filters: ==, !=, <, <=, >, >=, in, nin, with and / or / not and
nesting; `doc_ids` of a query become `document_id in [...]`. Other operators raise
NotImplementedError. The collection is created at the first `add` (embedder "none", the
embedding's dimension) unless it exists. Needs `pip install 'bitrag[llama-index]'`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from ._async_client import AsyncClient
from ._client import Client
from .errors import NotFoundError
from .types import Record, SearchResult

_OPS = {
    FilterOperator.EQ: "==", FilterOperator.NE: "!=", FilterOperator.GT: ">", FilterOperator.GTE: ">=",
    FilterOperator.LT: "<", FilterOperator.LTE: "<=", FilterOperator.IN: "in", FilterOperator.NIN: "not in",
}
FETCH_BATCH = 1000


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return json.dumps(v, ensure_ascii=False)
    raise NotImplementedError(f"filter value {v!r}: strings, numbers and booleans only")


def _one(f: MetadataFilter) -> str:
    op = _OPS.get(f.operator)
    if op is None:
        raise NotImplementedError(f"MetadataFilter operator {f.operator.value!r} has no bitrag equivalent")
    if op in ("in", "not in"):
        values = f.value if isinstance(f.value, list) else [f.value]
        return f"{f.key} {op} [{', '.join(_literal(v) for v in values)}]"
    return f"{f.key} {op} {_literal(f.value)}"


def to_bitrag_filter(filters: MetadataFilters | None) -> str:
    """LlamaIndex MetadataFilters -> a bitrag filter expression ("" for none)."""
    if filters is None or not filters.filters:
        return ""
    parts = [f"({to_bitrag_filter(f)})" if isinstance(f, MetadataFilters) else f"({_one(f)})" for f in filters.filters]
    cond = filters.condition or FilterCondition.AND
    if cond == FilterCondition.AND:
        return " and ".join(parts)
    if cond == FilterCondition.OR:
        return " or ".join(parts)
    if getattr(FilterCondition, "NOT", None) is not None and cond == FilterCondition.NOT:
        return "not (" + " and ".join(parts) + ")"
    raise NotImplementedError(f"filter condition {cond!r}")


def _query_filter(query: VectorStoreQuery) -> str:
    expr = to_bitrag_filter(query.filters)
    if query.doc_ids:
        ids = f"document_id in [{', '.join(json.dumps(d) for d in query.doc_ids)}]"
        expr = f"({expr}) and ({ids})" if expr else ids
    return expr


def _payload(nodes: Sequence[BaseNode]) -> tuple[np.ndarray, list[str], list[str], list[str], list[dict[str, Any]]]:
    vecs, ids, docs, texts, mds = [], [], [], [], []
    for n in nodes:
        emb = n.get_embedding()  # raises ValueError when the node was never embedded
        vecs.append(np.asarray(emb, dtype=np.float32))
        ids.append(n.node_id)
        docs.append(n.ref_doc_id or n.node_id)
        texts.append(n.get_content(metadata_mode=MetadataMode.NONE))
        mds.append(node_to_metadata_dict(n, remove_text=True, flat_metadata=False))
    return np.stack(vecs), ids, docs, texts, mds


def _from_records(records: list[Record]) -> list[BaseNode]:
    """Stored chunks -> nodes carrying their embeddings (to be sent again with new ones)."""
    out = []
    for r in records:
        n = _node(r.id, r.document_id, r.text, r.metadata)
        n.embedding = r.vector.tolist() if r.vector is not None else None
        out.append(n)
    return out


def _node(chunk_id: str, document_id: str, text: str, metadata: dict[str, Any]) -> BaseNode:
    if "_node_content" in metadata:
        node = metadata_dict_to_node(metadata, text=text)
    else:  # a chunk not written through LlamaIndex (e.g. imported by `bitrag migrate`)
        node = TextNode(id_=chunk_id, text=text, metadata=dict(metadata))
        if document_id and document_id != chunk_id:
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=document_id)
    return node


def _result(res: SearchResult) -> VectorStoreQueryResult:
    nodes = [_node(h.chunk_id, h.document_id, h.text, h.metadata) for h in res.hits]
    return VectorStoreQueryResult(nodes=nodes, similarities=[h.score for h in res.hits],
                                  ids=[h.chunk_id for h in res.hits])


def _merge(existing: list[BaseNode], new: Sequence[BaseNode]) -> list[BaseNode]:
    new_ids = {n.node_id for n in new}
    return [n for n in existing if n.node_id not in new_ids] + list(new)


class BitragVectorStore(BasePydanticVectorStore):
    """A bitrag collection as a LlamaIndex vector store (see the module docstring)."""

    stores_text: bool = True
    flat_metadata: bool = False
    collection: str
    target: str = "127.0.0.1:50051"
    mode: str = "AUTO"
    oversample: int = 0
    timeout: float = 60.0

    _client: Client = PrivateAttr()
    _aclient: AsyncClient | None = PrivateAttr(default=None)

    def __init__(self, collection: str, target: str = "127.0.0.1:50051", *, mode: str = "AUTO", oversample: int = 0,
                 timeout: float = 60.0, client: Client | None = None, **kw: Any) -> None:
        fields: dict[str, Any] = {"collection": collection, "target": target, "mode": mode, "oversample": oversample,
                                  "timeout": timeout}
        super().__init__(**fields, **kw)
        self._client = client or Client(target, timeout=timeout)

    @classmethod
    def class_name(cls) -> str:
        return "BitragVectorStore"

    @property
    def client(self) -> Client:
        return self._client

    def _async(self) -> AsyncClient:
        if self._aclient is None:  # created inside the running loop (grpc.aio channels belong to one)
            self._aclient = AsyncClient(self.target, timeout=self.timeout)
        return self._aclient

    # ---- writes ----------------------------------------------------------------------------------

    def _ensure(self, dim: int) -> None:
        try:
            self._client.describe_collection(self.collection)
        except NotFoundError:
            self._client.create_collection(self.collection, dimension=dim, embedder="none",
                                           description="LlamaIndex BitragVectorStore")

    def _with_stored(self, nodes: Sequence[BaseNode], fetch: Any) -> list[BaseNode]:
        docs = list(dict.fromkeys(n.ref_doc_id for n in nodes if n.ref_doc_id))
        stored: list[BaseNode] = []
        for i in range(0, len(docs), FETCH_BATCH):
            records, _missing = fetch(docs[i : i + FETCH_BATCH])
            stored += _from_records(records)
        return _merge(stored, nodes)

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        if not nodes:
            return []
        self._ensure(len(nodes[0].get_embedding()))
        allnodes = self._with_stored(nodes, lambda ids: self._client.fetch(self.collection, ids))
        v, ids, docs, texts, mds = _payload(allnodes)
        self._client.ingest_vectors(self.collection, v, ids=ids, document_ids=docs, texts=texts, metadata=mds)
        return [n.node_id for n in nodes]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        c = self._async()
        try:
            await c.describe_collection(self.collection)
        except NotFoundError:
            await c.create_collection(self.collection, dimension=len(nodes[0].get_embedding()), embedder="none",
                                      description="LlamaIndex BitragVectorStore")
        docs = list(dict.fromkeys(n.ref_doc_id for n in nodes if n.ref_doc_id))
        stored: list[BaseNode] = []
        for i in range(0, len(docs), FETCH_BATCH):
            records, _missing = await c.fetch(self.collection, docs[i : i + FETCH_BATCH])
            stored += _from_records(records)
        v, ids, dids, texts, mds = _payload(_merge(stored, nodes))
        await c.ingest_vectors(self.collection, v, ids=ids, document_ids=dids, texts=texts, metadata=mds)
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self._client.delete(self.collection, [ref_doc_id])

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await self._async().delete(self.collection, [ref_doc_id])

    # ---- reads -----------------------------------------------------------------------------------

    def _check(self, query: VectorStoreQuery) -> None:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise NotImplementedError(f"query mode {query.mode}: bitrag does dense vector search (DEFAULT)")
        if query.query_embedding is None:
            raise ValueError("BitragVectorStore needs query.query_embedding (an embed_model on the index)")

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        self._check(query)
        res = self._client.search(self.collection, np.asarray(query.query_embedding, np.float32),
                                  top_k=query.similarity_top_k, filter=_query_filter(query), mode=self.mode,
                                  oversample=self.oversample)
        return _result(res)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        self._check(query)
        res = await self._async().search(self.collection, np.asarray(query.query_embedding, np.float32),
                                         top_k=query.similarity_top_k, filter=_query_filter(query), mode=self.mode,
                                         oversample=self.oversample)
        return _result(res)

    def close(self) -> None:
        self._client.close()
