"""Compaction over real gRPC on Milvus Lite: deleted and replaced rows reclaimed from the float
store, codes and records with row numbers remapped consistently with Milvus; searches served
while it runs; SIGKILL at every step (failpoints) loses nothing, the next start completes or
rolls back; the automatic trigger on the dead share."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import bitrag
from integrity import Docs, check_documents, check_files_agree, doc_vectors, ingest_docs
from servers import ServerProc

DIM = 32
POINTS = [
    "compact.journal",
    "compact.copied",
    "compact.milvus",
    "compact.committed",
    "compact.renamed",
    "compact.dropped",
]


def start(data: Path, **env: str) -> ServerProc:
    sp = ServerProc(data, env={"BITRAG_EMBEDDER": "none", "BITRAG_CALIBRATION_MIN_ROWS": "1000000", **env})
    return sp.start()


def half_replaced(
    c: bitrag.Client, name: str, n_docs: int = 60, chunks: int = 3, index: bitrag.IndexSpec | None = None
) -> Docs:
    """A collection whose documents were all ingested, then half of them replaced and a few
    deleted: the state compaction is for. Returns the documents now expected."""
    c.create_collection(name, embedder="none", dimension=DIM, index=index)
    docs = {f"d{i}": doc_vectors(f"d{i}", 0, chunks, DIM) for i in range(n_docs)}
    ingest_docs(c, name, docs)
    replaced = {f"d{i}": doc_vectors(f"d{i}", 1, chunks + i % 2, DIM) for i in range(0, n_docs, 2)}
    r = ingest_docs(c, name, replaced)
    assert r.documents_replaced == len(replaced)
    docs.update(replaced)
    gone = [f"d{i}" for i in range(1, 10, 4)]
    c.delete(name, gone)
    for d in gone:
        docs[d] = {}
    return docs


def test_compaction_reclaims_and_remaps(tmp_path: Path) -> None:
    name = "cp_" + uuid.uuid4().hex[:8]
    sp = start(tmp_path / "data")
    try:
        with sp.client() as c:
            docs = half_replaced(c, name)
            before = c.describe_collection(name)
            live = sum(len(v) for v in docs.values())
            assert before.rows == live and before.dead_rows == before.float_rows - live > 0
            res = c.compact(name)
            assert res.compacted and (res.rows_before, res.rows_after) == (before.float_rows, live)
            assert res.bytes_before == before.row_file_bytes and res.bytes_after < res.bytes_before
            after = c.describe_collection(name)
            assert (after.rows, after.float_rows, after.dead_rows, after.compactions) == (live, live, 0, 1)
            assert after.row_file_bytes == res.bytes_after
            assert after.generation == before.generation  # the data did not change
            check_documents(c, name, docs)
            assert {
                h.document_id for h in c.search(name, docs["d0"]["d0#0"], top_k=5, filter='doc == "d0"').hits
            } == {"d0"}
            assert not c.compact(name).compacted  # nothing left to reclaim
            # writes after a compaction continue the new row numbering
            more = {f"n{i}": doc_vectors(f"n{i}", 0, 2, DIM) for i in range(5)}
            ingest_docs(c, name, more)
            docs.update(more)
            docs.update(replaced := {"d2": doc_vectors("d2", 7, 2, DIM)})
            ingest_docs(c, name, replaced)
            check_documents(c, name, docs)
            assert c.compact(name).rows_after == c.describe_collection(name).rows
            check_documents(c, name, docs)
        sp.stop()
        live_rows, milvus = check_files_agree(tmp_path / "data", name)
        assert live_rows == sum(len(v) for v in docs.values())
        assert milvus == [f"bitrag2_{name}"]  # the old Milvus collections were dropped
        assert not list((tmp_path / "data" / "collections" / name).glob("*.compact"))
        sp = start(tmp_path / "data")
        with sp.client() as c:
            check_documents(c, name, docs)
    finally:
        sp.stop()


def test_searches_served_during_compaction(tmp_path: Path) -> None:
    name = "cps_" + uuid.uuid4().hex[:8]
    # the compaction pauses after building its new Milvus collection and after switching files
    sp = start(tmp_path / "data", BITRAG_FAILPOINTS="compact.milvus=sleep:1.5,compact.renamed=sleep:1")
    try:
        with sp.client() as c:
            docs = half_replaced(c, name)
        probes = [(cid, v) for chunks in docs.values() for cid, v in chunks.items()]
        done = threading.Event()
        results: list[tuple[float, bool]] = []
        errors: list[BaseException] = []

        def search() -> None:
            rng = np.random.default_rng(0)
            with sp.client(timeout=30) as c:
                while not done.is_set():
                    cid, v = probes[int(rng.integers(len(probes)))]
                    try:
                        hit = c.search(name, v, top_k=1).hits[0]
                        results.append((time.monotonic(), hit.chunk_id == cid and abs(hit.score - 1) < 1e-4))
                    except BaseException as exc:  # noqa: BLE001 - asserted below
                        errors.append(exc)

        threads = [threading.Thread(target=search) for _ in range(2)]
        for t in threads:
            t.start()
        with sp.client(timeout=120) as c:
            t0 = time.monotonic()
            res = c.compact(name)
            t1 = time.monotonic()
        done.set()
        for t in threads:
            t.join(30)
        assert res.compacted
        assert not errors, errors[:3]
        during = [ok for t, ok in results if t0 < t < t1]
        assert len(during) >= 20, len(during)  # searches were answered while it ran (>= 2.5 s)
        assert all(ok for _, ok in results)
    finally:
        sp.stop()


def test_sigkill_at_every_compaction_step(tmp_path: Path) -> None:
    """For each step, a server that SIGKILLs itself there; the next start (which also carries the
    next step's failpoint) completes the compaction (killed after the commit) or rolls it back
    (before), and no acknowledged document is lost or doubled."""
    data = tmp_path / "data"
    expected: dict[str, Docs] = {}
    before: dict[str, bitrag.CollectionInfo] = {}
    for i, point in enumerate([*POINTS, None]):
        sp = start(data, **({"BITRAG_FAILPOINTS": f"{point}=kill"} if point else {}))
        with sp.client(timeout=60) as c:
            if i:  # the previous step's kill, after this restart
                prev, name = POINTS[i - 1], "ck_" + POINTS[i - 1].split(".")[1]
                for coll, docs in expected.items():
                    check_documents(c, coll, docs)
                after = c.describe_collection(name)
                committed = POINTS.index(prev) >= POINTS.index("compact.committed")
                assert after.compactions == int(committed), prev
                assert after.float_rows == (after.rows if committed else before[name].float_rows), prev
                assert not list((data / "collections" / name).glob("*.compact"))
                assert not (data / "collections" / name / "compact.json").exists()
            if point is None:
                break
            name = "ck_" + point.split(".")[1]
            expected[name] = half_replaced(c, name, n_docs=30)
            before[name] = c.describe_collection(name)
            with pytest.raises(bitrag.UnavailableError):
                c.compact(name)
        sp.proc.wait(30)
        assert sp.proc.returncode == -9, point  # it died there, by SIGKILL
        sp.stop()
    with sp.client(timeout=60) as c:  # every one compacts fine afterwards
        for coll, docs in expected.items():
            assert c.compact(coll, force=True).rows_after == sum(len(v) for v in docs.values())
            check_documents(c, coll, docs)
    sp.stop()
    milvus_names: set[str] = set()
    for coll in expected:
        rows, names = check_files_agree(data, coll)
        assert rows == sum(len(v) for v in expected[coll].values())
        milvus_names = set(names)
    # one Milvus collection per bitrag collection: rolled-back and replaced ones were dropped
    assert len(milvus_names) == len(expected), sorted(milvus_names)


def test_automatic_compaction_past_the_dead_share(tmp_path: Path) -> None:
    name = "ca_" + uuid.uuid4().hex[:8]
    sp = start(
        tmp_path / "data",
        BITRAG_COMPACT_DEAD_SHARE="0.3",
        BITRAG_COMPACT_MIN_ROWS="50",
        BITRAG_COMPACT_CHECK_INTERVAL_S="0.3",
    )
    try:
        with sp.client() as c:
            docs = half_replaced(c, name)  # 60 docs x 3 + 30 replaced: ~36% dead
            deadline = time.monotonic() + 30
            while c.describe_collection(name).compactions == 0:
                assert time.monotonic() < deadline, "never compacted by itself"
                time.sleep(0.2)
            d = c.describe_collection(name)
            assert d.dead_rows == 0 and d.float_rows == d.rows
            check_documents(c, name, docs)
    finally:
        sp.stop()


@pytest.mark.standalone
def test_compaction_on_milvus_standalone(standalone_server: ServerProc) -> None:
    """The same remap on a Milvus server (BIN_IVF_FLAT, segments flushed and indexed)."""
    name = "cpsa_" + uuid.uuid4().hex[:8]
    with standalone_server.client(timeout=120) as c:
        docs = half_replaced(c, name, n_docs=40, index=standalone_server.index)
        before = c.describe_collection(name)
        res = c.compact(name)
        live = sum(len(v) for v in docs.values())
        assert res.compacted and res.rows_after == live and res.bytes_after < res.bytes_before
        after = c.describe_collection(name)
        assert (after.rows, after.float_rows, after.compactions) == (live, live, 1)
        assert after.index == before.index
        check_documents(c, name, docs)
        c.drop_collection(name)
