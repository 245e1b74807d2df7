"""The `bitrag` command line (`python -m bitrag.cli`) against the real Lite server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def bitrag_cli(*args: str, target: str | None = None, cwd: Path | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bitrag.cli"]
    if target:
        cmd += ["--target", target]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "200"  # rich wraps at 80 columns when not on a terminal
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


FILES = {
    "notes/rust.md": "# Rust\n\nRust is a systems programming language that guarantees memory safety "
                     "without a garbage collector.\n",
    "notes/bread.txt": "Sourdough bread needs flour, water, salt and a lively starter culture.\n",
    "notes/deep/tides.md": "# Tides\n\nOcean tides come from the gravitational pull of the moon.\n",
    "notes/ignored.bin": "not a supported file type",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture(scope="module")
def ingested(lite_server, corpus: Path) -> str:
    """A collection created by `bitrag ingest` from the corpus directory."""
    name = unique("cli")
    p = bitrag_cli("ingest", "notes", "-c", name, "--quiet", target=lite_server.target, cwd=corpus)
    assert p.returncode == 0, p.stderr
    assert "3 files: 3 added, 0 replaced, 0 unchanged" in p.stdout, p.stdout
    assert f"created collection {name!r}" in p.stderr
    assert "skipped 1 file: .bin 1" in p.stderr  # reported, not skipped silently
    return name


def test_ingest_then_search_json(lite_server, ingested: str, corpus: Path) -> None:
    p = bitrag_cli("search", "Which language is memory safe without GC?", "-c", ingested, "-k", "2", "--json",
                   target=lite_server.target)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    res = json.loads(lines[0])
    assert set(res) == {"hits", "diagnostics"}
    hits = res["hits"]
    assert len(hits) == 2
    top = hits[0]
    assert top["document_id"] == "rust.md"  # ids are paths relative to the ingested directory
    assert top["chunk_id"] == "rust.md#0"
    assert "memory safety" in top["text"]
    assert top["metadata"]["file_path"] == "rust.md"
    assert hits[0]["score"] >= hits[1]["score"]
    assert {"score", "hamming_distance", "metadata", "text"} <= set(top)
    d = res["diagnostics"]
    assert d["path"] == "BINARY_RESCORED"
    assert d["candidates_examined"] == 3  # min(2 * 4, 3 rows)
    assert list(d["timings_us"]) == ["embed", "candidates", "tier", "rescore", "gate", "fetch"]


def test_search_filter_and_table_output(lite_server, ingested: str) -> None:
    p = bitrag_cli("search", "bread", "-c", ingested, "-k", "3", "--json",
                   "--filter", 'file_path == "deep/tides.md"', target=lite_server.target)
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)["hits"]
    assert [h["document_id"] for h in hits] == ["deep/tides.md"]

    p = bitrag_cli("search", "sourdough starter", "-c", ingested, "-k", "1", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert "bread.txt#0" in p.stdout and "BINARY_RESCORED" in p.stdout


def test_reingest_is_unchanged(lite_server, ingested: str, corpus: Path) -> None:
    p = bitrag_cli("ingest", "notes", "-c", ingested, "--quiet", "--json", target=lite_server.target, cwd=corpus)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    # not even read: the collection holds their fingerprints (size + mtime); --force reads them
    assert (res["files_skipped"], res["documents_added"], res["chunks_written"]) == (3, 0, 0)
    p = bitrag_cli("ingest", "notes", "-c", ingested, "--quiet", "--json", "--force", target=lite_server.target,
                   cwd=corpus)
    res = json.loads(p.stdout)
    assert (res["files_skipped"], res["documents_unchanged"], res["chunks_written"]) == (0, 3, 0)


def _rows(target: str, name: str) -> int:
    p = bitrag_cli("describe", name, "--json", target=target)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["rows"]


def test_same_tree_from_another_directory_is_a_noop(lite_server, ingested: str, corpus: Path) -> None:
    """The issue's case: `bitrag ingest /usr/share/x` and `bitrag ingest x` from /usr/share gave two id sets."""
    rows = _rows(lite_server.target, ingested)
    for cwd, path in ((corpus / "notes", "."), (Path("/"), str(corpus / "notes")), (corpus / "notes" / "deep", "..")):
        p = bitrag_cli("ingest", path, "-c", ingested, "--quiet", "--json", target=lite_server.target, cwd=cwd)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout)
        # same ids: the collection holds their fingerprints, so the files are not even read
        assert (res["files_skipped"], res["documents_added"], res["chunks_written"]) == (3, 0, 0), (cwd, path)
        assert _rows(lite_server.target, ingested) == rows == 3


