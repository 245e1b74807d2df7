"""`bitrag migrate shadow`: the same queries against the legacy store and bitrag, side by side,
before anyone switches. Writes a report (markdown + JSON + a PNG) with:

  overlap@k      |bitrag top-k ∩ legacy top-k| / k, per query (mean, share of queries at 1.0)
  recall@k       of bitrag against the legacy top-k: |∩| / |legacy top-k| (differs from overlap
                 when the legacy store returns fewer than k, e.g. under a filter)
  top-1 agreement, NDCG@k of both against qrels (when given), score deltas on the common hits
                 (bitrag's cosine minus the legacy score converted to a cosine, see sources.py)
  p50/p99 latency of both (wall time in this process: a gRPC call for bitrag, the store's own
                 client for the legacy store), bitrag's server-side p50 and fallback rate
  resident memory of both processes (--bitrag-pid / --legacy-pid; process trees)
  a go/no-go line: GO when mean overlap@k >= --target-overlap and, with qrels, bitrag's NDCG@k is
                 at most --max-ndcg-drop below the legacy store's.

Queries: a file of vectors (.npy, ids from --query-ids), of texts (.jsonl with "text", or .txt one
a line; embedded here with the local model, which must be the one that made the legacy vectors),
JSONL with "vector", or --sample N: vectors of N random source rows as pseudo-queries (each row
then finds itself first in both systems; useful without a query log).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bench.common import ndcg_at_k
from .sources import Source, SourceOptions
from .verify import sample_keys


@dataclass
class ShadowOptions(SourceOptions):
    queries: Path | None = None
    query_ids: Path | None = None
    sample: int = 0
    qrels: Path | None = None
    k: int = 10
    mode: str = "AUTO"
    filter: str = ""
    target_overlap: float = 0.9
    max_ndcg_drop: float = 0.01
    embed_model: str = ""  # sentence-transformers directory for text queries ("" = the local MiniLM package)
    bitrag_pid: int = 0
    legacy_pid: int = 0
    warmup: int = 5
    out: Path | None = None
    name: str = ""
    plots: bool = True
    progress: bool = True
    label: str = ""  # the legacy store's name in the report ("" = its kind)
    command: str = ""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- queries -------------------------------------------------------------------------------------


def _ids_file(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            d = json.loads(line)
            out.append(str(d.get("_id", d.get("id"))))
        else:
            out.append(line.strip())
    return out


def _embed(texts: list[str], model_dir: str) -> np.ndarray:
    from ..embed import LocalEmbedder

    return LocalEmbedder(model_dir).embed(texts)


def load_queries(opts: ShadowOptions, src: Source) -> tuple[list[str], np.ndarray]:
    """(query ids, vectors [Q, d] float32)."""
    if opts.sample:
        keys = sample_keys(src, opts.sample, seed=1)
        b = src.fetch(keys)
        return [f"row:{i}" for i in b.ids], b.vectors
    if opts.queries is None:
        raise ValueError("give --queries FILE or --sample N")
    p = Path(opts.queries)
    if p.suffix == ".npy":
        v = np.asarray(np.load(p), dtype=np.float32)
        ids = _ids_file(Path(opts.query_ids)) if opts.query_ids else [str(i) for i in range(len(v))]
        if len(ids) != len(v):
            raise ValueError(f"--query-ids: {len(ids)} ids for {len(v)} query vectors")
        return ids, v
    rows: list[dict[str, Any]]
    if p.suffix == ".jsonl":
        rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rows = [{"text": line} for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [str(r.get("_id", r.get("id", i))) for i, r in enumerate(rows)]
    if rows and all("vector" in r for r in rows):
        return ids, np.asarray([r["vector"] for r in rows], dtype=np.float32)
    texts = [str(r.get("text", "")) for r in rows]
    return ids, _embed(texts, opts.embed_model)


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if len(parts) < 3 or (n == 0 and not parts[2].strip().lstrip("-").isdigit()):
            continue
        out.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return out


def _docs(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def memory(pid: int) -> dict[str, Any] | None:
    """Resident memory of a process tree (bytes), or None without a pid."""
    if not pid:
        return None
    from ..bench.common import process_memory

    m = process_memory(pid)
    return {"pid": pid, "rss_bytes": m["rss"], "anon_bytes": m["anon"], "processes": [p["name"] for p in m["processes"]]}


def _pct(a: list[float], q: float) -> float:
    return round(float(np.percentile(a, q)), 3) if a else 0.0


# ---- the run -------------------------------------------------------------------------------------


def run_shadow(opts: ShadowOptions) -> dict[str, Any]:
    from bitrag import Client
    from tqdm import tqdm

    src = opts.open()
    qrels = load_qrels(opts.qrels) if opts.qrels else {}
    try:
        qids, qv = load_queries(opts, src)
        if qrels:
            keep = [i for i, q in enumerate(qids) if q in qrels]
            qids, qv = [qids[i] for i in keep], qv[keep]
        if not qids:
            raise ValueError("no queries to run (none of the query ids is in the qrels?)")
        k = opts.k
        per: list[dict[str, Any]] = []
        with Client(opts.target, timeout=120) as client:
            for v in qv[: opts.warmup]:
                src.search(v, k, opts.filter)
                client.search(opts.collection, v, top_k=k, filter=opts.filter, mode=opts.mode)
            for qid, v in tqdm(list(zip(qids, qv)), desc="shadow", unit="q", disable=not opts.progress, file=sys.stderr):
                t0 = time.perf_counter()
                legacy = src.search(v, k, opts.filter)
                t1 = time.perf_counter()
                res = client.search(opts.collection, v, top_k=k, filter=opts.filter, mode=opts.mode)
                t2 = time.perf_counter()
                per.append({
                    "id": qid, "legacy_ms": (t1 - t0) * 1e3, "bitrag_ms": (t2 - t1) * 1e3,
                    "server_ms": res.diagnostics.total_us / 1e3, "path": res.diagnostics.path,
                    "legacy": [(h.id, h.document_id, h.similarity) for h in legacy],
                    "bitrag": [(h.chunk_id, h.document_id, h.score) for h in res.hits],
                })
            mem = {"bitrag": memory(opts.bitrag_pid), "legacy": memory(opts.legacy_pid)}
        doc = _report(opts, src, per, qrels, mem)
    finally:
        src.close()
    if opts.out is not None:
        write_report(doc, Path(opts.out), opts.name or f"shadow_{opts.collection}", plots=opts.plots, per=per)
    return doc


def _report(opts: ShadowOptions, src: Source, per: list[dict[str, Any]], qrels: dict[str, dict[str, int]],
            mem: dict[str, Any]) -> dict[str, Any]:
    k = opts.k
    overlap, recall, top1, deltas = [], [], [], []
    nd_b, nd_l = [], []
    for q in per:
        lset = {x[0] for x in q["legacy"][:k]}
        bset = {x[0] for x in q["bitrag"][:k]}
        inter = lset & bset
        overlap.append(len(inter) / k)
        recall.append(len(inter) / len(lset) if lset else 1.0)
        top1.append(bool(q["legacy"]) and bool(q["bitrag"]) and q["legacy"][0][0] == q["bitrag"][0][0])
        lsim = {x[0]: x[2] for x in q["legacy"]}
        deltas += [s - lsim[c] for c, _d, s in q["bitrag"] if c in lsim]
        q["overlap"] = overlap[-1]
        if qrels:
            rel = qrels.get(q["id"], {})
            nd_b.append(ndcg_at_k(_docs([x[1] for x in q["bitrag"]]), rel, k))
            nd_l.append(ndcg_at_k(_docs([x[1] for x in q["legacy"]]), rel, k))
    paths = [q["path"] for q in per]
    legacy_name = opts.label or src.info.kind
    doc: dict[str, Any] = {
        "report": "shadow", "legacy_store": {**asdict(src.info), "label": legacy_name},
        "collection": opts.collection, "mode": opts.mode, "k": k, "queries": len(per),
        "query_source": f"--sample {opts.sample}" if opts.sample else str(opts.queries), "filter": opts.filter,
        "qrels": str(opts.qrels) if opts.qrels else None, "command": opts.command,
        "overlap@k": round(float(np.mean(overlap)), 4),
        "overlap@k_full_share": round(float(np.mean([o == 1.0 for o in overlap])), 4),
        "recall@k_vs_legacy": round(float(np.mean(recall)), 4),
        "top1_agreement": round(float(np.mean(top1)), 4),
        "score_delta": {
            "common_hits": len(deltas),
            "mean": round(float(np.mean(deltas)), 6) if deltas else None,
            "mean_abs": round(float(np.mean(np.abs(deltas))), 6) if deltas else None,
            "max_abs": round(float(np.max(np.abs(deltas))), 6) if deltas else None,
        },
        "latency_ms": {
            "legacy": {"p50": _pct([q["legacy_ms"] for q in per], 50), "p99": _pct([q["legacy_ms"] for q in per], 99)},
            "bitrag": {"p50": _pct([q["bitrag_ms"] for q in per], 50), "p99": _pct([q["bitrag_ms"] for q in per], 99),
                       "server_p50": _pct([q["server_ms"] for q in per], 50)},
        },
        "bitrag_fallback_rate": round(float(np.mean([p.startswith("FALLBACK") for p in paths])), 4),
        "bitrag_paths": {p: paths.count(p) for p in sorted(set(paths))},
        "memory": mem,
        "target_overlap": opts.target_overlap,
    }
    if qrels:
        doc["ndcg@k"] = {"bitrag": round(float(np.mean(nd_b)), 4), "legacy": round(float(np.mean(nd_l)), 4)}
        doc["max_ndcg_drop"] = opts.max_ndcg_drop
    reasons = []
    if doc["overlap@k"] < opts.target_overlap:
        reasons.append(f"overlap@{k} {doc['overlap@k']:.3f} < target {opts.target_overlap:.3f}")
    if qrels and doc["ndcg@k"]["bitrag"] < doc["ndcg@k"]["legacy"] - opts.max_ndcg_drop:
        reasons.append(f"NDCG@{k} {doc['ndcg@k']['bitrag']:.3f} is more than {opts.max_ndcg_drop} below the legacy "
                       f"store's {doc['ndcg@k']['legacy']:.3f}")
    doc["go"] = not reasons
    doc["verdict"] = ("GO: " + f"overlap@{k} {doc['overlap@k']:.3f} >= {opts.target_overlap:.3f}"
                      + (f", NDCG@{k} {doc['ndcg@k']['bitrag']:.3f} vs {doc['ndcg@k']['legacy']:.3f}" if qrels else "")
                      ) if not reasons else "NO-GO: " + "; ".join(reasons)
    return doc


# ---- report files ----------------------------------------------------------------------------------


def _mib(m: dict[str, Any] | None) -> str:
    return f"{m['rss_bytes'] / 2**20:.0f} MiB" if m else "–"


def markdown(doc: dict[str, Any]) -> str:
    k = doc["k"]
    ls = doc["legacy_store"]
    lat = doc["latency_ms"]
    lines = [
        f"# Shadow comparison: {ls['label']} vs bitrag `{doc['collection']}`",
        "",
        f"**{doc['verdict']}**",
        "",
        f"Legacy store: {ls['kind']} `{ls['location']}` collection `{ls['collection']}` ({ls['rows']:,} rows, "
        f"dimension {ls['dimension']}, metric {ls['metric']}). bitrag mode {doc['mode']}. "
        f"{doc['queries']} queries from {doc['query_source']}" + (f", filter `{doc['filter']}`" if doc["filter"] else "")
        + (f", qrels {doc['qrels']}" if doc["qrels"] else "") + ".",
        "",
        "| measure | legacy | bitrag |",
        "|---|---|---|",
        f"| overlap@{k} (bitrag vs legacy top-{k}) | | {doc['overlap@k']:.4f} ({doc['overlap@k_full_share']:.1%} of queries identical) |",
        f"| recall@{k} of the legacy top-{k} | | {doc['recall@k_vs_legacy']:.4f} |",
        f"| top-1 agreement | | {doc['top1_agreement']:.4f} |",
    ]
    if "ndcg@k" in doc:
        lines.append(f"| NDCG@{k} (qrels) | {doc['ndcg@k']['legacy']:.4f} | {doc['ndcg@k']['bitrag']:.4f} |")
    sd = doc["score_delta"]
    if sd["common_hits"]:
        lines.append(f"| score delta on common hits (bitrag − legacy, as cosine) | | mean {sd['mean']:+.2e}, "
                     f"max abs {sd['max_abs']:.2e} ({sd['common_hits']} hits) |")
    lines += [
        (f"| latency p50 / p99 (client side) | {lat['legacy']['p50']:.2f} / {lat['legacy']['p99']:.2f} ms | "
         f"{lat['bitrag']['p50']:.2f} / {lat['bitrag']['p99']:.2f} ms (server p50 {lat['bitrag']['server_p50']:.2f} ms) |"),
        f"| resident memory (process tree) | {_mib(doc['memory']['legacy'])} | {_mib(doc['memory']['bitrag'])} |",
        f"| bitrag fallback rate | | {doc['bitrag_fallback_rate']:.1%} {doc['bitrag_paths']} |",
        "",
    ]
    if doc.get("command"):
        lines += ["Reproduce:", "", "```sh", doc["command"], "```", ""]
    return "\n".join(lines)


def write_report(doc: dict[str, Any], out: Path, stem: str, *, plots: bool, per: list[dict[str, Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    md = markdown(doc)
    if plots:
        try:
            _plot(doc, per, out / f"{stem}.png")
            md += f"\n![overlap and latency]({stem}.png)\n"
        except ImportError:
            _log("matplotlib is not installed: no plot")
    (out / f"{stem}.md").write_text(md)
    doc["files"] = [str(out / f"{stem}.{x}") for x in ("md", "json", "png")]


def _plot(doc: dict[str, Any], per: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = doc["k"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    ov = [q["overlap"] for q in per]
    a.hist(ov, bins=(np.arange(k + 2) - 0.5) / k, color="#4c72b0")  # one bar per value 0, 1/k, ..., 1
    a.set_xlabel(f"overlap@{k} with the legacy top-{k}")
    a.set_ylabel("queries")
    a.set_yscale("log")
    a.set_title(f"agreement (mean {doc['overlap@k']:.3f})")
    for key, label in (("legacy_ms", doc["legacy_store"]["label"]), ("bitrag_ms", "bitrag")):
        x = np.sort([q[key] for q in per])
        b.plot(x, np.arange(1, len(x) + 1) / len(x), label=label)
    b.set_xscale("log")
    b.set_xlabel("latency, ms (client side)")
    b.set_ylabel("share of queries")
    b.legend()
    b.set_title("latency CDF")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
