"""Re-ingesting an unchanged folder reads no file (the server's fingerprints via ListDocuments),
through the real server on Milvus Lite: `Client.ingest_files` and `bitrag ingest`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import bitrag
from bitrag import _unchanged

FILES = {
    "guide/intro.md": "# Intro\n\nBinary codes live in RAM; float32 rows stay on disk.\n",
    "guide/bread.txt": "Sourdough bread needs flour, water, salt and a lively starter culture.\n",
    "guide/deep/tides.html": "<html><body><h1>Tides</h1><p>Tides follow the moon.</p></body></html>\n",
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    monkeypatch.chdir(tmp_path)  # the tests pass "guide": ids are relative to it
    return tmp_path / "guide"


@pytest.fixture
def counters(monkeypatch) -> dict[str, int]:
    """Files parsed (LlamaIndex's per-file loader) and files hashed, counted around the real calls."""
    from llama_index.core import SimpleDirectoryReader

    n = {"parsed": 0, "hashed": 0}
    load_file, fingerprint = SimpleDirectoryReader.load_file, _unchanged.fingerprint

    def counted_load(*a, **kw):
        n["parsed"] += 1
        return load_file(*a, **kw)

    def counted_fingerprint(p):
        n["hashed"] += 1
        return fingerprint(p)

    monkeypatch.setattr(SimpleDirectoryReader, "load_file", staticmethod(counted_load))
    monkeypatch.setattr(_unchanged, "fingerprint", counted_fingerprint)
    return n


def test_second_ingest_parses_nothing_and_a_changed_file_alone_is_read(lite_server, tree: Path, counters) -> None:
    with lite_server.client() as c:
        name = unique("skip")
        c.create_collection(name)
        first = c.ingest_files(name, "guide")
        assert (first.documents_added, first.files_skipped, counters["parsed"]) == (3, 0, 3)
        rows = c.describe_collection(name).rows
        before = {d.id: d for d in c.iter_documents(name)}
        assert before["bread.txt"].metadata["file_sha256"]

        counters.update(parsed=0, hashed=0)
        again = c.ingest_files(name, "guide")
        assert (again.files_skipped, again.documents_added, again.documents_unchanged) == (3, 0, 0)
        assert (counters["parsed"], counters["hashed"]) == (0, 0)  # not parsed, not even hashed
        assert again.generation == first.generation
        assert c.describe_collection(name).rows == rows
        assert {d.id: d for d in c.iter_documents(name)} == before  # rows untouched

        bread = tree / "bread.txt"
        st = bread.stat()
        os.utime(tree / "intro.md", ns=(st.st_atime_ns, st.st_mtime_ns + 7_000_000_000))  # touched only
        bread.write_text(FILES["guide/bread.txt"].replace("lively", "bubbly"))
        counters.update(parsed=0, hashed=0)
        res = c.ingest_files(name, "guide")
        assert (res.files_skipped, res.documents_replaced, res.documents_added) == (2, 1, 0)
        assert (counters["parsed"], counters["hashed"]) == (1, 2)  # bread read; intro hashed, skipped
        after = {d.id: d for d in c.iter_documents(name)}
        assert after["bread.txt"].content_hash != before["bread.txt"].content_hash
        assert after["bread.txt"].ingested_unix_ms >= before["bread.txt"].ingested_unix_ms
        for doc_id in ("intro.md", "deep/tides.html"):
            assert after[doc_id] == before[doc_id]
        hits = c.search(name, "what does sourdough need?", top_k=1).hits
        assert "bubbly" in hits[0].text

        counters.update(parsed=0, hashed=0)
        forced = c.ingest_files(name, "guide", force=True)
        assert counters["parsed"] == 3 and forced.files_skipped == 0
        # the server skips what is unchanged; the touched file's new mtime is kept now
        assert (forced.documents_unchanged, forced.documents_replaced) == (2, 1)
        counters.update(parsed=0, hashed=0)
        assert c.ingest_files(name, "guide").files_skipped == 3 and counters == {"parsed": 0, "hashed": 0}
        c.drop_collection(name)


def _cli(*args: str, target: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "--target", target, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_cli_reports_unchanged_files_skipped_and_force_reads_them(lite_server, tree: Path) -> None:
    name = unique("skipcli")
    t = lite_server.target
    p = _cli("ingest", "guide", "-c", name, "--quiet", target=t, cwd=tree.parent)
    assert p.returncode == 0, p.stderr
    assert "3 files: 3 added, 0 replaced, 0 unchanged" in p.stdout
    p = _cli("ingest", "guide", "-c", name, "--quiet", target=t, cwd=tree.parent)
    assert p.returncode == 0, p.stderr
    assert "3 files: 3 unchanged, skipped; 0 added, 0 replaced, 0 unchanged; 0 chunks written" in p.stdout
    assert "reading" not in p.stderr and "3 unchanged, skipped" in p.stderr
    (tree / "intro.md").write_text(FILES["guide/intro.md"] + "\nMore.\n")
    p = _cli("ingest", "guide", "-c", name, "--quiet", target=t, cwd=tree.parent)
    assert "3 files: 2 unchanged, skipped; 0 added, 1 replaced, 0 unchanged" in p.stdout, p.stdout
    assert "reading 1 file " in p.stderr
    p = _cli("ingest", "guide", "-c", name, "--quiet", "--force", target=t, cwd=tree.parent)
    assert "3 files: 0 added, 0 replaced, 3 unchanged" in p.stdout, p.stdout
    with bitrag.Client(t) as c:
        c.drop_collection(name)
