"""Milvus as a first-class backend: per-collection consistency level, partition key (multi-tenant
collections), flush after a bulk load. On Milvus Lite and on the real Milvus standalone server."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import bitrag

DIM = 32


def _vecs(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_consistency_level_per_collection(client: bitrag.Client, server) -> None:
    strong, default = _name("strong"), _name("dflt")
    info = client.create_collection(strong, dimension=DIM, embedder="none", index=server.index,
                                    consistency_level="Strong")
    assert info.consistency_level == "Strong"
    assert client.create_collection(default, dimension=DIM, embedder="none",
                                    index=server.index).consistency_level == "Session"
    x = _vecs(20, 1)
    client.ingest_vectors(strong, x, ids=[f"c{i}" for i in range(20)])
    assert client.search(strong, x[5], top_k=1).hits[0].chunk_id == "c5"
    assert client.describe_collection(strong).consistency_level == "Strong"
    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        client.create_collection(_name("bad"), dimension=DIM, embedder="none", consistency_level="Sometimes")
    assert ei.value.field == "consistency_level"
    client.drop_collection(strong)
    client.drop_collection(default)


def test_partition_key_multi_tenant(client: bitrag.Client, server) -> None:
    name = _name("tenants")
    if server.backend == "lite":  # Milvus Lite has no partition keys: refused up front, clearly
        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            client.create_collection(name, dimension=DIM, embedder="none", partition_key="tenant")
        assert ei.value.field == "partition_key" and "Milvus server" in ei.value.message
        return
    info = client.create_collection(name, dimension=DIM, embedder="none", index=server.index,
                                    partition_key="tenant", num_partitions=8)
    assert (info.partition_key, info.num_partitions) == ("tenant", 8)
    x = _vecs(60, 2)
    tenants = ["acme", "globex", "initech"]
    meta = [{"tenant": tenants[i % 3], "n": i} for i in range(60)]
    client.ingest_vectors(name, x, ids=[f"c{i}" for i in range(60)], metadata=meta)
    for i in (0, 1, 2, 31):
        own = tenants[i % 3]
        for mode in ("AUTO", "RESCORED", "EXACT", "BINARY_ONLY"):
            hits = client.search(name, x[i], top_k=5, filter=f'tenant == "{own}"', mode=mode).hits
            assert hits and all(h.metadata["tenant"] == own for h in hits), (mode, hits)
            assert hits[0].chunk_id == f"c{i}" or mode == "BINARY_ONLY"
        other = tenants[(i + 1) % 3]
        hits = client.search(name, x[i], top_k=5, filter=f'tenant == "{other}"').hits
        assert all(h.metadata["tenant"] == other for h in hits) and f"c{i}" not in {h.chunk_id for h in hits}
    hits = client.search(name, x[4], top_k=20, filter='tenant in ["acme", "globex"] and n < 30').hits
    assert hits and all(h.metadata["tenant"] in ("acme", "globex") and h.metadata["n"] < 30 for h in hits)
    # every chunk must carry its tenant: a batch with one missing writes nothing
    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        client.ingest_vectors(name, _vecs(2, 3), ids=["y0", "y1"], metadata=[{"tenant": "acme"}, {"n": 1}])
    assert ei.value.field == "records[1].metadata.tenant"
    assert client.describe_collection(name).rows == 60
    client.drop_collection(name)


def test_partition_key_validation(client: bitrag.Client, server) -> None:
    if server.backend == "standalone":
        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            client.create_collection(_name("p"), dimension=DIM, embedder="none", partition_key="not a key")
        assert ei.value.field == "partition_key"
    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        client.create_collection(_name("p"), dimension=DIM, embedder="none", num_partitions=4)
    assert ei.value.field == "num_partitions"


def test_flush_after_bulk_ingest(client: bitrag.Client, server) -> None:
    name = _name("flush")
    client.create_collection(name, dimension=DIM, embedder="none", index=server.index)
    x = _vecs(300, 4)
    res = client.ingest_vectors(name, x, ids=[f"c{i}" for i in range(300)], batch_size=100, flush=True)
    assert res.chunks_written == 300
    # flushed once, on the last request only; a Milvus server seals, Lite has nothing to seal
    assert ("milvus_flush" in res.timings_us) == (server.backend == "standalone")
    assert client.search(name, x[250], top_k=1).hits[0].chunk_id == "c250"
    assert client.describe_collection(name).rows == 300
    client.drop_collection(name)
