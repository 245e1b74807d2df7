"""Every legacy source against its real store: what it streams (ids, bit-identical vectors, text,
metadata), resuming from a cursor, fetching by key, and its own search with filters."""

from __future__ import annotations

from pathlib import Path

import legacy_stores as ls
import numpy as np
import pytest
from bitrag_server.migrate import policy
from bitrag_server.migrate.sources import FieldMap, SourceError, open_source

C = ls.corpus(300, 32)
KINDS = ["milvus", "chroma", "qdrant", "llamaindex", "files-jsonl", "files-parquet"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, FieldMap]]:
    """kind -> (source spec, collection, field map) of a store holding C."""
    base = tmp_path_factory.mktemp("legacy")
    ls.milvus(str(base / "legacy.db"), "docs", C)
    ls.chroma(base / "chroma", "docs", C)
    ls.qdrant(base / "qdrant", "docs", C)
    ls.llamaindex(base / "li", C)
    npy = ls.files(base / "files", C)
    pq = ls.files(base / "pq", C, "parquet")
    return {
        "milvus": (f"milvus:{base / 'legacy.db'}", "docs", FieldMap()),
        "chroma": ("chroma:" + str(base / "chroma"), "docs", FieldMap()),
        "qdrant": ("qdrant:" + str(base / "qdrant"), "docs", FieldMap(id_field="chunk_id")),
        "llamaindex": ("llamaindex:" + str(base / "li"), "", FieldMap()),
        "files-jsonl": (f"files:{npy}", "", FieldMap()),
        "files-parquet": (f"files:{pq}", "", FieldMap()),
    }


def _expected_md(kind: str, i: int) -> dict:
    md = dict(C.metadata[i])
    return md


@pytest.mark.parametrize("kind", KINDS)
def test_scan_streams_every_row_exactly(stores, kind: str) -> None:
    spec, coll, fields = stores[kind]
    with open_source(spec, coll, fields) as src:
        assert src.info.rows == 300 and src.info.dimension == 32 and src.info.metric == "cosine"
        got = {}
        for b, _cursor in src.scan(None, 64):
            assert b.vectors.dtype == np.float32 and b.vectors.shape == (len(b), 32)
            for j, cid in enumerate(b.ids):
                got[cid] = (b.vectors[j], b.texts[j], b.metadata[j], b.document_ids[j])
    assert sorted(got) == C.ids
    for i, cid in enumerate(C.ids):
        vec, text, md, doc = got[cid]
        if kind == "chroma":  # Chroma's own read-back is within an ulp of what was added
            assert np.abs(vec - C.vectors[i]).max() < 1e-6
        else:
            assert vec.tobytes() == C.vectors[i].tobytes(), cid
        assert text == C.texts[i]
        assert md == _expected_md(kind, i)
        # a document id only where the store says so (LlamaIndex ref_doc_id, the files' column)
        assert doc == (C.docs[i] if kind in ("llamaindex", "files-jsonl", "files-parquet") else cid)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_from_cursor_and_fetch(stores, kind: str) -> None:
    spec, coll, fields = stores[kind]
    with open_source(spec, coll, fields) as src:
        batches = list(src.scan(None, 50))
        resumed = list(src.scan(batches[1][1], 50))  # the cursor after the second batch
        assert [b.ids for b, _ in resumed] == [b.ids for b, _ in batches[2:]]
        keys = batches[3][0].keys[::-7]
        b = src.fetch(keys)
        assert b.keys == keys and b.ids == batches[3][0].ids[::-7]


@pytest.mark.parametrize("kind", KINDS)
def test_search_finds_the_row_itself(stores, kind: str) -> None:
    spec, coll, fields = stores[kind]
    with open_source(spec, coll, fields) as src:
        hits = src.search(C.vectors[17], 5)
        assert hits[0].id == C.ids[17]
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
        exact = np.argsort(-(C.vectors @ C.vectors[17]))[:5]
        assert [h.id for h in hits] == [C.ids[i] for i in exact]
        assert [h.similarity for h in hits] == pytest.approx([float(C.vectors[i] @ C.vectors[17]) for i in exact], abs=1e-4)


