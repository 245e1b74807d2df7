"""Round trips through the real server on both backends (Milvus Lite and Milvus standalone) and
through both SDK twins (`Client`, `AsyncClient`): collections, raw-vector and text ingest, search
(checked against numpy), filters, delete, idempotent re-ingest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

import bitrag
from bitrag import Document
from sdk_twins import sdk_client

ServerProc = Any  # tests/conftest.py's ServerProc: .target, .backend, .index (index for test collections)

DIM = 64


@pytest.fixture
def client(server: ServerProc, sdk_kind: str) -> Iterator[bitrag.Client]:
    """Every test here runs over Client and over AsyncClient."""
    with sdk_client(sdk_kind, server.target) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def rand_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def cosines(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return unit(rows) @ unit(query)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance of the sign codes (bit = x > 0) of two vectors."""
    return int(np.count_nonzero((a > 0) != (b > 0)))


def vector_collection(client: bitrag.Client, server: ServerProc, **kw) -> str:
    name = unique("vec")
    client.create_collection(name, embedder="none", dimension=DIM, index=server.index, **kw)
    return name


def text_collection(client: bitrag.Client, server: ServerProc) -> str:
    name = unique("txt")
    client.create_collection(name, index=server.index)  # server default embedder: local
    return name


DOCS = [
    Document("cats", "Cats are small domesticated felines that purr, sleep a lot and chase mice.",
             {"topic": "animals", "year": 2021}),
    Document("rust", "Rust is a systems programming language that guarantees memory safety without a "
             "garbage collector, using ownership and borrowing.", {"topic": "programming", "year": 2015}),
    Document("bread", "To bake sourdough bread you need flour, water, salt and an active starter culture.",
             {"topic": "cooking", "year": 2019}),
    Document("tides", "Ocean tides are caused by the gravitational pull of the moon and the sun on the seas.",
             {"topic": "science", "year": 2010}),
    Document("volcano", "A volcano erupts when molten rock, ash and gases escape from a magma chamber.",
             {"topic": "science", "year": 2023}),
]


# ---- collections ---------------------------------------------------------------------------------


def test_collection_lifecycle(client: bitrag.Client, server: ServerProc) -> None:
    name = unique("life")
    info = client.create_collection(
        name, embedder="none", dimension=DIM, index=server.index, description="lifecycle", default_oversample=3
    )
    assert (info.name, info.dimension, info.embedder, info.description) == (name, DIM, "none", "lifecycle")
    assert info.default_oversample == 3
    assert (info.rows, info.float_rows, info.bytes_in_ram, info.bytes_on_disk, info.generation) == (0, 0, 0, 0, 0)
    assert info.created_unix_ms > 0
    if server.backend == "lite":
        assert info.index.type == "BIN_FLAT"
    else:
        assert info.index == server.index

    assert name in {c.name for c in client.list_collections()}

    n = 50
    res = client.ingest_vectors(name, rand_vectors(n, seed=1), ids=[f"r{i}" for i in range(n)])
    assert (res.documents_added, res.chunks_written, res.generation) == (n, n, 1)
    d = client.describe_collection(name)
    assert (d.rows, d.float_rows, d.generation) == (n, n, 1)
    assert d.bytes_in_ram == d.rows * DIM // 8
    assert d.bytes_on_disk == d.float_rows * DIM * 4
    listed = {c.name: c for c in client.list_collections()}
    assert listed[name].rows == n

    with pytest.raises(bitrag.AlreadyExistsError) as ei:
        client.create_collection(name, embedder="none", dimension=DIM, index=server.index)
    assert ei.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert ei.value.field == "name"
    assert name in ei.value.message
    assert client.describe_collection(name).rows == n  # the failed create touched nothing

    client.drop_collection(name)
    assert name not in {c.name for c in client.list_collections()}
    for call in (
        lambda: client.describe_collection(name),
        lambda: client.drop_collection(name),
        lambda: client.search(name, rand_vectors(1)[0]),
    ):
        with pytest.raises(bitrag.NotFoundError) as ei:
            call()
        assert ei.value.code == grpc.StatusCode.NOT_FOUND
        assert name in ei.value.message

    # the name is free again, and the new collection starts empty (no leftover rows or file)
    again = client.create_collection(name, embedder="none", dimension=DIM, index=server.index)
    assert (again.rows, again.float_rows, again.generation) == (0, 0, 0)
    assert client.search(name, rand_vectors(1)[0]).hits == []
    client.drop_collection(name)


