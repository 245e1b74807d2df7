"""Bytes reclaimed by compaction for a collection with half its documents replaced.

    .venv/bin/python bench/compact.py --docs 10000 --chunks 2 --dim 384

Ingests `docs` documents of `chunks` chunks (pre-embedded, text and metadata on every chunk),
replaces every second document with new content, and compacts through the RPC; reports rows and
bytes (float32 file + codes + records) before and after, the compaction's duration, and that every
document is then found by its vectors. Writes bench/results/compact.json and compact.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from servers import ServerProc  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=10000)
    p.add_argument("--chunks", type=int, default=2)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compact")
    a = p.parse_args()
    rng = np.random.default_rng(0)
    n = a.docs * a.chunks
    doc_ids = [f"doc{i // a.chunks}" for i in range(n)]
    ids = [f"doc{i // a.chunks}#{i % a.chunks}" for i in range(n)]
    texts = [f"chunk {i}: " + "lorem ipsum dolor sit amet " * 8 for i in range(n)]
    meta = [{"doc": i // a.chunks, "source": f"file{i // a.chunks}.md"} for i in range(n)]
    v1 = rng.standard_normal((n, a.dim)).astype(np.float32)
    v2 = rng.standard_normal((n, a.dim)).astype(np.float32)
    half = [i for i in range(n) if (i // a.chunks) % 2 == 0]
    sp = ServerProc(
        Path(tempfile.mkdtemp(prefix="bitrag-compact-")),
        env={
            "BITRAG_EMBEDDER": "none",
            "BITRAG_COMPACT_DEAD_SHARE": "0",
            "BITRAG_CALIBRATION_MIN_ROWS": "100000000",
        },
    )
    sp.start()
    try:
        with sp.client(timeout=3600) as c:
            c.create_collection("half", embedder="none", dimension=a.dim)
            c.ingest_vectors("half", v1, ids=ids, document_ids=doc_ids, texts=texts, metadata=meta)
            c.ingest_vectors(
                "half",
                v2[half],
                ids=[ids[i] for i in half],
                document_ids=[doc_ids[i] for i in half],
                texts=[texts[i] + " (v2)" for i in half],
                metadata=[meta[i] for i in half],
            )
            before = c.describe_collection("half")
            t0 = time.perf_counter()
            res = c.compact("half")
            wall = time.perf_counter() - t0
            after = c.describe_collection("half")
            live = {i: (v2[i] if i in set(half) else v1[i]) for i in range(n)}
            probe = rng.choice(n, size=min(n, 500), replace=False)
            found = sum(
                c.search("half", live[int(i)], top_k=1).hits[0].chunk_id == ids[int(i)] for i in probe
            )
    finally:
        sp.stop()
    rep = {
        "documents": a.docs,
        "chunks_per_document": a.chunks,
        "dim": a.dim,
        "replaced_documents": a.docs // 2 + a.docs % 2,
        "rows_before": res.rows_before,
        "rows_after": res.rows_after,
        "bytes_before": res.bytes_before,
        "bytes_after": res.bytes_after,
        "reclaimed_bytes": res.bytes_before - res.bytes_after,
        "reclaimed_share": round(1 - res.bytes_after / res.bytes_before, 4),
        "compaction_s": round(res.duration_us / 1e6, 3),
        "rpc_wall_s": round(wall, 3),
        "float_file_before": before.bytes_on_disk,
        "float_file_after": after.bytes_on_disk,
        "probe_searches_found_themselves": f"{found}/{len(probe)}",
        "machine": f"{platform.node()}, shared with other engineers' runs",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(rep, indent=2))
    md = [
        "# Compaction: a collection with half its documents replaced (`bench/compact.py`)",
        "",
        f"`.venv/bin/python bench/compact.py --docs {a.docs} --chunks {a.chunks} --dim {a.dim}` (Milvus Lite): "
        f"{a.docs:,} documents x {a.chunks} chunks, then every second document replaced (new vectors and text).",
        "",
        "| | rows | float32 file | all row files (floats + codes + records) |",
        "|---|---:|---:|---:|",
        f"| before | {res.rows_before:,} | {before.bytes_on_disk:,} B | {res.bytes_before:,} B |",
        f"| after | {res.rows_after:,} | {after.bytes_on_disk:,} B | {res.bytes_after:,} B |",
        "",
        f"Reclaimed {rep['reclaimed_bytes']:,} B ({100 * rep['reclaimed_share']:.1f}%) in {rep['compaction_s']} s; "
        f"afterwards {found}/{len(probe)} probe chunks found themselves by their vectors. Machine: {rep['machine']}.",
    ]
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
