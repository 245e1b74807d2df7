"""`Client.ingest_files` and its `AsyncClient` twin against the real Lite server: ids that do not
depend on the working directory, the path checked before anything is sent, and progress that
moves in chunks embedded (not in batches of documents)."""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bitrag
from bitrag import Document, IngestProgress

WORDS = ["binary", "codes", "live", "in", "RAM", "while", "the", "float32", "rows", "stay", "on", "disk",
         "and", "are", "read", "only", "to", "rescore", "few", "candidates", "Hamming", "search", "kept"]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def text(n_words: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    sentences = []
    for i in range(0, n_words, 12):
        sentences.append(" ".join(rng.choice(WORDS, size=min(12, n_words - i))).capitalize() + ".")
    return " ".join(sentences)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "manuals"
    (root / "net").mkdir(parents=True)
    (root / "a.md").write_text("# A\n\n" + text(30, 1))  # one chunk each at chunk_size 64
    (root / "b.txt").write_text(text(40, 2))
    (root / "net" / "c.md").write_text("# C\n\n" + text(900, 3))  # several chunks at chunk_size 64
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def call(kind: str, target: str, method: str, *args: Any, **kw: Any) -> Any:
    """One SDK call through `Client` or `AsyncClient` (the same suite runs over both)."""
    if kind == "sync":
        with bitrag.Client(target) as c:
            return getattr(c, method)(*args, **kw)

    async def run() -> Any:
        async with bitrag.AsyncClient(target) as c:
            return await getattr(c, method)(*args, **kw)

    return asyncio.run(run())


CLIENTS = ["sync", "async"]


@pytest.mark.parametrize("kind", CLIENTS)
def test_same_tree_from_two_working_directories_is_a_noop(
    lite_server, tree: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique(f"files_{kind}")
    call(kind, lite_server.target, "create_collection", name)
    monkeypatch.chdir(tree.parent)
    first = call(kind, lite_server.target, "ingest_files", name, "manuals", chunk_size=64, chunk_overlap=0)
    assert first.documents_added == 3 and first.chunks_written > 3
    rows = call(kind, lite_server.target, "describe_collection", name).rows
    assert rows == first.chunks_written

    for cwd, path in ((tree / "net", ".."), (Path("/"), str(tree)), (tree, ".")):
        monkeypatch.chdir(cwd)
        again = call(kind, lite_server.target, "ingest_files", name, path, chunk_size=64, chunk_overlap=0)
        # same ids: the collection holds their fingerprints, so the files are not even read
        assert (again.files_skipped, again.documents_added, again.chunks_written) == (3, 0, 0), (cwd, path)
        assert call(kind, lite_server.target, "describe_collection", name).rows == rows

    ids = sorted({h.document_id for h in call(kind, lite_server.target, "search", name, "codes", top_k=50).hits})
    assert ids == ["a.md", "b.txt", "net/c.md"]

    # another scheme on request: --root / --id-prefix
    res = call(kind, lite_server.target, "ingest_files", name, tree / "net", root=tree.parent, id_prefix="kb:",
               chunk_size=64, chunk_overlap=0)
    assert res.documents_added == 1
    hits = call(kind, lite_server.target, "search", name, "codes", top_k=100).hits
    assert "kb:manuals/net/c.md" in {h.document_id for h in hits}
    call(kind, lite_server.target, "drop_collection", name)


@pytest.mark.parametrize("kind", CLIENTS)
def test_bad_paths_raise_typed_errors_and_send_nothing(lite_server, tree: Path, tmp_path: Path, kind: str) -> None:
    name = unique(f"files_bad_{kind}")
    call(kind, lite_server.target, "create_collection", name)
    with pytest.raises(bitrag.NotFoundError) as e:
        call(kind, lite_server.target, "ingest_files", name, tmp_path / "missing")
    assert e.value.field == "path"
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(bitrag.InvalidArgumentError, match=r"skipped 1 file: \.zip 1") as e:
        call(kind, lite_server.target, "ingest_files", name, tmp_path)
    assert e.value.field == "path"
    with pytest.raises(bitrag.InvalidArgumentError) as e:
        call(kind, lite_server.target, "ingest_files", name, tree, root=tree / "net")
    assert e.value.field == "root"
    info = call(kind, lite_server.target, "describe_collection", name)
    assert (info.rows, info.generation) == (0, 0)
    call(kind, lite_server.target, "drop_collection", name)


def _collect() -> tuple[list[IngestProgress], Callable[[IngestProgress], None]]:
    seen: list[IngestProgress] = []
    return seen, seen.append


@pytest.mark.parametrize("kind", CLIENTS)
def test_file_progress_moves_in_chunks_embedded(lite_server, tree: Path, kind: str) -> None:
    name = unique(f"files_prog_{kind}")
    call(kind, lite_server.target, "create_collection", name)
    seen, on_progress = _collect()
    a, b, c = (len(p.read_text().encode()) for p in (tree / "a.md", tree / "b.txt", tree / "net" / "c.md"))
    limit = max(a, b) + 1  # each small file fits, two do not; the large one goes alone
    assert a + b > limit and c > limit
    res = call(kind, lite_server.target, "ingest_files", name, tree, chunk_size=64, chunk_overlap=0,
               batch_bytes=limit, on_progress=on_progress)
    sizes = [a, b, c]
    assert len(seen) == 3  # one call per request answered, not one per batch of 16 documents
    assert [p.items for p in seen] == [1, 2, 3] and {p.items_total for p in seen} == {3}
    assert {p.bytes_total for p in seen} == {sum(sizes)}
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen) and seen[-1].bytes_done == sum(sizes)
    # chunk units: the running count is the sum of the chunks each request embedded, and the
    # large file's request advances by its many chunks at once
    assert [p.chunks for p in seen] == list(np.cumsum([p.chunks_step for p in seen]))
    assert seen[-1].chunks == res.chunks_written == call(kind, lite_server.target, "describe_collection", name).rows
    assert max(p.chunks_step for p in seen) == res.chunks_written - 2 > 5  # net/c.md: a.md and b.txt are 1 each
    assert seen[-1].eta_s == 0.0 and all(p.elapsed_s >= 0 for p in seen)

    # re-ingest with force (files read and sent; the server finds them unchanged): nothing
    # embedded, yet progress still moves through the documents and bytes
    seen2, on_progress2 = _collect()
    call(kind, lite_server.target, "ingest_files", name, tree, chunk_size=64, chunk_overlap=0, batch_bytes=limit,
         on_progress=on_progress2, force=True)
    assert [(p.chunks, p.items) for p in seen2] == [(0, 1), (0, 2), (0, 3)]
    call(kind, lite_server.target, "drop_collection", name)


@pytest.mark.parametrize("kind", CLIENTS)
def test_document_requests_sized_by_text_bytes(lite_server, kind: str) -> None:
    name = unique(f"docs_prog_{kind}")
    call(kind, lite_server.target, "create_collection", name)
    docs = [Document(f"d{i}", text(40, i)) for i in range(10)]  # ~250 bytes each
    seen, on_progress = _collect()
    res = call(kind, lite_server.target, "ingest_documents", name, docs, batch_bytes=600, on_progress=on_progress)
    assert res.documents_added == 10
    items = [0] + [p.items for p in seen]
    per_request = [y - x for x, y in itertools.pairwise(items)]
    assert len(seen) > 3 and max(per_request) <= 3  # at most ~600 bytes per request, not 16 documents
    assert seen[-1].chunks == res.chunks_written == 10
    call(kind, lite_server.target, "drop_collection", name)


@pytest.mark.parametrize("kind", CLIENTS)
def test_vector_progress_moves_in_records(lite_server, kind: str) -> None:
    name = unique(f"vec_prog_{kind}")
    call(kind, lite_server.target, "create_collection", name, embedder="none", dimension=32)
    v = np.random.default_rng(0).standard_normal((100, 32)).astype(np.float32)
    seen, on_progress = _collect()
    call(kind, lite_server.target, "ingest_vectors", name, v, ids=[f"r{i}" for i in range(100)], batch_size=30,
         on_progress=on_progress)
    assert [(p.chunks, p.chunks_step, p.items, p.bytes_done) for p in seen] == [
        (30, 30, 30, 30 * 128), (60, 30, 60, 60 * 128), (90, 30, 90, 90 * 128), (100, 10, 100, 100 * 128)]
    assert {(p.items_total, p.bytes_total) for p in seen} == {(100, 100 * 128)}
    call(kind, lite_server.target, "drop_collection", name)


def test_async_ingest_files_matches_sync(lite_server, tree: Path) -> None:
    """The twin gives the same documents: same ids, same content hashes (a no-op re-ingest)."""
    name = unique("files_twin")
    call("sync", lite_server.target, "create_collection", name)
    a = call("sync", lite_server.target, "ingest_files", name, tree)
    b = call("async", lite_server.target, "ingest_files", name, os.path.relpath(tree))
    assert (a.documents_added, b.files_skipped, b.chunks_written) == (3, 3, 0)
    call("sync", lite_server.target, "drop_collection", name)