# ---- raw vectors ---------------------------------------------------------------------------------


def test_vector_search_matches_numpy(client: bitrag.Client, server: ServerProc) -> None:
    name = vector_collection(client, server)
    n = 300
    vecs = rand_vectors(n, seed=2)
    ids = [f"v{i}" for i in range(n)]
    res = client.ingest_vectors(
        name, vecs, ids=ids, texts=[f"text {i}" for i in range(n)], metadata=[{"i": i} for i in range(n)],
        batch_size=128,  # several requests
    )
    assert (res.documents_added, res.chunks_written) == (n, n)
    assert client.describe_collection(name).rows == n

    # a stored vector finds itself first with cosine 1
    for i in (0, 17, 150, 299):
        r = client.search(name, vecs[i], top_k=5, mode="RESCORED")
        top = r.hits[0]
        assert (top.chunk_id, top.document_id, top.text, top.metadata) == (ids[i], ids[i], f"text {i}", {"i": i})
        assert top.score == pytest.approx(1.0, abs=1e-5)
        assert top.hamming_distance == 0
        assert len(r.hits) == 5
        scores = [h.score for h in r.hits]
        assert scores == sorted(scores, reverse=True)
        exact = cosines(vecs[i], vecs)
        for h in r.hits:
            assert h.score == pytest.approx(exact[int(h.chunk_id[1:])], abs=1e-5)
            assert h.hamming_distance == hamming(vecs[i], vecs[int(h.chunk_id[1:])])
        d = r.diagnostics
        assert d.path == "BINARY_RESCORED"
        assert d.oversample == 4
        assert d.candidates_examined == min(5 * 4, n)
        assert list(d.timings_us) == ["candidates", "tier", "rescore", "gate", "fetch"]  # no embed: a vector query
        assert d.total_us >= sum(d.timings_us.values()) > 0

    # candidates covering the whole collection: the result is numpy's exact top-k
    rng = np.random.default_rng(3)
    for _ in range(3):
        q = rng.standard_normal(DIM).astype(np.float32)
        r = client.search(name, q, top_k=10, oversample=64)
        assert r.diagnostics.candidates_examined == min(10 * 64, n) == n
        assert r.diagnostics.oversample == 64
        exact = cosines(q, vecs)
        expected = [ids[j] for j in np.argsort(-exact)[:10]]
        assert [h.chunk_id for h in r.hits] == expected
        np.testing.assert_allclose([h.score for h in r.hits], np.sort(exact)[::-1][:10], atol=1e-5)

    # re-sending the same records is a no-op
    again = client.ingest_vectors(name, vecs, ids=ids, texts=[f"text {i}" for i in range(n)],
                                  metadata=[{"i": i} for i in range(n)], batch_size=128)
    assert (again.documents_unchanged, again.documents_added, again.chunks_written) == (n, 0, 0)
    d = client.describe_collection(name)
    assert (d.rows, d.float_rows, d.generation) == (n, n, res.generation)
    client.drop_collection(name)


# ---- text documents, local embedder --------------------------------------------------------------


