"""ListDocuments (paging, filters, what each document shows) and Delete naming missing ids, through
the real server on Milvus Lite over loopback: SDK (sync and async) and `bitrag documents`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

import bitrag

DIM = 64


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# document id -> chunks; ids chosen so that byte order, prefixes and non-ASCII all matter
DOCS = {"a/1.md": 2, "a/2.md": 1, "a/10.md": 3, "b/x.txt": 1, "b/ü.txt": 2, "c": 1, "Z": 1}


def _ingest(client: bitrag.Client, name: str, docs: dict[str, int], seed: int = 0):
    ids = [d for d, n in docs.items() for _ in range(n)]
    vecs = np.random.default_rng(seed).standard_normal((len(ids), DIM)).astype(np.float32)
    md = [{"source": d, "n": i} for i, d in enumerate(ids)]
    return client.ingest_vectors(name, vecs, document_ids=ids, metadata=md, texts=[f"t {d}" for d in ids])


@pytest.fixture
def listed(lite_server):
    with lite_server.client() as c:
        name = unique("docs")
        c.create_collection(name, embedder="none", dimension=DIM)
        t0 = int(time.time() * 1000)
        _ingest(c, name, DOCS)
        yield c, name, t0
        c.drop_collection(name)


def test_pages_cover_every_document_once_in_id_order(listed) -> None:
    c, name, t0 = listed
    seen: list[bitrag.DocumentInfo] = []
    token, pages = "", 0
    while True:
        page = c.list_documents(name, page_size=3, page_token=token)
        assert len(page.documents) <= 3
        seen += page.documents
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3  # 7 documents: 3 + 3 + 1
    assert [d.id for d in seen] == sorted(DOCS)  # code point order == UTF-8 byte order ("Z" < "a", "ü" last)
    assert {d.id: d.chunks for d in seen} == DOCS
    for d in seen:
        assert len(d.content_hash) == 64
        assert t0 - 1000 <= d.ingested_unix_ms <= int(time.time() * 1000)
        assert d.metadata["source"] == d.id  # the first chunk's metadata
    assert len({d.content_hash for d in seen}) == len(DOCS)
    assert [d.id for d in c.iter_documents(name, page_size=2)] == sorted(DOCS)
    assert c.list_documents(name).next_page_token == ""  # default page size 100: one page


def test_prefix_and_id_filters(listed) -> None:
    c, name, _ = listed
    assert [d.id for d in c.iter_documents(name, prefix="a/", page_size=1)] == ["a/1.md", "a/10.md", "a/2.md"]
    assert [d.id for d in c.list_documents(name, prefix="b/").documents] == ["b/x.txt", "b/ü.txt"]
    assert c.list_documents(name, prefix="nope").documents == []
    page = c.list_documents(name, document_ids=["c", "missing", "a/10.md", "c"])
    assert [(d.id, d.chunks) for d in page.documents] == [("a/10.md", 3), ("c", 1)]
    assert page.next_page_token == ""
    # more ids than one request takes: the iterator splits them
    many = [f"x{i}" for i in range(2500)] + ["Z", "b/ü.txt"]
    assert [d.id for d in c.iter_documents(name, document_ids=many)] == ["Z", "b/ü.txt"]
    page = c.list_documents(name, document_ids=list(DOCS), page_size=4)
    assert len(page.documents) == 4 and page.next_page_token
    rest = c.list_documents(name, document_ids=list(DOCS), page_size=4, page_token=page.next_page_token)
    assert [d.id for d in page.documents + rest.documents] == sorted(DOCS) and not rest.next_page_token


def test_listing_follows_writes(listed) -> None:
    """The cached index of documents is per generation: ingest, replace and delete show at once."""
    c, name, _ = listed
    before = {d.id: d for d in c.iter_documents(name)}
    _ingest(c, name, {"a/2.md": 4, "new": 1}, seed=9)  # a/2.md replaced (4 chunks now), one added
    after = {d.id: d for d in c.iter_documents(name)}
    assert set(after) == set(before) | {"new"}
    assert after["a/2.md"].chunks == 4 and after["a/2.md"].content_hash != before["a/2.md"].content_hash
    assert after["a/1.md"] == before["a/1.md"]
    d = c.delete(name, ["a/1.md", "never-there", "new", "also-not"])
    assert (d.documents_deleted, d.chunks_deleted) == (2, 3)
    assert d.missing == ("never-there", "also-not")  # in request order
    assert [x.id for x in c.iter_documents(name)] == sorted(set(DOCS) - {"a/1.md"})
    assert c.delete(name, ["a/1.md"]).missing == ("a/1.md",)  # deleted already


def test_bad_requests_name_their_field(listed) -> None:
    c, name, _ = listed
    for kw, field in (({"page_size": 1001}, "page_size"), ({"page_token": "%%%"}, "page_token"),
                      ({"document_ids": [""]}, "document_ids[0]"),
                      ({"document_ids": [f"d{i}" for i in range(1001)]}, "document_ids")):
        with pytest.raises(bitrag.InvalidArgumentError) as e:
            c.list_documents(name, **kw)
        assert e.value.field == field
    with pytest.raises(bitrag.NotFoundError):
        c.list_documents(unique("absent"))


def test_async_client_lists_the_same(lite_server, listed) -> None:
    _, name, _ = listed

    async def run() -> tuple[list[str], list[str], tuple[str, ...]]:
        async with bitrag.AsyncClient(lite_server.target) as ac:
            page = await ac.list_documents(name, page_size=2)
            ids = [d.id async for d in ac.iter_documents(name, page_size=3)]
            missing = (await ac.delete(name, ["nope"])).missing
            return [d.id for d in page.documents], ids, missing

    first, ids, missing = asyncio.run(run())
    assert first == sorted(DOCS)[:2] and ids == sorted(DOCS) and missing == ("nope",)


def _cli(*args: str, target: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "100"
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "--target", target, *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_documents_pages_and_keeps_the_end_of_long_ids(lite_server, listed) -> None:
    c, name, _ = listed
    long_id = "very/" * 30 + "deep/file-name.md"
    _ingest(c, name, {long_id: 2})
    p = _cli("documents", name, "--page-size", "5", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert "Z" in p.stdout and "b/ü.txt" not in p.stdout  # first page of 8 documents
    token = p.stdout.split("--page-token ")[1].split()[0]
    p2 = _cli("documents", name, "--page-size", "5", "--page-token", token, target=lite_server.target)
    assert p2.returncode == 0, p2.stderr
    assert "b/ü.txt" in p2.stdout and "file-name.md" in p2.stdout and "…" in p2.stdout  # the end of the id
    assert "more:" not in p2.stdout
    j = json.loads(_cli("documents", name, "--all", "--json", "--page-size", "3", target=lite_server.target).stdout)
    assert [d["id"] for d in j["documents"]] == sorted([*DOCS, long_id]) and j["next_page_token"] == ""
    assert {"id", "chunks", "content_hash", "ingested_unix_ms", "metadata"} == set(j["documents"][0])
    p = _cli("delete", "Z", "ghost.md", "-c", name, target=lite_server.target)
    assert p.returncode == 1
    assert "deleted 1 documents" in p.stdout and "ghost.md" in p.stderr and "nothing deleted" in p.stderr


def test_non_ascii_ids_are_found_again(listed) -> None:
    """Milvus reads no \\uXXXX escapes: ids are sent to it unescaped, so a document named `b/ü.txt`
    re-ingests as unchanged, is fetched and deleted (before, each was a miss: duplicate rows)."""
    c, name, _ = listed
    rows = c.describe_collection(name).rows
    res = _ingest(c, name, DOCS)  # the same vectors, ids and metadata again
    assert (res.documents_added, res.documents_unchanged, res.chunks_written) == (0, len(DOCS), 0)
    assert c.describe_collection(name).rows == rows
    assert [r.id for r in c.fetch(name, ["b/ü.txt"], include_vectors=False)[0]] == ["b/ü.txt#0", "b/ü.txt#1"]
    assert c.delete(name, ["b/ü.txt"]).chunks_deleted == 2
