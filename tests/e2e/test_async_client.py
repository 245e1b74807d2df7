"""The same core operations through `bitrag.AsyncClient` (grpc.aio) against the real Lite server."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import numpy as np
import pytest

import bitrag
from bitrag import Document

DIM = 64


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def vecs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


async def test_async_vector_roundtrip(lite_server) -> None:
    name = unique("async")
    v = vecs(60, 1)
    ids = [f"r{i}" for i in range(60)]
    async with bitrag.AsyncClient(lite_server.target) as c:
        info = await c.create_collection(name, embedder="none", dimension=DIM, description="aio")
        assert (info.name, info.dimension, info.embedder, info.rows) == (name, DIM, "none", 0)
        assert name in {x.name for x in await c.list_collections()}

        res = await c.ingest_vectors(name, v, ids=ids, document_ids=[f"d{i // 2}" for i in range(60)],
                                     texts=[f"t{i}" for i in range(60)], metadata=[{"i": i} for i in range(60)])
        assert (res.documents_added, res.chunks_written, res.generation) == (30, 60, 1)
        d = await c.describe_collection(name)
        assert (d.rows, d.float_rows, d.bytes_in_ram, d.bytes_on_disk) == (60, 60, 60 * DIM // 8, 60 * DIM * 4)

        # concurrent searches on one channel, each finds its own vector first
        results = await asyncio.gather(*(c.search(name, v[i], top_k=3, mode="RESCORED") for i in range(0, 60, 6)))
        for i, r in zip(range(0, 60, 6), results):
            assert r.hits[0].chunk_id == f"r{i}"
            assert (r.hits[0].text, r.hits[0].metadata, r.hits[0].document_id) == (f"t{i}", {"i": i}, f"d{i // 2}")
            assert r.hits[0].score == pytest.approx(1.0, abs=1e-5)
            assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)
            assert r.diagnostics.path == "BINARY_RESCORED"
            assert r.diagnostics.candidates_examined == 12

        r = await c.search(name, v[0], top_k=60, oversample=2, filter="i >= 50")
        assert sorted(h.metadata["i"] for h in r.hits) == list(range(50, 60))

        dr = await c.delete(name, ["d0", "d1", "missing"])
        assert (dr.documents_deleted, dr.chunks_deleted, dr.generation) == (2, 4, 2)
        assert (await c.describe_collection(name)).rows == 56
        r = await c.search(name, v[0], top_k=60, oversample=2)
        assert len(r.hits) == 56
        assert not {"r0", "r1", "r2", "r3"} & {h.chunk_id for h in r.hits}

        again = await c.ingest_vectors(name, v[4:], ids=ids[4:], document_ids=[f"d{i // 2}" for i in range(4, 60)],
                                       texts=[f"t{i}" for i in range(4, 60)],
                                       metadata=[{"i": i} for i in range(4, 60)])
        assert (again.documents_unchanged, again.chunks_written, again.generation) == (28, 0, 2)

        await c.drop_collection(name)
        assert name not in {x.name for x in await c.list_collections()}


async def test_async_text_documents(lite_server) -> None:
    name = unique("async_txt")
    async with bitrag.AsyncClient(lite_server.target) as c:
        info = await c.create_collection(name)
        assert info.dimension == 384
        docs = [
            Document("sun", "The sun is a star at the centre of the solar system.", {"kind": "astro"}),
            Document("pasta", "Boil the pasta in salted water for nine minutes, then drain it.", {"kind": "food"}),
        ]
        res = await c.ingest_documents(name, docs)
        assert res.documents_added == 2
        r = await c.search(name, "how long should spaghetti cook?", top_k=1)
        assert (r.hits[0].document_id, r.hits[0].metadata) == ("pasta", {"kind": "food"})
        assert list(r.diagnostics.timings_us) == ["embed", "candidates", "tier", "rescore", "gate", "fetch"]
        await c.drop_collection(name)


async def test_async_errors_map_to_sdk_classes(lite_server) -> None:
    name = unique("async_err")
    async with bitrag.AsyncClient(lite_server.target) as c:
        with pytest.raises(bitrag.NotFoundError) as ei:
            await c.describe_collection(name)
        assert ei.value.code == grpc.StatusCode.NOT_FOUND and ei.value.field == "name"

        await c.create_collection(name, embedder="none", dimension=DIM)
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            await c.create_collection(name, embedder="none", dimension=DIM)
        assert ei.value.field == "name"

        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            await c.search(name, vecs(1, 2)[0], top_k=0)
        assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT and ei.value.field == "top_k"

        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            await c.search(name, b"\x00" * 10)
        assert ei.value.field == "vector"

        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            await c.search(name, vecs(1, 2)[0], filter="len(x) > 1")
        assert ei.value.field == "filter"

        with pytest.raises(bitrag.FailedPreconditionError) as ei:
            await c.search(name, "text query")
        assert ei.value.code == grpc.StatusCode.FAILED_PRECONDITION and ei.value.field == "text"

        bad = vecs(2, 3)
        bad[1, 0] = np.nan
        with pytest.raises(bitrag.InvalidArgumentError) as ei:
            await c.ingest_vectors(name, bad, ids=["a", "b"])
        assert ei.value.field == "records[1].vector"
        d = await c.describe_collection(name)
        assert (d.rows, d.float_rows, d.generation) == (0, 0, 0)
        await c.drop_collection(name)

    # a server that is not there: UNAVAILABLE, as UnavailableError
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with bitrag.AsyncClient(f"127.0.0.1:{port}", timeout=5) as c:
        with pytest.raises(bitrag.UnavailableError) as ei:
            await c.list_collections()
        assert ei.value.code == grpc.StatusCode.UNAVAILABLE


async def test_async_fetch_and_legacy_store(lite_server, tmp_path) -> None:
    import legacy_stores as ls

    name = unique("afetch")
    v = (vecs(10, 3) / np.linalg.norm(vecs(10, 3), axis=1, keepdims=True)).astype(np.float32)
    npy = ls.files(tmp_path / "legacy", ls.corpus(10, DIM))
    async with bitrag.AsyncClient(lite_server.target) as c:
        await c.create_collection(name, embedder="none", dimension=DIM)
        await c.ingest_vectors(name, v, ids=[f"r{i}" for i in range(10)], metadata=[{"i": i} for i in range(10)])
        records, missing = await c.fetch(name, ["r3", "r7", "nope"])
        assert [r.id for r in records] == ["r3", "r7"] and missing == ["nope"]
        assert records[0].vector.tobytes() == v[3].tobytes() and records[1].metadata == {"i": 7}  # unit rows kept as sent
        info = await c.set_legacy_store(name, bitrag.LegacyStore(source=f"files:{npy}", shadow_rate=0.5),
                                        fallback=["collection", "exact"])
        assert info.gate.legacy_store.shadow_rate == 0.5 and info.gate.fallback == ("collection", "exact")
        info = await c.set_legacy_store(name, None)
        assert info.gate.legacy_store.source == "" and info.gate.fallback == ("exact",)
        with pytest.raises(bitrag.InvalidArgumentError) as e:
            await c.fetch(name, [])
        assert e.value.field == "document_ids"