def test_root_and_id_prefix(lite_server, corpus: Path) -> None:
    name = unique("cli_ids")
    p = bitrag_cli("ingest", "notes/deep", "-c", name, "--root", ".", "--id-prefix", "kb/", "--quiet",
                   target=lite_server.target, cwd=corpus)
    assert p.returncode == 0, p.stderr
    p = bitrag_cli("search", "moon", "-c", name, "-k", "1", "--json", target=lite_server.target)
    assert json.loads(p.stdout)["hits"][0]["document_id"] == "kb/notes/deep/tides.md"
    p = bitrag_cli("ingest", "notes", "-c", name, "--root", "notes/deep", "--quiet", target=lite_server.target,
                   cwd=corpus)
    assert p.returncode == 1 and "INVALID_ARGUMENT" in p.stderr and "root" in p.stderr
    assert _rows(lite_server.target, name) == 1


def test_bad_paths_leave_no_collection(lite_server, corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    for f in ("a.png", "b.png", "c.zip"):
        (tmp_path / "pics" / f).write_bytes(b"x")
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "empty.md").write_text("")
    cases = {
        str(tmp_path / "no" / "such"): "no such file or directory",
        str(tmp_path / "pics"): "no supported files (md, txt, pdf, docx, pptx, html) under "
                                f"{tmp_path / 'pics'}; skipped 3 files: .png 2, .zip 1",
        str(tmp_path / "pics" / "a.png"): "skipped 1 file: .png 1",
        str(tmp_path / "blank"): "has no text (an empty file or a scanned PDF)",
    }
    for path, message in cases.items():
        name = unique("cli_bad")
        p = bitrag_cli("ingest", path, "-c", name, target=lite_server.target)
        assert p.returncode == 1, (path, p.stderr)
        assert message in p.stderr, p.stderr
        errors = [ln for ln in p.stderr.splitlines() if "error" in ln]
        assert len(errors) == 1 and message in errors[0], p.stderr  # one line, whatever progress preceded it
        d = bitrag_cli("describe", name, target=lite_server.target)
        assert d.returncode == 1 and "NOT_FOUND" in d.stderr, (path, d.stdout)


def test_ingest_help_says_how_ids_are_formed() -> None:
    p = bitrag_cli("ingest", "--help")
    assert p.returncode == 0
    text = " ".join(p.stdout.split())
    assert "Document ids are the files' paths relative to the ingested directory" in text
    assert "--root" in text and "--id-prefix" in text and "whatever the working directory" in text


