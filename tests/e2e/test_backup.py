"""`bitrag backup` / `bitrag restore` of one collection: taken beside a live server on Milvus
standalone (the server keeps answering), restored after a drop and under a new name; the running
server picks restored collections up and answers exactly as before, text and metadata included.
On Milvus Lite (one process's file) with the server stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import bitrag
from servers import SMALL_IVF, ServerProc

DIM = 32


def _cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bitrag.cli", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fill(c: bitrag.Client, name: str, index) -> np.ndarray:
    x = np.random.default_rng(5).standard_normal((120, DIM)).astype(np.float32)
    c.create_collection(name, dimension=DIM, embedder="none", index=index)
    c.ingest_vectors(name, x, ids=[f"c{i}" for i in range(120)], document_ids=[f"d{i // 2}" for i in range(120)],
                     texts=[f"text {i}" for i in range(120)], metadata=[{"n": i, "odd": i % 2 == 1} for i in range(120)])
    c.delete(name, ["d3"])  # rows 6, 7: in the float file, not live
    return x


def _same_answers(c: bitrag.Client, name: str, x: np.ndarray) -> None:
    for i in (0, 9, 64, 119):
        h = c.search(name, x[i], top_k=1, mode="EXACT").hits[0]
        assert (h.chunk_id, h.document_id, h.text, h.metadata) == (f"c{i}", f"d{i // 2}", f"text {i}",
                                                                    {"n": i, "odd": i % 2 == 1})
        assert c.search(name, x[i], top_k=1, mode="RESCORED").hits[0].chunk_id == f"c{i}"
    assert "c6" not in {h.chunk_id for h in c.search(name, x[6], top_k=5, mode="EXACT").hits}
    hits = c.search(name, x[10], top_k=10, filter="odd == true and n < 50").hits
    assert hits and all(h.metadata["odd"] and h.metadata["n"] < 50 for h in hits)


@pytest.mark.standalone
def test_backup_beside_a_live_server_and_restore(tmp_path: Path, milvus_standalone: str) -> None:
    data = tmp_path / "data"
    srv = ServerProc(data, milvus_uri=milvus_standalone, env={"BITRAG_REDIS_URL": ""}, ready_timeout_s=120)
    srv.start()
    name = f"bk_{uuid.uuid4().hex[:8]}"
    storage = ["--data-dir", str(data), "--milvus-uri", milvus_standalone]
    try:
        with srv.client() as c:
            x = _fill(c, name, SMALL_IVF)
            before = c.describe_collection(name)
            info = _cli("backup", name, str(tmp_path / "bk"), *storage)  # the server keeps running
            assert (info["float_rows"], info["live_rows"], info["generation"]) == (120, 118, before.generation)
            c.search(name, x[0], top_k=1)

            c.drop_collection(name)
            with pytest.raises(bitrag.NotFoundError):
                c.describe_collection(name)
            assert _cli("restore", str(tmp_path / "bk"), *storage)["live_rows"] == 118
            after = c.describe_collection(name)  # the running server adopts it
            assert (after.rows, after.float_rows, after.generation, after.index) == (
                before.rows, before.float_rows, before.generation, before.index)
            _same_answers(c, name, x)

            copy = f"{name}_copy"
            _cli("restore", str(tmp_path / "bk"), "--name", copy, *storage)
            _same_answers(c, copy, x)
            c.ingest_vectors(copy, x[:1] * -1, ids=["new"])  # a restored collection takes writes
            assert c.describe_collection(copy).rows == 119
            out = subprocess.run([sys.executable, "-m", "bitrag.cli", "restore", str(tmp_path / "bk"), *storage],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 1 and "ALREADY_EXISTS" in out.stderr  # never over a live collection
            c.drop_collection(name)
            c.drop_collection(copy)
    finally:
        srv.stop()


def test_backup_and_restore_on_milvus_lite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = f"bk_{uuid.uuid4().hex[:8]}"
    srv = ServerProc(data, env={"BITRAG_REDIS_URL": ""}, ready_timeout_s=120)
    srv.start()
    with srv.client() as c:
        x = _fill(c, name, None)
    srv.stop()  # Milvus Lite is one process's file
    _cli("backup", name, str(tmp_path / "bk"), "--data-dir", str(data))
    other = tmp_path / "other"  # a fresh data directory on another machine, say
    _cli("restore", str(tmp_path / "bk"), "--data-dir", str(other))
    srv2 = ServerProc(other, env={"BITRAG_REDIS_URL": ""}, ready_timeout_s=120)
    srv2.start()
    try:
        with srv2.client() as c:
            assert c.describe_collection(name).rows == 118
            _same_answers(c, name, x)
    finally:
        srv2.stop()
