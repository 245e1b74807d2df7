"""The crash loop in CI (tests/crashloop.py): 20 SIGKILLs of `bitrag serve` at random moments
while documents and vectors are ingested, replaced and deleted, collections created and dropped,
and searches run; after every kill the files agree with Milvus, after every restart the server is
SERVING, every acknowledged document is present exactly once and searchable, and no write in
flight at a kill is half-visible. The long run is bench/crash_loop.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashloop import CrashLoop
from embed_server import EmbedServer


@pytest.mark.timeout(600)
def test_crash_loop_under_every_kind_of_write(tmp_path: Path) -> None:
    with EmbedServer(dim=64) as embed:
        stats = CrashLoop(tmp_path / "data", embed, kills=20, max_run_s=1.0, seed=16, max_docs=24, log=print).run()
    s = stats.summary()
    print(s)
    assert s["unexpected_failures"] == [], s["unexpected_failures"]
    assert stats.kills == 20
    assert stats.acked_writes >= 40  # the writers did write between kills
    assert stats.chunks_checked >= 200 and stats.rows_checked_offline > 0
    assert stats.compactions >= 1  # kills may land inside compactions too
    assert set(s["errors_by_status"]) <= {"UNAVAILABLE", "CANCELLED"}, s["errors_by_status"]


@pytest.mark.parametrize("point", ["ingest.journal", "ingest.inserted", "delete.deleted"])
def test_a_write_killed_after_its_journal_is_completed_at_restart(tmp_path: Path, point: str) -> None:
    """SIGKILL between a write's Milvus steps (a replacement inserted but its old chunks not yet
    deleted; a delete done but not acknowledged): the restart rolls the journal forward, so the
    document is wholly its new version (or wholly gone), never old and new chunks at once."""
    import bitrag
    from integrity import check_documents, doc_vectors, ingest_docs
    from servers import ServerProc

    data = tmp_path / "data"
    env = {"BITRAG_EMBEDDER": "none", "BITRAG_LOG_LEVEL": "WARNING"}
    sp = ServerProc(data, env={**env, "BITRAG_FAILPOINTS": f"{point}=kill"}).start()
    old = {f"d{i}": doc_vectors(f"d{i}", 0, 3, 16) for i in range(4)}
    new = {"d1": doc_vectors("d1", 1, 2, 16)}
    with sp.client() as c:
        c.create_collection("j", embedder="none", dimension=16)
        if point == "delete.deleted":
            ingest_docs(c, "j", old)
            with pytest.raises(bitrag.UnavailableError):
                c.delete("j", ["d1", "d2"])
            expect = {**old, "d1": {}, "d2": {}}
        else:
            with pytest.raises(bitrag.UnavailableError):  # the first ingest already dies
                ingest_docs(c, "j", old)
            expect = old
    sp.proc.wait(30)
    assert sp.proc.returncode == -9
    sp.stop()
    sp = ServerProc(data, env={**env, "BITRAG_FAILPOINTS": f"{point}=kill"} if point != "delete.deleted" else env)
    sp.start()
    try:
        with sp.client() as c:
            check_documents(c, "j", expect)
            if point != "delete.deleted":  # and a replacement killed half-way
                with pytest.raises(bitrag.UnavailableError):
                    ingest_docs(c, "j", new)
        if point != "delete.deleted":
            sp.proc.wait(30)
            sp.stop()
            sp = ServerProc(data, env=env).start()
            with sp.client() as c:
                check_documents(c, "j", {**old, **new})
        assert "completed an interrupted" in sp.text()
    finally:
        sp.stop()