def test_collections_and_describe_json(lite_server, ingested: str) -> None:
    p = bitrag_cli("collections", "--json", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    cols = {c["name"]: c for c in json.loads(p.stdout)}
    c = cols[ingested]
    assert (c["rows"], c["dimension"], c["embedder"]) == (3, 384, "local:all-MiniLM-L6-v2")
    assert c["bytes_in_ram"] == 3 * 384 // 8
    assert c["bytes_on_disk"] == c["float_rows"] * 384 * 4

    p = bitrag_cli("describe", ingested, "--json", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"] == 3


def test_delete_and_drop(lite_server, corpus: Path) -> None:
    name = unique("cli_del")
    p = bitrag_cli("ingest", "notes/bread.txt", "-c", name, "--quiet", target=lite_server.target, cwd=corpus)
    assert p.returncode == 0, p.stderr
    p = bitrag_cli("delete", "bread.txt", "-c", name, target=lite_server.target)  # a file's id: its name
    assert p.returncode == 0, p.stderr
    assert "deleted 1 documents, 1 chunks" in p.stdout
    p = bitrag_cli("drop", name, target=lite_server.target)
    assert p.returncode == 2 and "without --yes" in p.stderr
    p = bitrag_cli("drop", name, "--yes", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    p = bitrag_cli("describe", name, target=lite_server.target)
    assert p.returncode == 1 and "NOT_FOUND" in p.stderr


def test_errors_exit_1_on_stderr(lite_server, ingested: str, corpus: Path) -> None:
    missing = unique("nope")
    p = bitrag_cli("search", "anything", "-c", missing, "--json", target=lite_server.target)
    assert p.returncode == 1
    assert p.stdout == ""
    assert "NOT_FOUND" in p.stderr and missing in p.stderr

    p = bitrag_cli("search", "anything", "-c", ingested, "--filter", "len(x) > 1", target=lite_server.target)
    assert p.returncode == 1
    assert "INVALID_ARGUMENT" in p.stderr and "filter" in p.stderr

    p = bitrag_cli("search", "anything", "-c", ingested, "-k", "0", target=lite_server.target)
    assert p.returncode == 1 and "top_k" in p.stderr

    p = bitrag_cli("ingest", "no/such/dir", "-c", ingested, "--quiet", target=lite_server.target, cwd=corpus)
    assert p.returncode == 1 and "no such file or directory" in p.stderr

    p = bitrag_cli("ingest", "notes", "-c", unique("nocreate"), "--no-create", "--quiet",
                   target=lite_server.target, cwd=corpus)
    assert p.returncode == 1 and "NOT_FOUND" in p.stderr


def test_help_exits_0() -> None:
    p = bitrag_cli("--help")
    assert p.returncode == 0
    assert "usage: bitrag" in p.stdout
    for cmd in ("collections", "create", "ingest", "search", "delete", "serve"):
        assert cmd in p.stdout
    p = bitrag_cli("search", "--help")
    assert p.returncode == 0 and "--filter" in p.stdout


def test_version() -> None:
    import bitrag

    p = bitrag_cli("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"bitrag {bitrag.__version__}"


def test_no_server_is_one_line() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{s.getsockname()[1]}"
        p = bitrag_cli("collections", target=target, timeout=60)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        f"error: no server at {target}: start `bitrag serve` or set BITRAG_TARGET"
    ], p.stderr


def test_empty_collections_says_so(start_bitrag, tmp_path: Path) -> None:
    srv = start_bitrag(tmp_path / "data", extra_args=["--embedder", "none"])
    p = bitrag_cli("collections", target=srv.target)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == (f"no collections on {srv.target}: create one with `bitrag ingest PATH -c NAME` "
                                "or `bitrag create NAME`")
    p = bitrag_cli("collections", "--json", target=srv.target)
    assert json.loads(p.stdout) == []


def test_describe_shows_gate_calibration_index_and_memory(lite_server, ingested: str) -> None:
    p = bitrag_cli("describe", ingested, target=lite_server.target)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"collection {ingested}" in out
    assert "rows         3 live chunks" in out
    assert "embedder     local:all-MiniLM-L6-v2 · dimension 384" in out
    assert "index        BIN_FLAT" in out
    assert "memory       RAM 144 B: 1-bit codes 144 B" in out  # 3 x 384 bits
    assert "gate         target recall 0.990 · threshold" in out and "(uncalibrated)" in out
    assert "fallback widen -> exact" in out
    assert "calibration  not yet" in out and f"bitrag calibrate {ingested}" in out
    assert "┃" not in out  # not the one-row table of `collections`

    import bitrag

    name = unique("cli_cal")  # a calibrated one: its threshold, samples and plan
    x = np.random.default_rng(1).standard_normal((120, 32)).astype(np.float32)
    with bitrag.Client(lite_server.target, timeout=300) as c:
        c.create_collection(name, dimension=32, embedder="none", gate=bitrag.GateConfig(target_recall=0.95))
        c.ingest_vectors(name, x, ids=[f"r{i}" for i in range(len(x))])
        c.calibrate(name, samples=40)
    p = bitrag_cli("describe", name, target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert "(calibrated for target recall 0.950)" in p.stdout
    assert "calibration  40 pseudo samples at 120 rows" in p.stdout
    assert "plan         route " in p.stdout


def test_document_column_keeps_the_file_name(lite_server, tmp_path: Path) -> None:
    deep = "projects/handbook/operations/networking/dhcp-and-dns/"
    (tmp_path / deep).mkdir(parents=True)
    (tmp_path / deep / "client-configuration.md").write_text("# DHCP\n\nA DHCP client gets its address from a server.\n")
    name = unique("cli_tail")
    p = bitrag_cli("ingest", str(tmp_path), "-c", name, "--quiet", target=lite_server.target, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = bitrag_cli("search", "dhcp client address", "-c", name, "-k", "1", target=lite_server.target)
    assert p.returncode == 0, p.stderr
    assert "client-configuration.md#0" in p.stdout  # the end of the id: file name and chunk
    assert "…" in p.stdout.split("client-configuration.md#0")[0].splitlines()[-1]
    assert "hamming" in p.stdout and "bits that differ between the query's and the chunk's 1-bit codes" in p.stdout
    p = bitrag_cli("search", "--help")
    assert "hamming: bits that differ" in " ".join(p.stdout.split())
