"""Real legacy float32 stores for the migration tests, built with each store's own client: a Milvus
FLOAT_VECTOR collection (Lite file or server), a Chroma persistent directory, a Qdrant local-mode
directory, a LlamaIndex persisted storage context, .npy + JSONL/Parquet files. (A module of its own,
like servers.py: `from legacy_stores import ...`.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TAGS = ("a", "b", "c")


@dataclass
class Corpus:
    ids: list[str]
    docs: list[str]  # document ids: 3 chunks per document
    vectors: np.ndarray  # [n, d] float32, unit rows unless made otherwise
    texts: list[str]
    metadata: list[dict[str, Any]]


def corpus(n: int = 300, d: int = 32, seed: int = 0, unit: bool = True) -> Corpus:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, d)).astype(np.float32)
    if unit:
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"c{i:05d}" for i in range(n)]
    docs = [f"d{i // 3:05d}" for i in range(n)]
    texts = [f"chunk {i} of document {i // 3}: café ünïcode {i * 7 % 13}" for i in range(n)]
    md = [{"n": i, "tag": TAGS[i % 3], "score": round(i / 7, 4), "doc": docs[i]} for i in range(n)]
    return Corpus(ids, docs, v, texts, md)


def milvus(uri: str, name: str, c: Corpus, metric: str = "COSINE", token: str = "") -> None:
    """A LangChain-like layout: VARCHAR primary key `id`, `vector`, `text`, scalar metadata fields
    plus one in a dynamic field."""
    from pymilvus import DataType, MilvusClient

    mc = MilvusClient(uri=uri, **({"token": token} if token else {}))
    if mc.has_collection(name):
        mc.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=c.vectors.shape[1])
    schema.add_field("text", DataType.VARCHAR, max_length=4096)
    schema.add_field("n", DataType.INT64)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    schema.add_field("doc", DataType.VARCHAR, max_length=64)
    ip = mc.prepare_index_params()
    ip.add_index("vector", index_type="FLAT", metric_type=metric)
    mc.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")
    rows = [{"id": c.ids[i], "vector": c.vectors[i].tolist(), "text": c.texts[i], **c.metadata[i]}
            for i in range(len(c.ids))]
    for s in range(0, len(rows), 500):
        mc.insert(name, rows[s : s + 500])
    mc.flush(name)
    mc.close()


def chroma(path: Path, name: str, c: Corpus, space: str = "cosine") -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    coll = client.create_collection(name, metadata={"hnsw:space": space}, embedding_function=None)
    for s in range(0, len(c.ids), 200):
        coll.add(ids=c.ids[s : s + 200], embeddings=c.vectors[s : s + 200], documents=c.texts[s : s + 200],
                 metadatas=c.metadata[s : s + 200])


def qdrant(path: Path, name: str, c: Corpus, distance: str = "Cosine") -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(path))
    client.create_collection(name, vectors_config=models.VectorParams(size=c.vectors.shape[1],
                                                                      distance=models.Distance(distance)))
    client.upsert(name, points=[
        models.PointStruct(id=i, vector=c.vectors[i].tolist(), payload={"text": c.texts[i], "chunk_id": c.ids[i],
                                                                         **c.metadata[i]})
        for i in range(len(c.ids))
    ])
    client.close()


def llamaindex(path: Path, c: Corpus) -> None:
    """A persisted VectorStoreIndex over pre-embedded nodes (SimpleVectorStore + docstore)."""
    from llama_index.core import MockEmbedding, StorageContext, VectorStoreIndex
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    nodes = []
    for i in range(len(c.ids)):
        n = TextNode(id_=c.ids[i], text=c.texts[i], metadata=dict(c.metadata[i]), embedding=c.vectors[i].tolist())
        n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=c.docs[i])
        nodes.append(n)
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(),
                             embed_model=MockEmbedding(embed_dim=c.vectors.shape[1]))
    index.storage_context.persist(persist_dir=str(path))


def files(path: Path, c: Corpus, fmt: str = "jsonl") -> Path:
    """vectors.npy + vectors.jsonl (or .parquet): id, document_id, text, metadata."""
    path.mkdir(parents=True, exist_ok=True)
    npy = path / "vectors.npy"
    np.save(npy, c.vectors)
    rows = [{"id": c.ids[i], "document_id": c.docs[i], "text": c.texts[i], "metadata": c.metadata[i]}
            for i in range(len(c.ids))]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path / "vectors.parquet")
    else:
        (path / "vectors.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return npy


def milvus_lite_file(path: Path, name: str, *, n: int = 300, d: int = 32, seed: int = 0, unit: bool = True,
                     metric: str = "COSINE") -> Corpus:
    """A Milvus Lite legacy file built in a child process: Milvus Lite keeps a file's server running
    (and the file locked) for the life of the process that opened it, and the process under test
    (a `bitrag migrate` or the bitrag server) must open it itself. Returns the same corpus."""
    import subprocess
    import sys

    code = (f"import legacy_stores as ls; ls.milvus({str(path)!r}, {name!r}, "
            f"ls.corpus({n}, {d}, seed={seed}, unit={unit}), metric={metric!r})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent, capture_output=True,
                   timeout=120)
    return corpus(n, d, seed=seed, unit=unit)
