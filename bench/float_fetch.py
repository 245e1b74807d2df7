"""Where the float32 rows live when several bitrag replicas serve one Milvus: the rescoring fetch
cost of each option, side by side in one run.

  local mmap, warm   FloatStore.gather on a memory-mapped file whose pages are cached (the default,
                     and a shared volume once its pages are cached on the node)
  local mmap, cold   the same after unmapping the file and evicting it from the page cache
                     (posix_fadvise DONTNEED): every candidate row is a disk read (what a cold shared volume costs
                     at best; a network volume adds its round trips). Twice: as bitrag gathers (every
                     row's pages requested at once, madvise WILLNEED) and without that prefetch (the
                     copy's page faults read one row at a time)
  milvus by pk       a float32 Milvus collection (FLOAT_VECTOR, primary key = row) on the Milvus
                     standalone server, fetched by primary key (`get`), as a replica without any
                     file would have to

For 40, 100, 400 and 4,096 candidates (k=10 at oversample 4, 10, 40; the widen fallback's
largest): p50/p95 of the fetch alone, in ms, over `--trials` random candidate sets of an N x d
collection of random unit vectors.

    python bench/float_fetch.py --rows 100000 --dim 768

Writes bench/results/float_fetch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bitrag_server.milvus_standalone import MilvusStandalone
from bitrag_server.stores.float_store import FloatStore

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (40, 100, 400, 4096)


def pcts(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(xs, 50)), 3), "p95_ms": round(float(np.percentile(xs, 95)), 3)}


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n, d = args.rows, args.dim
    result: dict = {"rows": n, "dim": d, "trials": args.trials, "options": {}}
    sets = {c: [np.sort(rng.choice(n, c, replace=False)) for _ in range(args.trials)] for c in CANDIDATES}

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = FloatStore(tmp_path / "vectors.f32", d)
        for start in tqdm(range(0, n, 50_000), desc="float file", unit_scale=50_000):
            v = rng.standard_normal((min(50_000, n - start), d)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            store.append(v)

        for c in CANDIDATES:  # warm: read everything once, then time
            for ids in sets[c]:
                store.gather(ids)
        warm, cold, cold_plain = {}, {}, {}
        for c in CANDIDATES:
            t_warm = []
            for ids in sets[c]:
                t = time.perf_counter()
                store.gather(ids)
                t_warm.append((time.perf_counter() - t) * 1000)
            warm[str(c)] = pcts(t_warm)
            for prefetch, out in ((True, cold), (False, cold_plain)):
                t_cold = []
                for ids in sets[c]:
                    store.close()  # unmapped pages can be evicted; mapped ones would stay cached
                    evict(store.path)
                    store = FloatStore(store.path, d)
                    store.prefetch = prefetch
                    t = time.perf_counter()
                    store.gather(ids)
                    t_cold.append((time.perf_counter() - t) * 1000)
                out[str(c)] = pcts(t_cold)
        result["options"]["local_mmap_warm"] = warm
        result["options"]["local_mmap_cold"] = cold
        result["options"]["local_mmap_cold_no_prefetch"] = cold_plain

        from pymilvus import DataType, MilvusClient

        with MilvusStandalone(tmp_path / "milvus") as m:
            client = MilvusClient(uri=m.uri)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=d)
            params = client.prepare_index_params()
            params.add_index("vec", index_type="FLAT", metric_type="IP")
            client.create_collection("floats", schema=schema, index_params=params, consistency_level="Session")
            t0 = time.perf_counter()
            for first, block in tqdm(list(store.blocks(5000)), desc="milvus insert"):
                client.insert("floats", [{"row": first + i, "vec": block[i].tolist()} for i in range(block.shape[0])])
            client.flush("floats")
            client.load_collection("floats")
            result["milvus_insert_s"] = round(time.perf_counter() - t0, 1)
            for c in CANDIDATES:
                for ids in sets[c][:5]:
                    client.get("floats", ids=ids.tolist(), output_fields=["vec"])
            by_pk = {}
            for c in CANDIDATES:
                t_pk = []
                for ids in sets[c]:
                    t = time.perf_counter()
                    res = client.get("floats", ids=ids.tolist(), output_fields=["vec"])
                    np.asarray([r["vec"] for r in res], dtype=np.float32)
                    t_pk.append((time.perf_counter() - t) * 1000)
                    assert len(res) == c
                by_pk[str(c)] = pcts(t_pk)
            result["options"]["milvus_float_by_pk"] = by_pk
            client.close()
        store.close()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "float_fetch.json").write_text(json.dumps(result, indent=2) + "\n")
    names = {"local_mmap_warm": "local mmap, warm", "local_mmap_cold": "local mmap, cold (evicted), prefetched",
             "local_mmap_cold_no_prefetch": "local mmap, cold (evicted), no prefetch (before 2026-11-24)",
             "milvus_float_by_pk": "float32 Milvus collection, get by pk"}
    md = [
        "# Float32 rows for rescoring: fetch cost per option",
        "",
        f"`python bench/float_fetch.py --rows {n} --dim {d} --trials {args.trials}`: {n:,} x {d} float32 rows, {args.trials} random "
        "candidate sets per size; the fetch alone (p50 / p95 ms). Milvus: standalone 2.3 (PyPI `milvus`) on "
        "this machine over loopback.",
        "",
        "| option | " + " | ".join(f"{c} candidates" for c in CANDIDATES) + " |",
        "|---|" + "---|" * len(CANDIDATES),
    ]
    for key, label in names.items():
        r = result["options"][key]
        md.append(f"| {label} | " + " | ".join(f"{r[str(c)]['p50_ms']} / {r[str(c)]['p95_ms']}" for c in CANDIDATES) + " |")
    warm400 = result["options"]["local_mmap_warm"]["400"]["p50_ms"]
    pk400 = result["options"]["milvus_float_by_pk"]["400"]["p50_ms"]
    md += ["", f"At 400 candidates the Milvus fetch adds {pk400 - warm400:.2f} ms p50 over the warm local file "
           f"({pk400 / max(warm400, 1e-6):.0f}x)."]
    (args.out / "float_fetch.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
