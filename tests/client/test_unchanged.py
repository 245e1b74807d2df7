"""Which files ingest reads: the fingerprint rules of `_unchanged.select_files` on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitrag import Document, _unchanged
from bitrag._unchanged import fingerprint, select_files


@pytest.fixture
def tree(tmp_path: Path) -> list[Path]:
    files = []
    for name, text in (("a.md", "# A\n\nalpha"), ("b.txt", "bravo"), ("c.md", "charlie")):
        p = tmp_path / name
        p.write_text(text)
        files.append(p)
    return files


def _held(files: list[Path]) -> dict[str, dict]:
    return {p.name: fingerprint(p).metadata() for p in files}


def test_unchanged_files_are_not_read_changed_and_new_ones_are(tree: list[Path], monkeypatch) -> None:
    hashed: list[Path] = []
    real = _unchanged.fingerprint
    monkeypatch.setattr(_unchanged, "fingerprint", lambda p: hashed.append(p) or real(p))
    held = _held(tree[:2])  # c.md: not in the collection
    asked: list[list[str]] = []
    ids = [p.name for p in tree]

    sel = select_files(tree, ids, lambda i: asked.append(i) or held)
    assert asked == [ids]  # one look-up, by the ids about to be read
    assert sel.unchanged == ["a.md", "b.txt"] and sel.to_read == [tree[2]]
    assert hashed == [tree[2]]  # size + mtime equal: not even hashed

    st = tree[0].stat()
    os.utime(tree[0], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, same bytes
    tree[1].write_text("BRAVO")  # same size, new bytes
    hashed.clear()
    sel = select_files(tree, ids, lambda i: held)
    assert sel.unchanged == ["a.md"] and sel.to_read == [tree[1], tree[2]]
    assert hashed == tree  # the touched file is hashed, then skipped
    assert sel.fingerprints["b.txt"] == fingerprint(tree[1]) != fingerprint(tree[0])

    assert select_files(tree, ids, None).to_read == tree  # force
    tree[0].write_text("# A\n\nalpha, longer")
    assert select_files(tree, ids, lambda i: held).to_read == tree  # size differs


def test_fingerprints_travel_as_metadata_and_stay_exact(tree: list[Path]) -> None:
    sel = select_files(tree, [p.name for p in tree], None)
    docs = sel.with_fingerprints([Document("a.md", "x", {"k": 1}), Document("zz", "y")])
    fp = fingerprint(tree[0])
    assert docs[0].metadata == {"k": 1, "file_size": fp.size, "file_mtime_ns": str(fp.mtime_ns),
                                "file_sha256": fp.sha256}
    assert docs[1].metadata == {}
    assert fp.mtime_ns > 2**53  # why it travels as a string: a double would round it
    garbled = {"a.md": {"file_size": "x", "file_mtime_ns": "1", "file_sha256": "s"}, "b.txt": {"other": 1}}
    assert select_files(tree, [p.name for p in tree], lambda i: garbled).to_read == tree  # not fingerprints
