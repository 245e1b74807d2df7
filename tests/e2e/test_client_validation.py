"""Client-side mistakes, over both SDK twins against the real Lite server: each raises
InvalidArgumentError naming the field (message "field: ..."), before anything is sent; numpy and
pandas metadata values are converted and round-trip; one 1-D vector is one row."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest

import bitrag
from bitrag import Document
from sdk_twins import sdk_client

DIM = 16


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


@pytest.fixture
def client(lite_server, sdk_kind: str) -> Iterator[Any]:
    with sdk_client(sdk_kind, lite_server.target) as c:
        yield c


@pytest.fixture
def coll(client: Any) -> Iterator[str]:
    """A raw-vector collection holding 4 rows."""
    name = unique("val")
    client.create_collection(name, embedder="none", dimension=DIM)
    client.ingest_vectors(name, vecs(4), ids=[f"r{i}" for i in range(4)])
    yield name
    client.drop_collection(name)


def invalid(call: Callable[[], Any], field: str, *words: str) -> bitrag.InvalidArgumentError:
    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        call()
    e = ei.value
    assert e.field == field, (e.field, e.message)
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.message.startswith(f"{field}: "), e.message
    for w in words:
        assert w in e.message, (w, e.message)
    assert isinstance(e, ValueError)  # a bad argument, for code that catches ValueError
    return e


def test_out_of_range_integers(client: Any, coll: str) -> None:
    q = vecs(1)[0]
    invalid(lambda: client.search(coll, q, top_k=-1), "top_k", "-1", "out of range")
    invalid(lambda: client.search(coll, q, top_k=2**32), "top_k", "out of range")
    invalid(lambda: client.search(coll, q, top_k=2.5), "top_k", "integer")
    invalid(lambda: client.search(coll, q, oversample=-3), "oversample", "-3")
    invalid(lambda: client.calibrate(coll, samples=-1), "samples")
    invalid(lambda: next(iter(client.ask(coll, "q?", top_k=-1))), "top_k")
    invalid(lambda: next(iter(client.ask(coll, "q?", max_tokens=-5))), "max_tokens")
    invalid(lambda: client.create_collection(unique("x"), embedder="none", dimension=-8), "dimension")
    invalid(lambda: client.create_collection(unique("x"), default_oversample=-1), "default_oversample")
    invalid(lambda: client.ingest_documents(coll, [Document("a", "t")], chunk_size=-1), "chunk_size")
    invalid(lambda: client.ingest_vectors(coll, vecs(2), ids=["a", "b"], batch_size=0), "batch_size")
    # numpy integers are integers
    assert len(client.search(coll, q, top_k=np.int64(2)).hits) == 2


def test_unknown_mode_and_bad_floats(client: Any, coll: str) -> None:
    q = vecs(1)[0]
    invalid(lambda: client.search(coll, q, mode="FASTEST"), "mode", "AUTO", "FASTEST")
    invalid(lambda: client.search(coll, q, mode=3), "mode")
    invalid(lambda: next(iter(client.ask(coll, "q?", mode="nope"))), "mode")
    invalid(lambda: client.search(coll, q, confidence_threshold="high"), "confidence_threshold", "number")
    invalid(lambda: next(iter(client.ask(coll, "q?", temperature=float("inf")))), "temperature", "finite")
    assert client.search(coll, q, top_k=1, mode="rescored").diagnostics.mode == "RESCORED"  # any case


def test_vector_shapes_and_lengths(client: Any, coll: str) -> None:
    v = vecs(3, seed=1)
    invalid(lambda: client.ingest_vectors(coll, v, ids=["a", "b"]), "ids", "2 items for 3 vectors")
    invalid(lambda: client.ingest_vectors(coll, v, ids=["a", "b", "c"], texts=["t"]), "texts", "1 items")
    invalid(lambda: client.ingest_vectors(coll, v, ids=["a", "b", "c"], metadata=[{}]), "metadata")
    invalid(lambda: client.ingest_vectors(coll, v, document_ids=["a"] * 4), "document_ids")
    invalid(lambda: client.ingest_vectors(coll, v), "ids", "required")
    invalid(lambda: client.ingest_vectors(coll, v[None], ids=["a"]), "vectors", "shape (1, 3, 16)")
    invalid(lambda: client.ingest_vectors(coll, [["x"] * DIM], ids=["a"]), "vectors")
    invalid(lambda: client.ingest_vectors(coll, v, ids="abc"), "ids", "not one string")
    invalid(lambda: client.ingest_vectors(coll, v, ids=["a", 2, "c"]), "ids[1]", "string")
    # a 1-D vector whose length matches no id list says so
    e = invalid(lambda: client.ingest_vectors(coll, v[0], ids=["a", "b"]), "ids", "1-D")
    assert "[n, d]" in e.message
    invalid(lambda: client.search(coll, v[:2]), "query", "1-D")
    invalid(lambda: client.fetch(coll, "r0"), "document_ids", "not one string")
    invalid(lambda: client.delete(coll, "r0"), "document_ids", "not one string")
    # nothing reached the server
    assert client.describe_collection(coll).rows == 4

    # one vector [d] (and a query [1, d]) is one row
    res = client.ingest_vectors(coll, v[0], ids=["single"])
    assert (res.documents_added, res.chunks_written) == (1, 1)
    assert client.search(coll, v[0][None, :], top_k=1, mode="EXACT").hits[0].chunk_id == "single"


def test_numpy_and_pandas_metadata_round_trip(client: Any, coll: str) -> None:
    md = {
        "i": np.int64(3), "u": np.uint8(7), "f": np.float32(0.5), "b": np.bool_(True), "s": np.str_("x"),
        "when": pd.Timestamp("2024-05-01 12:30:00"), "day": dt.date(2024, 5, 2), "arr": np.arange(3),
        "nested": {"k": [np.int32(1), (np.float64(2.5), None)]}, "tags": ("a", "b"),
    }
    client.ingest_vectors(coll, vecs(1, seed=9), ids=["np"], metadata=[md])
    want = {"i": 3, "u": 7, "f": 0.5, "b": True, "s": "x", "when": "2024-05-01T12:30:00", "day": "2024-05-02",
            "arr": [0, 1, 2], "nested": {"k": [1, [2.5, None]]}, "tags": ["a", "b"]}
    records, missing = client.fetch(coll, ["np"], include_vectors=False)
    assert missing == [] and records[0].metadata == want
    hit = client.search(coll, vecs(1, seed=9)[0], top_k=1, mode="EXACT", filter="i == 3 and b == true").hits[0]
    assert (hit.chunk_id, hit.metadata) == ("np", want)
    # documents too, through the server's embedder-free path: a numpy value names its record and key
    invalid(lambda: client.ingest_vectors(coll, vecs(2), ids=["a", "b"], metadata=[{}, {"when": object()}]),
            "metadata[1].when", "unsupported metadata type", "builtins.object")
    invalid(lambda: client.ingest_documents(coll, [Document("d", "t", {"big": np.int64(2**60)})]),
            "documents[0].metadata.big", "as a string")
    invalid(lambda: client.ingest_documents(coll, [Document("d", "t", {1: "x"})]), "documents[0].metadata", "keys")
    invalid(lambda: client.ingest_documents(coll, ["just text"]), "documents[0]", "bitrag.Document")
