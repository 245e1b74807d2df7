"""Two bitrag server processes sharing one Milvus standalone server and one data directory (the
float32 rows, codes and manifests on a shared volume): each sees the other's collections and
writes at once, concurrent writers never collide, and the answer cache follows both."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

import bitrag
from servers import SMALL_IVF, ServerProc

pytestmark = pytest.mark.standalone

DIM = 64


def _vecs(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, milvus_standalone: str) -> Iterator[tuple[ServerProc, ServerProc]]:
    shared = tmp_path_factory.mktemp("shared-volume")
    env = {"BITRAG_REDIS_PREFIX": f"replicas-{uuid.uuid4().hex[:8]}", "GROQ_API_KEY": ""}
    procs = []
    try:
        for _ in range(2):
            p = ServerProc(shared, milvus_uri=milvus_standalone, env=env, ready_timeout_s=120)
            p.start()
            procs.append(p)
        yield procs[0], procs[1]
    finally:
        for p in procs:
            p.stop()


def _top1(c: bitrag.Client, name: str, v: np.ndarray) -> str:
    hits = c.search(name, v, top_k=1, mode="EXACT").hits
    return hits[0].chunk_id if hits else ""


def test_each_replica_sees_the_others_writes_at_once(replicas: tuple[ServerProc, ServerProc]) -> None:
    a_srv, b_srv = replicas
    name = f"rep_{uuid.uuid4().hex[:8]}"
    x, y = _vecs(40, 1), _vecs(30, 2)
    with a_srv.client() as a, b_srv.client() as b:
        a.create_collection(name, dimension=DIM, embedder="none", index=SMALL_IVF)
        assert b.describe_collection(name).dimension == DIM  # created on A, known to B
        assert name in {c.name for c in b.list_collections()}

        b.ingest_vectors(name, y, ids=[f"y{i}" for i in range(30)])  # B writes
        for mode in ("EXACT", "RESCORED", "AUTO"):  # A reads B's rows immediately
            assert a.search(name, y[7], top_k=1, mode=mode).hits[0].chunk_id == "y7"
        a.ingest_vectors(name, x, ids=[f"x{i}" for i in range(40)])  # A appends after B's rows
        assert b.search(name, x[3], top_k=1, mode="RESCORED").hits[0].chunk_id == "x3"
        assert _top1(b, name, y[29]) == "y29" and _top1(a, name, x[39]) == "x39"

        da, db = a.describe_collection(name), b.describe_collection(name)
        assert da.rows == db.rows == 70 and da.float_rows == db.float_rows == 70
        assert da.generation == db.generation == 2

        # B re-ingests A's document unchanged: B sees A's content hash -> no-op
        again = b.ingest_vectors(name, x[:1], ids=["x0"], document_ids=["x0"])
        assert again.documents_unchanged == 1 and again.chunks_written == 0

        b.delete(name, ["x3"])  # deleted on B, gone on A
        assert _top1(a, name, x[3]) != "x3"
        assert a.describe_collection(name).generation == 3

        a.drop_collection(name)  # dropped on A, gone on B
        with pytest.raises(bitrag.NotFoundError):
            b.search(name, x[0], top_k=1)
        b.create_collection(name, dimension=DIM * 2, embedder="none", index=SMALL_IVF)  # re-created on B
        assert a.describe_collection(name).dimension == DIM * 2
        assert a.describe_collection(name).rows == 0
        a.drop_collection(name)


def test_concurrent_ingest_through_both_replicas(replicas: tuple[ServerProc, ServerProc]) -> None:
    """Both replicas append to the same float file at once: every acknowledged row is stored once,
    at its own row id, and found by its own vector through either replica."""
    a_srv, b_srv = replicas
    name = f"conc_{uuid.uuid4().hex[:8]}"
    batches = 8
    data = {s: _vecs(25 * batches, 10 + k) for k, s in enumerate(("a", "b"))}
    errors: list[BaseException] = []

    def writer(srv: ServerProc, tag: str) -> None:
        try:
            with srv.client() as c:
                v = data[tag]
                for i in range(batches):
                    part = v[25 * i: 25 * (i + 1)]
                    c.ingest_vectors(name, part, ids=[f"{tag}{25 * i + j}" for j in range(25)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with a_srv.client() as a, b_srv.client() as b:
        a.create_collection(name, dimension=DIM, embedder="none", index=SMALL_IVF)
        threads = [threading.Thread(target=writer, args=(s, t)) for s, t in ((a_srv, "a"), (b_srv, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        total = 2 * 25 * batches
        for c in (a, b):
            info = c.describe_collection(name)
            assert info.rows == total and info.float_rows == total
            assert info.generation == 2 * batches
        rng = np.random.default_rng(0)
        for tag in ("a", "b"):
            for i in rng.choice(25 * batches, 12, replace=False):
                assert _top1(a, name, data[tag][i]) == f"{tag}{i}"
                assert _top1(b, name, data[tag][i]) == f"{tag}{i}"
        a.drop_collection(name)


def test_answer_cache_follows_writes_on_either_replica(replicas: tuple[ServerProc, ServerProc]) -> None:
    a_srv, b_srv = replicas
    name = f"ask_{uuid.uuid4().hex[:8]}"
    q = "Where do the binary codes live?"
    with a_srv.client() as a, b_srv.client() as b:
        a.create_collection(name)
        a.ingest_documents(name, [bitrag.Document("d1", "The binary codes live in RAM. Float32 rows stay on disk.")])

        def ask(c: bitrag.Client) -> bitrag.AskSummary:
            chunks = list(c.ask(name, q, top_k=1))
            assert chunks[-1].summary is not None
            return chunks[-1].summary

        first = ask(a)
        assert first.cache == "MISS" and first.sources[0].chunk_id == "d1#0"
        assert ask(b).cache == "HIT"  # one Redis, same generation: B serves A's answer
        b.ingest_documents(name, [bitrag.Document("d2", "Redis holds the cached answers.")])
        assert ask(a).cache == "MISS"  # B's write bumped the generation A keys on
        assert ask(b).cache == "HIT"
        a.drop_collection(name)