def test_text_documents_local_embedder(client: bitrag.Client, server: ServerProc) -> None:
    name = text_collection(client, server)
    info = client.describe_collection(name)
    assert info.dimension == 384
    assert info.embedder == "local:all-MiniLM-L6-v2"

    res = client.ingest_documents(name, DOCS)
    assert (res.documents_added, res.chunks_written, res.documents_unchanged) == (len(DOCS), len(DOCS), 0)
    assert client.describe_collection(name).rows == len(DOCS)

    r = client.search(name, "Which language prevents memory bugs without a garbage collector?", top_k=3)
    top = r.hits[0]
    assert top.document_id == "rust"
    assert top.chunk_id == "rust#0"
    assert top.text == DOCS[1].text
    assert top.metadata == DOCS[1].metadata
    assert -1.0 <= top.score <= 1.0 and top.score > r.hits[1].score
    for h in r.hits:
        doc = next(d for d in DOCS if d.id == h.document_id)
        assert (h.text, h.metadata) == (doc.text, doc.metadata)
    d = r.diagnostics
    assert d.path == "BINARY_RESCORED"
    assert d.candidates_examined == min(3 * 4, len(DOCS))
    assert list(d.timings_us) == ["embed", "candidates", "tier", "rescore", "gate", "fetch"]
    assert all(v >= 0 for v in d.timings_us.values()) and d.total_us > 0

    r = client.search(name, "How do I bake bread with a sourdough starter?", top_k=1, oversample=2, mode="RESCORED")
    assert [h.document_id for h in r.hits] == ["bread"]
    # the Hamming pool (1 x 2 x 4 = 8) holds all chunks, so every one is rescored: an exact answer
    assert r.diagnostics.candidates_examined == len(DOCS) and r.diagnostics.confidence == 1.0
    assert r.diagnostics.oversample == 2
    client.drop_collection(name)


# ---- filters -------------------------------------------------------------------------------------

N_FILTER = 40
SOURCES = ["a", "b", "c", "d"]


def _filter_meta(i: int) -> dict:
    return {"year": 2015 + i % 10, "source": SOURCES[i % 4], "x": i % 3}


FILTERS = [
    ("year >= 2020", lambda m, doc: m["year"] >= 2020),
    ('source in ["a", "b"]', lambda m, doc: m["source"] in ("a", "b")),
    ("not (x == 1)", lambda m, doc: not m["x"] == 1),
    ('document_id == "d7"', lambda m, doc: doc == "d7"),
    ('year < 2018 and source not in ["a"] or x == 2', lambda m, doc: (m["year"] < 2018 and m["source"] != "a")
     or m["x"] == 2),
]


