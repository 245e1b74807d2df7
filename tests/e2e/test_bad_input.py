"""Rejected requests, end to end (Milvus Lite): the SDK exception class, the gRPC status code, the
offending field (in `.field` and leading the message), and no side effects of a rejected ingest."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pytest

import bitrag
from bitrag import Document
from bitrag.errors import from_rpc_error
from bitrag.v1 import bitrag_pb2 as pb
from bitrag.v1 import bitrag_pb2_grpc as pb_grpc

DIM = 64
ROWS = 20


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def vecs(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def rejects(
    call: Callable[[], Any], cls: type[bitrag.BitragError], code: grpc.StatusCode, field: str, *words: str
) -> bitrag.BitragError:
    """`call()` raises `cls` with `code`; `.field == field` and the message starts with it."""
    with pytest.raises(cls) as ei:
        call()
    e = ei.value
    assert e.code == code, e
    assert e.field == field, (e.field, e.message)
    assert e.message.startswith(f"{field}: "), e.message
    for w in words:
        assert w in e.message, (w, e.message)
    return e


def invalid(call: Callable[[], Any], field: str, *words: str) -> bitrag.BitragError:
    return rejects(call, bitrag.InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT, field, *words)


def state(client: bitrag.Client, name: str) -> tuple[int, int, int, int]:
    d = client.describe_collection(name)
    return d.rows, d.float_rows, d.generation, d.bytes_on_disk


@pytest.fixture(scope="module")
def mclient(lite_server) -> Iterator[bitrag.Client]:
    with lite_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def vec_coll(mclient: bitrag.Client) -> Iterator[str]:
    """A raw-vector collection (dim 64) holding ROWS rows."""
    name = unique("bad_vec")
    mclient.create_collection(name, embedder="none", dimension=DIM)
    mclient.ingest_vectors(name, vecs(ROWS), ids=[f"r{i}" for i in range(ROWS)])
    yield name
    mclient.drop_collection(name)


@pytest.fixture(scope="module")
def text_coll(mclient: bitrag.Client) -> Iterator[str]:
    """A collection with the local embedder holding one document."""
    name = unique("bad_txt")
    mclient.create_collection(name, embedder="local")
    mclient.ingest_documents(name, [Document("seed", "A seed document about binary codes.")])
    yield name
    mclient.drop_collection(name)


@pytest.fixture
def unchanged(mclient: bitrag.Client, vec_coll: str, text_coll: str) -> Iterator[None]:
    """Whatever the test sends, neither collection changes (rows, float rows, generation, bytes)."""
    before = {c: state(mclient, c) for c in (vec_coll, text_coll)}
    yield
    assert {c: state(mclient, c) for c in (vec_coll, text_coll)} == before


def raw_ingest(target: str, req: pb.IngestRequest) -> pb.IngestResponse:
    """An Ingest request the SDK would not build (malformed vector bytes), sent on a plain stub;
    errors mapped by the SDK's own `from_rpc_error`."""
    with grpc.insecure_channel(target) as ch:
        try:
            return pb_grpc.BitragServiceStub(ch).Ingest(req, timeout=30)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None


# ---- collections ---------------------------------------------------------------------------------


def test_unknown_collection(mclient: bitrag.Client) -> None:
    name = unique("missing")
    nf = (bitrag.NotFoundError, grpc.StatusCode.NOT_FOUND)
    rejects(lambda: mclient.describe_collection(name), *nf, "name", name)
    rejects(lambda: mclient.drop_collection(name), *nf, "name", name)
    rejects(lambda: mclient.search(name, vecs(1)[0]), *nf, "collection", name)
    rejects(lambda: mclient.ingest_vectors(name, vecs(1), ids=["a"]), *nf, "collection", name)
    rejects(lambda: mclient.delete(name, ["a"]), *nf, "collection", name)
    assert name not in {c.name for c in mclient.list_collections()}


