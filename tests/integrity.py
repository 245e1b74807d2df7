"""What the crash and compaction tests check after every restart: each expected document present
exactly once (its chunks, no more, no other version) and searchable; and, with the server stopped,
that Milvus, the float store, the codes and the record store agree row by row."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

import bitrag

# doc_id -> {chunk_id: vector [d] float32 (L2-normalised)}
Docs = dict[str, dict[str, np.ndarray]]


def doc_vectors(doc: str, version: int, chunks: int, dim: int) -> dict[str, np.ndarray]:
    """The chunks of version `version` of document `doc`: distinct, reproducible, unit vectors."""
    seed = zlib.crc32(f"{doc}\x00{version}".encode())
    v = np.random.default_rng(seed).standard_normal((chunks, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return {f"{doc}#{i}": v[i] for i in range(chunks)}


def ingest_docs(c: bitrag.Client, coll: str, docs: Docs) -> bitrag.IngestResult:
    ids, doc_ids, vecs = [], [], []
    for doc, chunks in docs.items():
        for cid, v in chunks.items():
            ids.append(cid)
            doc_ids.append(doc)
            vecs.append(v)
    return c.ingest_vectors(
        coll,
        np.stack(vecs),
        ids=ids,
        document_ids=doc_ids,
        texts=[f"text of {i}" for i in ids],
        metadata=[{"doc": d} for d in doc_ids],
    )


def document_chunks(c: bitrag.Client, coll: str, doc: str, dim: int) -> list[str]:
    """The chunk ids Milvus + the record store hold for `doc` (a filtered exact search)."""
    res = c.search(coll, np.ones(dim, np.float32), top_k=1000, filter=f'document_id == "{doc}"', mode="EXACT")
    return [h.chunk_id for h in res.hits]


def _stored(c: bitrag.Client, coll: str, chunks: dict[str, np.ndarray]) -> bool:
    """Are these exact vectors the ones stored under these chunk ids?"""
    for cid, v in chunks.items():
        hit = c.search(coll, v, top_k=1, mode="EXACT").hits[0]
        if hit.chunk_id != cid or abs(hit.score - 1.0) > 1e-4:
            return False
    return True


def check_documents(
    c: bitrag.Client,
    coll: str,
    expect: Docs,
    maybe: dict[str, list[dict[str, np.ndarray]]] | None = None,
    resolved: dict[str, dict[str, np.ndarray]] | None = None,
) -> int:
    """Every document of `expect` present exactly once: its chunk ids and no others, each finding
    itself by its vector (score 1) with its own text; `{}` = the document is absent. A document in
    `maybe` (a write in flight when the server died) is wholly one of the listed versions. Returns
    the number of chunks checked; `resolved` gets the version found of each `maybe` document."""
    dim = c.describe_collection(coll).dimension
    maybe = maybe or {}
    checked = 0
    for doc in sorted(set(expect) | set(maybe)):
        got = sorted(document_chunks(c, coll, doc, dim))
        assert len(got) == len(set(got)), f"{doc}: duplicated chunks {got}"
        options = maybe.get(doc, [expect.get(doc, {})])
        same_ids = [o for o in options if sorted(o) == got]
        assert same_ids, f"{doc}: chunks {got}, expected one of {[sorted(o) for o in options]}"
        found = next((o for o in same_ids if _stored(c, coll, o)), None)
        assert found is not None, (
            f"{doc}: chunks {got} hold vectors of no expected version (a mixed document)"
        )
        if resolved is not None and doc in maybe:
            resolved[doc] = found
        for cid in found:
            hit = c.search(coll, found[cid], top_k=1, mode="EXACT").hits[0]
            assert hit.document_id == doc and hit.text == f"text of {cid}", (cid, hit)
            checked += 1
    return checked


def _as_renamed(d: Path) -> Path:
    """A directory of links to the row files as a completed compaction leaves them: each
    `<file>.compact` in place of `<file>` (renames already done keep the file itself)."""
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="bitrag-renamed-"))
    for name in ("vectors.f32", "codes.u8", "records.bin", "records.idx", "live.u8"):
        src = d / (name + ".compact")
        (out / name).symlink_to(src if src.exists() else d / name)
    return out


def check_files_agree(data_dir: Path, coll: str) -> tuple[int, list[str]]:
    """With the server stopped: every row Milvus holds is complete in the float file, its code in
    codes.u8 is the float row's sign bits, its record in the record store names the same document;
    live.u8 marks live exactly the rows Milvus holds (but the rows of a write journal left behind by
    a kill, which the next start rolls forward). Returns (live rows, every Milvus collection in the Milvus Lite file)."""
    from pymilvus import MilvusClient

    from bitrag_server.quantize import binarize
    from bitrag_server.stores.float_store import CodeStore, FloatStore, LiveStore
    from bitrag_server.stores.record_store import RecordStore

    d = data_dir / "collections" / coll
    m = json.loads((d / "collection.json").read_text())
    pending: set[int] = set()  # rows of an interrupted write: the next start marks them
    if (d / "journal.json").exists():
        op = json.loads((d / "journal.json").read_text())
        pending = set(range(*op["insert"])) if op.get("insert") else set()
        pending |= {int(r) for r in op.get("delete") or []}
    dim = m["dimension"]
    client = MilvusClient(str(data_dir / "milvus.db"))
    try:
        rows = []
        it = client.query_iterator(
            m["milvus_collection"],
            batch_size=4096,
            filter="row >= 0",
            output_fields=["row", "doc_id", "code"],
        )
        while batch := it.next():
            rows.extend(batch)
        it.close()
        names = client.list_collections()
    finally:
        client.close()
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(data_dir / "milvus.db"))  # the server reopens it next
    if m.get("compact_pending"):  # killed after a compaction's commit: the next start renames these
        d = _as_renamed(d)
    assert (d / "live.u8").exists(), f"{d}: no live.u8"  # (opening it would create an empty one)
    floats, codes, records, live = (
        FloatStore(d / "vectors.f32", dim),
        CodeStore(d / "codes.u8", dim),
        RecordStore(d),
        LiveStore(d / "live.u8"),
    )
    try:
        ids = np.asarray(sorted(int(r["row"]) for r in rows), np.int64)
        assert len(set(ids.tolist())) == ids.size, "duplicate primary keys in Milvus"
        marked = set(np.flatnonzero(live.view()[:, 0] == 1).tolist())
        disagree = (marked ^ set(ids.tolist())) - pending
        assert not disagree, f"live.u8 and Milvus disagree on rows {sorted(disagree)[:20]}"
        if ids.size:
            assert ids.max() < floats.rows and ids.max() < codes.rows and ids.max() < records.rows, (
                ids.max(),
                floats.rows,
                codes.rows,
                records.rows,
            )
            f = floats.gather(ids)
            assert np.array_equal(codes.gather(ids), binarize(f, np.zeros(dim, np.float32)))
            recs = {int(r): rec for r, rec in zip(ids.tolist(), records.get(ids.tolist()))}
            for r in rows:
                rec = recs[int(r["row"])]
                assert rec["doc_id"] == r["doc_id"], (r["row"], rec, r["doc_id"])
                code = r["code"][0] if isinstance(r["code"], list) else r["code"]
                assert bytes(code) == codes.gather(np.asarray([int(r["row"])]))[0].tobytes()
    finally:
        floats.close()
        codes.close()
        records.close()
        live.close()
    return int(ids.size), list(names)