@pytest.mark.parametrize("expr,pred", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_pushed_down(client: bitrag.Client, server: ServerProc, expr: str, pred) -> None:
    name = vector_collection(client, server)
    vecs = rand_vectors(N_FILTER, seed=4)
    doc_ids = [f"d{i}" for i in range(N_FILTER)]
    meta = [_filter_meta(i) for i in range(N_FILTER)]
    client.ingest_vectors(name, vecs, document_ids=doc_ids, metadata=meta)
    expected = {doc_ids[i] for i in range(N_FILTER) if pred(meta[i], doc_ids[i])}
    excluded = [i for i in range(N_FILTER) if doc_ids[i] not in expected]
    assert expected and excluded

    # everything that passes, nothing else
    r = client.search(name, vecs[0], top_k=N_FILTER, oversample=64, filter=expr)
    assert {h.document_id for h in r.hits} == expected
    for h in r.hits:
        assert pred(h.metadata, h.document_id), (expr, h)

    # querying with a filtered-out document's own vector: it never shows up, and the filter is
    # applied before the top-k cut (a full top-k of matching documents comes back)
    k = min(5, len(expected))
    for i in excluded[:3]:
        r = client.search(name, vecs[i], top_k=k, filter=expr)
        assert len(r.hits) == k
        assert doc_ids[i] not in {h.document_id for h in r.hits}
        assert all(pred(h.metadata, h.document_id) for h in r.hits)
        assert r.hits[0].score < 0.99
    client.drop_collection(name)


# ---- delete --------------------------------------------------------------------------------------


def test_delete_documents(client: bitrag.Client, server: ServerProc) -> None:
    name = vector_collection(client, server)
    n_docs, per = 5, 3
    vecs = rand_vectors(n_docs * per, seed=5)
    doc_ids = [f"doc{i // per}" for i in range(n_docs * per)]
    res = client.ingest_vectors(name, vecs, document_ids=doc_ids)
    assert (res.documents_added, res.chunks_written) == (n_docs, n_docs * per)
    gen = client.describe_collection(name).generation

    r = client.search(name, vecs[per * 1], top_k=1)
    assert r.hits[0].chunk_id == "doc1#0" and r.hits[0].document_id == "doc1"

    d = client.delete(name, ["doc1", "doc3"])
    assert (d.documents_deleted, d.chunks_deleted) == (2, 2 * per)
    assert d.generation == gen + 1
    info = client.describe_collection(name)
    assert info.rows == (n_docs - 2) * per
    assert info.float_rows == n_docs * per  # float rows stay until a compaction
    assert info.bytes_in_ram == info.rows * DIM // 8
    assert info.bytes_on_disk == info.float_rows * DIM * 4
    assert info.generation == gen + 1

    alive = {"doc0", "doc2", "doc4"}
    for i in range(0, n_docs * per, per):  # the first chunk of every document, deleted or not
        r = client.search(name, vecs[i], top_k=(n_docs - 2) * per, oversample=64)
        assert {h.document_id for h in r.hits} == alive
        assert len(r.hits) == (n_docs - 2) * per

    for ids in (["nope", "nada"], ["doc1"], ["doc3", "doc3"]):
        d = client.delete(name, ids)
        assert (d.documents_deleted, d.chunks_deleted, d.generation) == (0, 0, gen + 1)
    assert client.describe_collection(name).rows == (n_docs - 2) * per
    client.drop_collection(name)


# ---- idempotent re-ingest ------------------------------------------------------------------------


def test_reingest_is_idempotent_and_replaces_changed(client: bitrag.Client, server: ServerProc) -> None:
    name = text_collection(client, server)
    long_b = " ".join(
        f"Sentence number {i} explains how lighthouses guided sailors along the rocky coast." for i in range(12)
    )
    docs = [
        Document("a", DOCS[0].text, {"v": 1}),
        Document("b", long_b, {"v": 1}),
        Document("c", DOCS[2].text, {"v": 1}),
    ]
    kw = dict(chunk_size=48, chunk_overlap=8)
    first = client.ingest_documents(name, docs, **kw)
    assert first.documents_added == 3
    before = client.describe_collection(name)
    assert before.rows == first.chunks_written
    b_chunks = first.chunks_written - 2
    assert b_chunks >= 3  # the long document is split into several chunks

    same = client.ingest_documents(name, docs, **kw)
    assert (same.documents_unchanged, same.documents_added, same.documents_replaced) == (3, 0, 0)
    assert (same.chunks_written, same.chunks_deleted) == (0, 0)
    assert same.generation == before.generation
    after = client.describe_collection(name)
    assert (after.rows, after.float_rows, after.generation) == (before.rows, before.float_rows, before.generation)

    new_b = "Volcanic eruptions eject molten lava, ash clouds and sulphur gases from deep magma chambers."
    docs[1] = Document("b", new_b, {"v": 2})
    changed = client.ingest_documents(name, docs, **kw)
    assert (changed.documents_replaced, changed.documents_unchanged, changed.documents_added) == (1, 2, 0)
    assert (changed.chunks_written, changed.chunks_deleted) == (1, b_chunks)
    assert changed.generation == before.generation + 1
    info = client.describe_collection(name)
    assert info.rows == before.rows - b_chunks + 1
    assert info.float_rows == before.float_rows + 1
    assert info.generation == before.generation + 1

    r = client.search(name, "lava and ash from a volcano", top_k=1)
    assert (r.hits[0].document_id, r.hits[0].text, r.hits[0].metadata) == ("b", new_b, {"v": 2})
    r = client.search(name, "lighthouses guided sailors along the coast", top_k=10, oversample=10)
    assert len(r.hits) == info.rows
    assert [h for h in r.hits if "lighthouse" in h.text] == []
    assert sorted(h.chunk_id for h in r.hits if h.document_id == "b") == ["b#0"]
    client.drop_collection(name)


# ---- metadata types, batching, concurrency -------------------------------------------------------


def test_metadata_types_round_trip_and_filter(client: bitrag.Client, server: ServerProc) -> None:
    name = vector_collection(client, server)
    v = rand_vectors(3, seed=6)
    meta = [
        {"tags": ["x", "y"], "nested": {"a": 1, "b": [1, 2.5]}, "flag": True, "score": 0.5, "none": None,
         "neg": -3, "quote": 'say "hi" \\ bye', "uni": "héllo wörld"},
        {"flag": False, "score": 1.5, "neg": 3, "quote": "plain", "uni": "hello"},
        {},
    ]
    client.ingest_vectors(name, v, ids=["m0", "m1", "m2"], metadata=meta)
    for i in range(3):
        assert client.search(name, v[i], top_k=1).hits[0].metadata == meta[i]

    def ids(expr: str) -> list[str]:
        return sorted(h.chunk_id for h in client.search(name, v[0], top_k=3, filter=expr).hits)

    assert ids("flag == True") == ["m0"]
    assert ids("flag == False") == ["m1"]
    assert ids("neg < 0") == ["m0"]
    assert ids("score >= 0.5 and score < 1") == ["m0"]
    assert ids('quote == "say \\"hi\\" \\\\ bye"') == ["m0"]
    assert ids('uni == "héllo wörld"') == ["m0"]
    assert ids('uni in ["hello", "nope"]') == ["m1"]
    assert ids('document_id in ["m1", "m2"]') == ["m1", "m2"]
    assert ids('metadata["neg"] > 0') == ["m1"]
    client.drop_collection(name)


def test_interleaved_document_ids_across_batches(client: bitrag.Client, server: ServerProc) -> None:
    """Chunks of one document given non-contiguously, split over several requests, all arrive and
    the document is written once (not replaced by its later chunks)."""
    name = vector_collection(client, server)
    v = rand_vectors(7, seed=7)
    doc_ids = ["a", "b", "a", "c", "b", "a", "c"]
    res = client.ingest_vectors(name, v, document_ids=doc_ids, texts=[f"t{i}" for i in range(7)], batch_size=2)
    assert (res.documents_added, res.documents_replaced, res.chunks_written, res.chunks_deleted) == (3, 0, 7, 0)
    assert client.describe_collection(name).rows == 7
    expected_chunk = {}
    for i, d in enumerate(doc_ids):
        expected_chunk[i] = f"{d}#{sum(1 for x in doc_ids[:i] if x == d)}"  # chunk order kept per document
    for i in range(7):
        top = client.search(name, v[i], top_k=1).hits[0]
        assert (top.chunk_id, top.document_id, top.text) == (expected_chunk[i], doc_ids[i], f"t{i}")
    again = client.ingest_vectors(name, v, document_ids=doc_ids, texts=[f"t{i}" for i in range(7)], batch_size=2)
    assert (again.documents_unchanged, again.chunks_written) == (3, 0)
    client.drop_collection(name)


def test_concurrent_ingest_and_search(client: bitrag.Client, server: ServerProc) -> None:
    """Parallel ingests into one collection are serialised: every row lands once, with a distinct
    generation per ingest, while searches keep answering."""
    import threading

    name = vector_collection(client, server)
    n_threads, per = 4, 40
    v = rand_vectors(n_threads * per, seed=8)
    results: list = []
    failures: list[BaseException] = []

    def ingest(t: int) -> None:
        try:
            with bitrag.Client(server.target) as c:
                sl = slice(t * per, (t + 1) * per)
                results.append(c.ingest_vectors(name, v[sl], ids=[f"t{t}_{i}" for i in range(per)]))
                c.search(name, v[t * per], top_k=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=ingest, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert sorted(r.generation for r in results) == list(range(1, n_threads + 1))
    assert all(r.chunks_written == per for r in results)
    d = client.describe_collection(name)
    assert (d.rows, d.float_rows, d.generation) == (n_threads * per, n_threads * per, n_threads)
    for t in range(n_threads):
        for i in (0, per - 1):
            assert client.search(name, v[t * per + i], top_k=1).hits[0].chunk_id == f"t{t}_{i}"
    client.drop_collection(name)