def test_existing_collection(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    rejects(
        lambda: mclient.create_collection(vec_coll, embedder="none", dimension=DIM),
        bitrag.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, "name", vec_coll,
    )


@pytest.mark.parametrize("name", ["1abc", "bad-name", "has space", "_x", "a" * 64, "naïve"])
def test_bad_collection_name(mclient: bitrag.Client, name: str) -> None:
    invalid(lambda: mclient.create_collection(name, embedder="none", dimension=DIM), "name", "invalid collection name")
    invalid(lambda: mclient.search(name, vecs(1)[0]), "collection", "invalid collection name")
    assert name not in {c.name for c in mclient.list_collections()}


def test_empty_collection_name(mclient: bitrag.Client) -> None:
    invalid(lambda: mclient.create_collection("", embedder="none", dimension=DIM), "name", "required")


@pytest.mark.parametrize("dim", [12, 100, 4])
def test_dimension_not_multiple_of_8(mclient: bitrag.Client, dim: int) -> None:
    name = unique("dim")
    invalid(lambda: mclient.create_collection(name, embedder="none", dimension=dim), "dimension",
            str(dim), "multiple of 8")
    assert name not in {c.name for c in mclient.list_collections()}


def test_dimension_required_without_embedder(mclient: bitrag.Client) -> None:
    invalid(lambda: mclient.create_collection(unique("dim"), embedder="none"), "dimension", "required")


def test_index_type_not_on_lite(mclient: bitrag.Client) -> None:
    name = unique("ivf")
    invalid(
        lambda: mclient.create_collection(name, embedder="none", dimension=DIM,
                                          index=bitrag.IndexSpec("BIN_IVF_FLAT", {"nlist": 16})),
        "index.type", "BIN_IVF_FLAT",
    )
    assert name not in {c.name for c in mclient.list_collections()}


# ---- search --------------------------------------------------------------------------------------


def test_search_wrong_dimension(mclient: bitrag.Client, vec_coll: str) -> None:
    invalid(lambda: mclient.search(vec_coll, vecs(1, 32)[0]), "vector", "dimension 32", str(DIM))
    invalid(lambda: mclient.search(vec_coll, vecs(1, 128)[0]), "vector", "dimension 128")


def test_search_vector_bytes_not_multiple_of_4(mclient: bitrag.Client, vec_coll: str) -> None:
    invalid(lambda: mclient.search(vec_coll, b"\x00" * 10), "vector", "10 bytes", "multiple of 4")
    invalid(lambda: mclient.search(vec_coll, np.ones(DIM, "<f4").tobytes() + b"\x01"), "vector", "multiple of 4")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_search_non_finite(mclient: bitrag.Client, vec_coll: str, bad: float) -> None:
    q = vecs(1)[0]
    q[7] = bad
    invalid(lambda: mclient.search(vec_coll, q), "vector", "non-finite", "index 7")


def test_search_zero_vector(mclient: bitrag.Client, vec_coll: str) -> None:
    invalid(lambda: mclient.search(vec_coll, np.zeros(DIM, np.float32)), "vector", "zero vector")


@pytest.mark.parametrize("top_k", [0, 1001])
def test_search_top_k_out_of_range(mclient: bitrag.Client, vec_coll: str, top_k: int) -> None:
    invalid(lambda: mclient.search(vec_coll, vecs(1)[0], top_k=top_k), "top_k", str(top_k), "1..1000")


def test_search_top_k_limits_accepted(mclient: bitrag.Client, vec_coll: str) -> None:
    assert len(mclient.search(vec_coll, vecs(1)[0], top_k=1).hits) == 1
    assert len(mclient.search(vec_coll, vecs(1)[0], top_k=1000).hits) == ROWS


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_search_empty_query(mclient: bitrag.Client, text_coll: str, vec_coll: str, text: str) -> None:
    invalid(lambda: mclient.search(text_coll, text), "query", "empty query")
    invalid(lambda: mclient.search(vec_coll, text), "query", "empty query")
    invalid(lambda: mclient.search(vec_coll, b""), "vector", "empty vector")


@pytest.mark.parametrize(
    "expr,words",
    [
        ("year >=", ["syntax error"]),
        ("year >= 2020 and", ["syntax error"]),
        ("len(x) > 1", ["expected a metadata key"]),
        ("x.y == 1", ["expected a metadata key"]),
        ("__import__('os').system('true')", ["expected a comparison"]),
        ("year", ["expected a comparison"]),
        ("1 < year < 3", ["chained comparisons"]),
        ("year == other_key", ["literal"]),
        ("source in []", ["non-empty list"]),
        ("year is None", ["unsupported operator"]),
        ("row >= 0 or code == 1", []),  # internal Milvus fields are metadata keys, never columns
    ],
)
def test_search_malformed_filter(mclient: bitrag.Client, vec_coll: str, expr: str, words: list[str]) -> None:
    if expr.startswith("row"):
        # Not malformed: `row` means metadata["row"], which no row has -> nothing matches.
        assert mclient.search(vec_coll, vecs(1)[0], filter=expr).hits == []
        return
    invalid(lambda: mclient.search(vec_coll, vecs(1)[0], filter=expr), "filter", *words)


def test_search_filter_too_long(mclient: bitrag.Client, vec_coll: str) -> None:
    expr = " or ".join(f"x == {i}" for i in range(600))
    assert len(expr) > 4096
    invalid(lambda: mclient.search(vec_coll, vecs(1)[0], filter=expr), "filter", "4096")


@pytest.mark.parametrize("oversample", [65, 1000])
def test_search_oversample_out_of_range(mclient: bitrag.Client, vec_coll: str, oversample: int) -> None:
    invalid(lambda: mclient.search(vec_coll, vecs(1)[0], oversample=oversample), "oversample", str(oversample), "1..64")


def test_default_oversample_out_of_range(mclient: bitrag.Client) -> None:
    invalid(lambda: mclient.create_collection(unique("os"), embedder="none", dimension=DIM, default_oversample=65),
            "default_oversample", "65")


def test_text_query_without_embedder(mclient: bitrag.Client, vec_coll: str) -> None:
    rejects(lambda: mclient.search(vec_coll, "what is a binary code?"),
            bitrag.FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION, "text", "no embedder")


# ---- ingest (nothing may be written) -------------------------------------------------------------


def test_ingest_wrong_dimension(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    invalid(lambda: mclient.ingest_vectors(vec_coll, vecs(3, 32), ids=["a", "b", "c"]),
            "records[0].vector", "dimension 32")
    # one bad record in a batch rejects the whole batch
    req = pb.IngestRequest(collection=vec_coll, records=[
        pb.VectorRecord(id="ok0", vector=vecs(1, seed=9)[0].tobytes()),
        pb.VectorRecord(id="ok1", vector=vecs(1, seed=10)[0].tobytes()),
        pb.VectorRecord(id="bad", vector=vecs(1, 72)[0].tobytes()),
    ])
    invalid(lambda: raw_ingest(mclient.target, req), "records[2].vector", "dimension 72")


def test_ingest_vector_bytes_not_multiple_of_4(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    req = pb.IngestRequest(collection=vec_coll, records=[
        pb.VectorRecord(id="ok", vector=vecs(1, seed=11)[0].tobytes()),
        pb.VectorRecord(id="bad", vector=b"\x00" * 10),
    ])
    invalid(lambda: raw_ingest(mclient.target, req), "records[1].vector", "multiple of 4")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_ingest_non_finite(mclient: bitrag.Client, vec_coll: str, unchanged: None, bad: float) -> None:
    v = vecs(4, seed=12)
    v[2, 5] = bad
    invalid(lambda: mclient.ingest_vectors(vec_coll, v, ids=["n0", "n1", "n2", "n3"]),
            "records[2].vector", "non-finite", "index 5")


def test_ingest_duplicate_ids(mclient: bitrag.Client, vec_coll: str, text_coll: str, unchanged: None) -> None:
    invalid(
        lambda: mclient.ingest_documents(text_coll, [Document("d1", "one"), Document("d2", "two"),
                                                     Document("d1", "three")]),
        "documents[2].id", "duplicate", "d1",
    )
    invalid(lambda: mclient.ingest_vectors(vec_coll, vecs(3, seed=13), ids=["x", "y", "x"]),
            "records[2].id", "duplicate", "x")


def test_ingest_empty_document_text(mclient: bitrag.Client, text_coll: str, unchanged: None) -> None:
    invalid(lambda: mclient.ingest_documents(text_coll, [Document("ok", "fine text"), Document("e", "")]),
            "documents[1].text", "empty")
    invalid(lambda: mclient.ingest_documents(text_coll, [Document("ws", "  \n ")]), "documents[0].text", "empty")


def test_ingest_empty_document_id(mclient: bitrag.Client, text_coll: str, unchanged: None) -> None:
    invalid(lambda: mclient.ingest_documents(text_coll, [Document("", "text")]), "documents[0].id", "required")


def test_ingest_documents_without_embedder(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    rejects(lambda: mclient.ingest_documents(vec_coll, [Document("d", "some text")]),
            bitrag.FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION, "documents", "no embedder")


def test_ingest_nothing(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    invalid(lambda: raw_ingest(mclient.target, pb.IngestRequest(collection=vec_coll)), "documents", "nothing")


@pytest.mark.parametrize(
    "kw,field,word",
    [
        (dict(chunk_size=8), "chunk_size", "16..8192"),
        (dict(chunk_size=9000), "chunk_size", "16..8192"),
        (dict(chunk_size=32, chunk_overlap=32), "chunk_overlap", "smaller than chunk_size"),
    ],
)
def test_ingest_bad_chunking(mclient: bitrag.Client, text_coll: str, unchanged: None, kw, field, word) -> None:
    invalid(lambda: mclient.ingest_documents(text_coll, [Document("c", "some text to split")], **kw), field, word)


def test_ingest_oversized_fields(mclient: bitrag.Client, vec_coll: str, text_coll: str, unchanged: None) -> None:
    v = vecs(2, seed=16)
    invalid(lambda: mclient.ingest_vectors(vec_coll, v, ids=["t0", "t1"], texts=["ok", "a" * 70000]),
            "records[1].text", "65535")
    invalid(lambda: mclient.ingest_vectors(vec_coll, v, ids=["m0", "m1"], metadata=[{}, {"k": "a" * 70000}]),
            "records[1].metadata", "65536")
    invalid(lambda: mclient.ingest_vectors(vec_coll, v[:1], ids=["x" * 513], document_ids=["d"]),
            "records[0].id", "512 bytes")
    invalid(lambda: mclient.ingest_documents(text_coll, [Document("d" * 401, "text")]), "documents[0].id", "400 bytes")


def test_delete_without_ids(mclient: bitrag.Client, vec_coll: str, unchanged: None) -> None:
    invalid(lambda: mclient.delete(vec_coll, []), "document_ids", "at least one")
    invalid(lambda: mclient.delete(vec_coll, ["r1", ""]), "document_ids[1]", "empty")


def test_valid_requests_still_work(mclient: bitrag.Client, vec_coll: str) -> None:
    """After all the rejections the collection serves exactly its ROWS rows."""
    v = vecs(ROWS)
    for i in (0, ROWS - 1):
        r = mclient.search(vec_coll, v[i], top_k=1)
        assert r.hits[0].chunk_id == f"r{i}" and r.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert mclient.describe_collection(vec_coll).rows == ROWS


# ---- oversized request ---------------------------------------------------------------------------


def test_oversized_request(start_bitrag, tmp_path) -> None:
    sp = start_bitrag(tmp_path / "small", extra_args=["--max-message-mb", "1"])
    with sp.client() as c:
        name = unique("big")
        c.create_collection(name, embedder="none", dimension=DIM)
        c.ingest_vectors(name, vecs(10, seed=14), ids=[f"s{i}" for i in range(10)])
        before = state(c, name)

        n = 8192  # 8192 * (256 B vector + framing) ~ 2.3 MB in one request
        big = vecs(n, seed=15)
        with pytest.raises(bitrag.ResourceExhaustedError) as ei:
            c.ingest_vectors(name, big, ids=[f"b{i}" for i in range(n)], batch_size=n)
        assert ei.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in ei.value.message.lower() or "exhausted" in ei.value.message.lower()
        assert state(c, name) == before

        # the server is fine afterwards, and the same rows in small requests go through
        res = c.ingest_vectors(name, big[:1000], ids=[f"b{i}" for i in range(1000)], batch_size=500)
        assert res.chunks_written == 1000
        assert c.describe_collection(name).rows == 1010
        assert c.search(name, big[3], top_k=1).hits[0].chunk_id == "b3"
    assert sp.stop() == 0