@pytest.mark.parametrize("kind", ["milvus", "chroma", "qdrant"])
def test_search_with_a_bitrag_filter(stores, kind: str) -> None:
    spec, coll, fields = stores[kind]
    with open_source(spec, coll, fields) as src:
        hits = src.search(C.vectors[4], 10, 'tag == "b" and not n < 150')
        assert len(hits) == 10
        assert all(h.metadata["tag"] == "b" and h.metadata["n"] >= 150 for h in hits)
        hits = src.search(C.vectors[4], 10, 'n in [3, 6, 9] or tag != "a"')
        assert hits and all(h.metadata["n"] in (3, 6, 9) or h.metadata["tag"] != "a" for h in hits)


def test_milvus_metric_and_fields_are_read_from_the_store(tmp_path: Path) -> None:
    uri = str(tmp_path / "l2.db")
    ls.milvus(uri, "l2docs", C, metric="L2")
    with open_source(f"milvus:{uri}", "l2docs", FieldMap(document_id_field="doc")) as src:
        assert src.info.metric == "l2" and src.info.metric_origin == "store"
        b = next(src.scan(None, 10))[0]
        assert b.document_ids == C.docs[:10]
        # squared L2 of unit vectors -> cosine similarity
        hits = src.search(C.vectors[3], 3)
        assert hits[1].similarity == pytest.approx(float(C.vectors[3] @ C.vectors[C.ids.index(hits[1].id)]), abs=1e-5)
    with pytest.raises(SourceError, match="uses l2"):
        open_source(f"milvus:{uri}", "l2docs", metric="cosine")
    with pytest.raises(SourceError, match="does not exist"):
        open_source(f"milvus:{uri}", "nope")


@pytest.mark.standalone
def test_milvus_standalone_source(milvus_standalone: str) -> None:
    ls.milvus(milvus_standalone, "legacy_src", C)
    with open_source(f"milvus:{milvus_standalone}", "legacy_src") as src:
        assert src.info.rows == 300
        vecs = np.concatenate([b.vectors for b, _ in src.scan(None, 128)])
        ids = [i for b, _ in src.scan(None, 128) for i in b.ids]
        assert vecs[np.argsort(ids)].tobytes() == C.vectors.tobytes()
        assert src.search(C.vectors[9], 1)[0].id == C.ids[9]


def test_bad_specs_explain_themselves(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="KIND:LOCATION"):
        open_source("pinecone:xyz")
    with pytest.raises(SourceError, match="not a Chroma"):
        open_source(f"chroma:{tmp_path / 'missing'}")
    np.save(tmp_path / "v64.npy", C.vectors.astype(np.float64))
    with pytest.raises(SourceError, match="float64"):
        open_source(f"files:{tmp_path / 'v64.npy'}")


def test_policy_refuses_what_it_would_have_to_convert() -> None:
    with pytest.raises(policy.PolicyError, match="multiple of 8"):
        policy.check_dimension(100)
    v = C.vectors[:4] * np.float32(3.0)
    for metric, why in (("cosine", "keeps its ranking"), ("ip", "changes the ranking"), ("l2", "Euclidean")):
        with pytest.raises(policy.PolicyError, match=why):
            policy.VectorPolicy(metric).apply(C.ids[:4], v)
    p = policy.VectorPolicy("ip", normalize=True)
    out = p.apply(C.ids[:4], v)
    assert p.normalised_rows == 4 and np.abs(np.linalg.norm(out, axis=1) - 1).max() < 1e-6
    assert p.expected(v).tobytes() == out.tobytes()  # what verification compares against
    assert policy.VectorPolicy("cosine").apply(C.ids[:4], C.vectors[:4]) is not None  # unit rows pass as they are
    bad = C.vectors[:2].copy()
    bad[1, 3] = np.nan
    with pytest.raises(policy.PolicyError, match="non-finite"):
        policy.VectorPolicy("cosine").apply(C.ids[:2], bad)
    assert "ranks exactly as cosine" in policy.VectorPolicy("l2").notes[0]
