"""stores/catalog.py: manifests on disk, atomic save, remove, sweep, name rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitrag_server.errors import InvalidArgument
from bitrag_server.stores.catalog import MANIFEST, VECTORS, Catalog, IndexConfig, Manifest, check_name


def _manifest(name: str = "docs", **kw: object) -> Manifest:
    return Manifest(
        name=name,
        dimension=384,
        embedder="local:all-MiniLM-L6-v2",
        index=IndexConfig("BIN_IVF_FLAT", {"nlist": 64}, {"nprobe": 8}),
        default_oversample=4,
        description="d",
        milvus_collection=f"bitrag_{name}",
        **kw,  # type: ignore[arg-type]
    )


def test_save_load_round_trip(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    m = _manifest(thresholds=[0.1, -0.2] * 4, generation=7)
    cat.save(m)
    assert (tmp_path / "collections" / "docs" / MANIFEST).is_file()
    back = cat.load("docs")
    assert back == m
    assert isinstance(back.index, IndexConfig)
    assert back.index.build_params == {"nlist": 64}
    assert Catalog(tmp_path).load("docs") == m  # a fresh catalog reads the same
    assert cat.names() == ["docs"]


def test_manifest_defaults_round_trip(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    m = _manifest("a")
    assert m.thresholds is None and m.generation == 0 and m.created_unix_ms > 0
    cat.save(m)
    assert cat.load("a") == m


def test_save_is_atomic_and_overwrites(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    m = _manifest()
    cat.save(m)
    m.generation = 42
    m.description = "changed"
    cat.save(m)
    d = cat.dir("docs")
    assert sorted(p.name for p in d.iterdir()) == [MANIFEST]  # no .tmp left behind
    assert cat.load("docs").generation == 42
    assert cat.load("docs").description == "changed"


def test_names_only_dirs_with_manifest(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.save(_manifest("b"))
    cat.save(_manifest("a"))
    (cat.root / "half").mkdir()
    assert cat.names() == ["a", "b"]


def test_remove(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.save(_manifest("a"))
    cat.save(_manifest("b"))
    (cat.dir("a") / VECTORS).write_bytes(b"\0" * 64)
    cat.remove("a")
    assert not cat.dir("a").exists()
    assert cat.names() == ["b"]
    assert [p.name for p in cat.root.iterdir()] == ["b"]  # trash removed too
    cat.remove("missing")  # no error


def test_sweep(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.save(_manifest("keep"))
    (cat.dir("keep") / VECTORS).write_bytes(b"\0" * 8)
    (cat.root / "nomanifest").mkdir()
    (cat.root / "nomanifest" / VECTORS).write_bytes(b"x")
    (cat.root / "tmponly").mkdir()
    (cat.root / "tmponly" / (MANIFEST + ".tmp")).write_text("{")
    trash = cat.root / ".trash-old-123"
    trash.mkdir()
    (trash / MANIFEST).write_text("{}")  # trash goes even with a manifest
    (cat.root / "stray.txt").write_text("files are left alone")
    cat.sweep()
    assert sorted(p.name for p in cat.root.iterdir()) == ["keep", "stray.txt"]
    assert (cat.dir("keep") / VECTORS).read_bytes() == b"\0" * 8
    assert cat.load("keep").name == "keep"


@pytest.mark.parametrize("name", ["a", "A", "docs", "my_docs_2", "x" * 63, "Z9_"])
def test_check_name_accepts(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "1abc", "_a", "a-b", "a b", "a.b", "../x", "a/b", "x" * 64, "é", "a\n", ".trash-x"]
)
def test_check_name_rejects(name: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        check_name(name)
    assert ei.value.field == "name"
    with pytest.raises(InvalidArgument) as ei:
        check_name(name, "collection")
    assert ei.value.field == "collection"
