"""Milvus 2.3.5 standalone memory per row for a 768-bit BINARY_VECTOR collection, by schema.

usage: python bench/milvus_memory.py VARIANT [--n 300000] [--out FILE.jsonl]
       python bench/milvus_memory.py VARIANT --restart    (the same data dir, a fresh Milvus)
VARIANT: full (the schema before the record store: ids, hash, text, metadata in Milvus)
       | slim (bitrag's schema: row, code, doc_id, metadata) | minimal (row, code)
       | full_mmap | full_mmap_x (text='x': an all-empty text column cannot be mapped) | slim_mmap
Each run: fresh Milvus in bench/.work/milvus_memory/run_<variant>, idle reading, insert, flush +
index, load, 50 searches, readings before and after Milvus' own compaction, stop. --restart then
reads the serving footprint without the ingest's leftovers. Results: docs/operations.md (sizing).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import milvus as milvus_pkg
from bitrag_server.bench.common import dir_bytes, process_memory
from bitrag_server.milvus_standalone import MilvusStandalone, flush_and_index, segments
from bitrag_server.stores.binary_index import ID_MAX_BYTES, TEXT_MAX_BYTES

ROOT = Path(__file__).resolve().parent / ".work" / "milvus_memory"
COLL = "milvus_memory"
DIM = 768
BATCH = 5000
NLIST = 1024
NPROBE = 64


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def enable_mmap(mmap_dir: Path) -> None:
    """The launcher's extra_config only rewrites keys already in the package template, and the
    template has no queryNode.mmapDirPath: add the key to the template text as it is loaded."""
    orig = milvus_pkg.MilvusServerConfig.load_template

    def load_template(self):
        orig(self)
        anchor = "queryNode:\n  dataSync:"
        assert anchor in self.template_text, "template changed"
        self.template_text = self.template_text.replace(
            anchor, f"queryNode:\n  mmapDirPath: {mmap_dir}\n  dataSync:", 1)

    milvus_pkg.MilvusServerConfig.load_template = load_template


def schema_for(variant: str):
    from pymilvus import DataType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("code", DataType.BINARY_VECTOR, dim=DIM)
    if variant.startswith("full"):
        s.add_field("chunk_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        s.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        s.add_field("doc_hash", DataType.VARCHAR, max_length=64)
        s.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
        s.add_field("metadata", DataType.JSON)
    elif variant.startswith("slim"):
        s.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX_BYTES)
        s.add_field("metadata", DataType.JSON)
    return s


def rows_for(variant: str, codes: np.ndarray, a: int, b: int) -> list[dict]:
    out = []
    for i in range(a, b):
        r = {"row": i, "code": codes[i].tobytes()}
        if variant.startswith("full"):
            text = "x" if variant.endswith("_x") else ""  # all-empty text: zero-byte column, mmap(0) fails
            r.update(chunk_id=str(i), doc_id=str(i), doc_hash=f"{i:064x}", text=text, metadata={})
        elif variant.startswith("slim"):
            r.update(doc_id=str(i), metadata={})
        out.append(r)
    return out


def mem(pid: int) -> dict:
    m = process_memory(pid)
    return {k: m[k] for k in ("rss", "anon", "file", "shmem", "hwm_root")} | {
        "procs": [(p["pid"], p["name"]) for p in m["processes"]]}


def disk(base: Path) -> dict:
    srv = base / "server"
    out = {"total": dir_bytes(base)}
    if srv.exists():
        for p in sorted(srv.iterdir()):
            if p.is_dir():
                out[p.name] = dir_bytes(p)
    if (base / "mmap").exists():
        out["mmap"] = dir_bytes(base / "mmap")
    return out


def restart(v: str, out: Path) -> None:
    """A fresh Milvus on a finished run's data: load, search, wait, read memory."""
    base = ROOT / f"run_{v}"
    if "_mmap" in v:
        enable_mmap(base / "mmap")
    m = MilvusStandalone(base, start_timeout_s=240).start()
    from pymilvus import MilvusClient

    res: dict = {"variant": v, "phase": "restart"}
    try:
        c = MilvusClient(uri=m.uri, timeout=600)
        t = time.perf_counter()
        c.load_collection(COLL)
        res["load_s"] = round(time.perf_counter() - t, 1)
        qs = np.random.default_rng(1).integers(0, 256, (50, DIM // 8), dtype=np.uint8)
        for q in qs:
            c.search(COLL, data=[q.tobytes()], limit=100, anns_field="code",
                     search_params={"metric_type": "HAMMING", "params": {"nprobe": NPROBE}})
        time.sleep(20)
        res["serving"] = mem(m.pid)
        res["segments"] = segments(c, COLL)
        log(f"{v} restart: {res}")
        c.close()
    finally:
        m.stop()
    with open(out, "a") as f:
        f.write(json.dumps(res) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant")
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--out", default=str(ROOT / "results.jsonl"))
    ap.add_argument("--wait", type=float, default=20.0)
    ap.add_argument("--converge", type=float, default=240.0)
    ap.add_argument("--restart", action="store_true", help="re-read a finished run with a fresh Milvus")
    args = ap.parse_args()
    v, n = args.variant, args.n
    ROOT.mkdir(parents=True, exist_ok=True)
    if args.restart:
        restart(v, Path(args.out))
        return
    base = ROOT / f"run_{v}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    res: dict = {"variant": v, "n": n, "nlist": NLIST, "nprobe": NPROBE}
    if "_mmap" in v:
        mdir = base / "mmap"
        mdir.mkdir()
        enable_mmap(mdir)
        res["config"] = {"queryNode.mmapDirPath": str(mdir)}

    codes = np.random.default_rng(0).integers(0, 256, (n, DIM // 8), dtype=np.uint8)
    t0 = time.perf_counter()
    m = MilvusStandalone(base, start_timeout_s=240).start()
    res["start_s"] = round(time.perf_counter() - t0, 1)
    from pymilvus import MilvusClient

    try:
        cfg_text = (base / "server" / "configs" / "milvus.yaml").read_text()
        res["yaml_has_mmapDirPath"] = "mmapDirPath" in cfg_text
        log(f"{v}: milvus pid {m.pid} at {m.uri}; settling")
        time.sleep(args.wait)
        res["idle"] = mem(m.pid)
        log(f"idle {res['idle']}")
        c = MilvusClient(uri=m.uri, timeout=600)
        params = c.prepare_index_params()
        params.add_index("code", index_type="BIN_IVF_FLAT", metric_type="HAMMING", params={"nlist": NLIST},
                         index_name="code")
        c.create_collection(COLL, schema=schema_for(v), index_params=params, consistency_level="Strong")
        c.load_collection(COLL)
        t = time.perf_counter()
        for a in range(0, n, BATCH):
            c.insert(COLL, rows_for(v, codes, a, min(n, a + BATCH)))
        res["insert_s"] = round(time.perf_counter() - t, 1)
        res["after_insert"] = mem(m.pid)
        log(f"inserted {n} in {res['insert_s']} s; {res['after_insert']['rss'] / 2**20:.0f} MiB RSS")
        res["index_build"] = flush_and_index(c, COLL, "code", progress=False)
        log(f"indexed: {res['index_build']}")
        rng = np.random.default_rng(1)
        qs = rng.integers(0, 256, (50, DIM // 8), dtype=np.uint8)
        t = time.perf_counter()
        hits = 0
        for q in qs:
            r = c.search(COLL, data=[q.tobytes()], limit=100, search_params={"metric_type": "HAMMING",
                                                                             "params": {"nprobe": NPROBE}},
                         anns_field="code")
            hits += len(r[0])
        res["search"] = {"queries": 50, "mean_ms": round((time.perf_counter() - t) / 50 * 1000, 2),
                         "hits": hits}
        log(f"searched: {res['search']}")
        t_loaded = time.monotonic()
        time.sleep(args.wait)
        # first reading: the segments as flushed (before Milvus' own compaction merges them)
        res["serving_pre"] = mem(m.pid)
        res["segments_pre"] = segments(c, COLL)
        log(f"serving (pre-compaction) {res['serving_pre']}; segments {res['segments_pre']}")
        # then wait for the steady state: compaction done, its segment indexed and handed off
        stable, last, t_conv = 0, None, time.monotonic()
        while time.monotonic() - t_conv < args.converge:
            sg = segments(c, COLL)
            ok = (sg.get("loaded") == sg.get("persistent") and sg.get("loaded_indexed") == sg.get("loaded")
                  and sorted(sg.get("loaded_rows", [])) == sorted(sg.get("persistent_rows", [])))
            key = (sg.get("loaded"), tuple(sorted(sg.get("loaded_rows", []))))
            stable = stable + 1 if ok and key == last else 0
            last = key
            if stable >= 3 and time.monotonic() - t_loaded > 60:
                break
            time.sleep(5)
        res["converge_s"] = round(time.monotonic() - t_conv, 1)
        t = time.perf_counter()
        for q in qs:
            c.search(COLL, data=[q.tobytes()], limit=100,
                     search_params={"metric_type": "HAMMING", "params": {"nprobe": NPROBE}}, anns_field="code")
        res["search_steady_ms"] = round((time.perf_counter() - t) / 50 * 1000, 2)
        time.sleep(args.wait)
        res["serving"] = mem(m.pid)
        res["segments"] = segments(c, COLL)
        res["count"] = c.query(COLL, filter="", output_fields=["count(*)"])[0]["count(*)"]
        res["disk"] = disk(base)
        log(f"serving {res['serving']}; segments {res['segments']}; disk {res['disk']}")
        res["per_row"] = {
            "anon": round((res["serving"]["anon"] - res["idle"]["anon"]) / n, 1),
            "rss": round((res["serving"]["rss"] - res["idle"]["rss"]) / n, 1),
            "file": round((res["serving"]["file"] - res["idle"]["file"]) / n, 1),
        }
        res["per_row_pre"] = {k: round((res["serving_pre"][k] - res["idle"][k]) / n, 1) for k in ("anon", "rss", "file")}
        mm = base / "mmap"
        if mm.exists():
            res["mmap_files"] = sum(len(f) for _, _, f in os.walk(mm))
            maps = Path(f"/proc/{m.pid}/maps").read_text()
            lines = [line for line in maps.splitlines() if str(mm) in line]
            res["mmap_mappings"] = len(lines)
            res["mmap_mapped_bytes"] = sum(int(a, 16) - int(b, 16) for line in lines
                                           for b, a in [line.split()[0].split("-")])
            smaps = Path(f"/proc/{m.pid}/smaps").read_text().split("\n")
            rss_kb, cur = 0, False
            for line in smaps:
                if "-" in line.split(" ")[0] and len(line.split()) >= 5:
                    cur = str(mm) in line
                elif cur and line.startswith("Rss:"):
                    rss_kb += int(line.split()[1])
            res["mmap_resident_bytes"] = rss_kb * 1024
        c.close()
    finally:
        m.stop()
    with open(args.out, "a") as f:
        f.write(json.dumps(res) + "\n")
    print(json.dumps(res["per_row"]))


if __name__ == "__main__":
    main()
