"""Markdown reports from the benchmark JSON (the JSON is the record; markdown and plots are
re-rendered from it, `bitrag bench plots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import log, write_json


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _b(n: Any) -> str:
    if not n:
        return "–"
    n = float(n)
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.0f} MiB"
    return f"{n / 2**10:.0f} KiB"


def _x(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


# ---- quality ---------------------------------------------------------------------------------------

QUALITY_ORDER = ["float32_exact", "hamming_only", "rescored_x1", "rescored_x2", "rescored_x4", "rescored_x8",
                 "rescored_x16", "auto"]


def quality_md(doc: dict) -> str:
    q = doc
    lines = [
        f"# Retrieval quality: {q['dataset']} / {q['embeddings']} / Milvus {q['backend']}",
        "",
        f"{q['docs']:,} docs x {q['dim']} dims, {q['queries']} queries ({'with' if q['qrels'] else 'no'} qrels), "
        f"k = {q['k']}, Hamming pool factor {q['hamming_pool_factor']}; index {q['index']['type']} "
        f"{q['index'].get('build_params') or ''} {q['index'].get('search_params') or ''}.",
        f"Ingest (gRPC, raw vectors): {q['ingest']['seconds']} s, {q['ingest']['rows_per_s']:,} rows/s. "
        f"Gate: {q['calibration']['source']} calibration on {q['calibration']['samples']} pseudo-queries, threshold "
        f"{q['calibration']['threshold']} for target recall {q['calibration']['target_recall']}.",
        "",
        "Recall@k is against the exact float32 top-k over the same vectors (numpy); @1 and @10 from k=10 "
        "searches, @100 from k=100 searches in the same mode. Retention: NDCG@10 / NDCG@10 of float32 exact "
        "(with qrels), else the sum of the true cosines of the returned top 10 over that of the exact top 10. "
        "Latency: client-side wall time of the gRPC Search call, concurrency 1.",
        "",
        "| mode | NDCG@10 | recall@1 | recall@10 | recall@100 | retention | fallback rate | p50 ms | p95 ms | server p50 ms | float rows p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in [m for m in QUALITY_ORDER if m in q["modes"]] + [m for m in q["modes"] if m not in QUALITY_ORDER]:
        m = q["modes"][name]
        lines.append(
            f"| {m.get('label', name)} | {_f(m.get('ndcg@10'), 4)} | {_f(m.get('recall@1'), 4)} | "
            f"{_f(m.get('recall@10'), 4)} | {_f(m.get('recall@100'), 4)} | {_f(m.get('retention'), 4)} | "
            f"{_pct(m.get('fallback_rate'))} | {_f(m.get('p50_ms'), 2)} | {_f(m.get('p95_ms'), 2)} | "
            f"{_f(m.get('server_p50_ms'), 2)} | {_f(m.get('float_rows_p50'))} |"
        )
    ref = q.get("reference", {})
    if ref:
        lines += ["", "Reference (numpy over the same vectors): " + ", ".join(f"{k} {v}" for k, v in ref.items())]
    lines += ["", f"Measured {q['environment']['date']} on {q['environment']['machine']}, git {q['environment']['git']}. "
              f"Command: `{q.get('command', '')}`", ""]
    if q.get("plots"):
        lines += [f"![recall vs latency]({Path(p).name})" for p in q["plots"]] + [""]
    return "\n".join(lines)


def write_quality(doc: dict, out: Path, stem: str, plots: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if plots:
        from . import plots as P

        try:
            doc["plots"] = [str(p.name) for p in P.quality_plots(doc, out, stem)]
        except Exception as exc:  # noqa: BLE001 - a missing plot must not lose the figures
            log(f"plots failed: {exc}")
    write_json(out / f"{stem}.json", doc)
    (out / f"{stem}.md").write_text(quality_md(doc))


# ---- scale -----------------------------------------------------------------------------------------


def _mem_row(label: str, m: dict) -> str:
    return f"| {label} | {_b(m.get('rss'))} | {_b(m.get('anon'))} | {_b(m.get('file'))} |"


def scale_entry_md(e: dict) -> list[str]:
    from .scale import bitrag_memory

    n = e["n"]
    lines = [f"## N = {n:,} on Milvus {e['backend']}", ""]
    d = e["data"]
    lines += [
        f"Data: {n:,} x {d['dim']} {'real' if d.get('real') else 'synthetic'} vectors ({d['generator']}, "
        f"fingerprint {d['fingerprint']}); {d['queries']} queries "
        f"{'of the same corpus, embedded by the same model' if d.get('real') else 'from the same model'}; "
        f"mean cosine of the exact top 1 / top 10: "
        f"{d['top1_cos_mean']} / {d['top10_cos_mean']}. Ground truth: exact top-{d['ground_truth']['k']} by a "
        f"blocked scan of the float file ({d['ground_truth']['blocked_scan_s']} s).",
        f"Index: {e['index']['type']} {e['index']['build_params'] or ''} {e['index']['search_params'] or ''}. "
        f"Ingest through gRPC: {e['ingest'].get('rows_per_s', 0):,} rows/s ({e['ingest'].get('seconds')} s"
        f"{', resumed' if e['ingest'].get('resumed') else ''}). Index build after the last insert: "
        f"{_index_build(e)}. Gate: {e['calibration']['source']} calibration, {e['calibration']['samples']} samples, "
        f"threshold {e['calibration']['threshold']} (target {e['calibration']['target_recall']}), "
        f"{e['calibration']['seconds']} s.",
    ]
    seg = e.get("segments")
    if seg and seg.get("persistent_rows"):
        lines.append(f"Milvus segments: {seg.get('persistent')} sealed ({', '.join(f'{r:,}' for r in seg['persistent_rows'])} rows).")
    lines += ["", "### bitrag search (gRPC end to end, k = 10, concurrency 1)", "",
              "| mode | recall@1 | recall@10 | p50 ms | p95 ms | p99 ms | QPS | fallback rate | float rows p50 | server p50 ms |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    order = ["hamming_only"] + sorted((k for k in e["modes"] if k.startswith("rescored_x")),
                                      key=lambda k: int(k.removeprefix("rescored_x"))) + ["auto", "exact"]
    for name in order:
        m = e["modes"].get(name)
        if not m:
            continue
        label = {"hamming_only": "Hamming only (BINARY_ONLY)", "auto": "**AUTO** (default oversample, gate)",
                 "exact": f"EXACT ({m['n']} queries)"}.get(name, f"RESCORED x{name.removeprefix('rescored_x')}")
        lines.append(
            f"| {label} | {_f(m.get('recall@1'), 4)} | {_f(m.get('recall@10'), 4)} | {_f(m['p50_ms'], 2)} | "
            f"{_f(m['p95_ms'], 2)} | {_f(m['p99_ms'], 2)} | {_f(m['qps'], 1)} | "
            f"{_pct(m.get('fallback_rate')) if name == 'auto' else '–'} | {_f(m.get('float_rows_p50'))} | "
            f"{_f(m.get('server_p50_ms'), 2)} |")
    lines += ["", "### Concurrency (AUTO)", "", "| concurrency | p50 ms | p95 ms | p99 ms | QPS | recall@10 |",
              "|---|---|---|---|---|---|"]
    for c, v in e.get("concurrency", {}).items():
        m = v["auto"]
        lines.append(f"| {c[1:]} | {_f(m['p50_ms'], 2)} | {_f(m['p95_ms'], 2)} | {_f(m['p99_ms'], 2)} | "
                     f"{_f(m['qps'], 1)} | {_f(m.get('recall@10'), 4)} |")

    lines += _plan_and_time_md(e)

    # baselines + ratios
    r = e.get("ratios", {})
    bm = bitrag_memory(e)
    lines += ["", "### Baselines, same run (ratios: baseline / bitrag AUTO; > 1 = bitrag lower)", "",
              "| system | recall@10 | p50 ms | p99 ms | QPS c1 | QPS high c | resident memory | p50 ratio | p99 ratio | "
              "QPS ratio (high c) | memory ratio (RSS) | memory ratio (private) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    auto = e["modes"]["auto"]
    hi = max((k for k in e.get("concurrency", {}) if k != "c1"), key=lambda k: int(k[1:]), default=None)
    hq = e["concurrency"][hi]["auto"]["qps"] if hi else None
    lines.append(f"| **bitrag AUTO** | {_f(auto.get('recall@10'), 4)} | {_f(auto['p50_ms'], 2)} | {_f(auto['p99_ms'], 2)} | "
                 f"{_f(auto['qps'], 1)} | {_f(hq, 1)} | {_b(bm['rss'])} (private {_b(bm['anon'])}) | 1 | 1 | 1 | 1 | 1 |")
    for name, b in e.get("baselines", {}).items():
        rr = r.get(name, {})
        if "skipped" in b:
            est = b.get("estimate", {})
            lines.append(f"| {b.get('name', name)} | – | – | – | – | – | needs ≥ {_b(est.get('total_bytes'))} "
                         f"({b['skipped']}) | – | – | – | {_x(rr.get('memory_needed_x'))} (needed) | – |")
            continue
        c1 = b["runs"]["c1"] if b.get("runs") else b
        hqb = b["runs"][hi]["qps"] if b.get("runs") and hi in b["runs"] else None
        mem = b.get("memory", {})
        mem_s = _b(mem.get("rss")) if mem.get("rss") else ("shares bitrag's Milvus" if name.startswith(("st_", "hamming")) else "–")
        lines.append(
            f"| {b.get('name', name)} | {_f(c1.get('recall@10'), 4)} | {_f(c1.get('p50_ms'), 2)} | "
            f"{_f(c1.get('p99_ms'), 2)} | {_f(c1.get('qps'), 1)} | {_f(hqb, 1)} | {mem_s} | "
            f"{_x(rr.get('p50_latency_x'))} | {_x(rr.get('p99_latency_x'))} | {_x(rr.get(f'qps_{hi}_x'))} | "
            f"{_x(rr.get('memory_rss_x'))} | {_x(rr.get('memory_anon_x'))} |")
    f32 = e.get("baselines", {}).get("float32_milvus", {})
    if f32.get("ingest_rows_per_s"):
        lines.append("")
        lines.append(f"float32 Milvus: ingest {f32['ingest_rows_per_s']:,} rows/s, index build + load "
                     f"{f32.get('index_build_s')} s, index {f32.get('index')}, disk {_b(f32.get('disk_bytes'))}.")
    est = e.get("float32_in_ram_estimate", {})
    lines += ["", f"A float32 in-RAM index of the same data would need: {est.get('note', '')} "
              f"({_b(est.get('total_bytes'))})."]

    # memory
    lines += ["", "### Memory (resident; private = anonymous memory; file = pages of memory-mapped files, e.g. the "
              "float32 file, page cache the kernel reclaims)", ""]
    if e.get("server_args"):
        lines += [f"bitrag server: `bitrag serve {' '.join(e['server_args'])}`"
                  + (" (vectors only: no embedding model loaded)." if "none" in e["server_args"] else "."), ""]
    lines += ["| snapshot / process | RSS | private | file-backed |", "|---|---|---|---|"]
    for label, snap in e.get("memory", {}).items():
        for part, m in snap.items():
            names = ", ".join(sorted({p["name"] for p in m.get("processes", [])}))
            lines.append(_mem_row(f"{label}: {part} ({names})", m))
    disk = e.get("disk", {})
    lines += ["", "### Disk", "", "| what | bytes |", "|---|---|"]
    for k, v in disk.items():
        lines.append(f"| {k} | {_b(v)} |")
    if f32.get("disk_bytes"):
        lines.append(f"| float32 Milvus data dir | {_b(f32['disk_bytes'])} |")

    t = e.get("targets")
    if t:
        lines += ["", f"### Targets at N = {n:,} (goals, reported not asserted; they apply to Milvus standalone"
                  f"{'' if t.get('applies') else ' — this run is on ' + e['backend']})", "",
                  "| goal | target | measured | met |", "|---|---|---|---|"]
        for key, v in t.items():
            if not isinstance(v, dict):
                continue
            lines.append(f"| {key} | {v['goal']} | {_f(v.get('measured'), 4)} | "
                         f"{'–' if v.get('met') is None else ('yes' if v['met'] else '**no**')} |")
    tm = e.get("timings", {})
    lines += ["", "### Time taken and how to re-run", "",
              "Phases (s): " + ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in tm.items()) + ".",
              f"Command: `{e.get('command') or 'bitrag bench scale --n ' + str(n)}`. Cached vectors and ground truth "
              f"are reused from the work dir; an interrupted ingest resumes with `--keep` (the collection is kept).",
              f"Measured {e['environment']['date']} on {e['environment']['machine']}, git {e['environment']['git']}.", ""]
    return lines


def _plan_and_time_md(e: dict) -> list[str]:
    """The measured search plan, what one Milvus search costs, and where AUTO's time goes."""
    lines: list[str] = []
    p = dict(e.get("plan") or {})
    for key in ("pool_recall", "nprobe_recall"):  # protobuf maps arrive unordered
        p[key] = dict(sorted((p.get(key) or {}).items(), key=lambda kv: int(kv[0])))
    if p:
        c = e.get("collection", {})
        lines += ["", "### The search plan (measured at calibration)", "",
                  f"Middle tier {c.get('tier', '?')} ({_b(c.get('bytes_in_ram_tier'))} in RAM beside "
                  f"{_b(c.get('bytes_in_ram_codes'))} of sign codes). Pool {p.get('pool')} codes "
                  f"(candidate recall {_f(p.get('candidate_recall'), 4)}) from {p.get('source', 'milvus')} (one Milvus "
                  f"search at that pool {_f((p.get('milvus_pool_us') or 0) / 1000, 2)} ms, the scan of the codes in RAM "
                  f"+ its liveness check (a Milvus query before 3e09961, live.u8 since) {_f((p.get('ram_pool_us') or 0) / 1000, 2)} ms), "
                  f"nprobe {p.get('nprobe') or 'index default'}, "
                  f"route {p.get('route')}; exact scan {_f((p.get('exact_us') or 0) / 1000, 2)} ms, binary path "
                  f"{_f((p.get('binary_us') or 0) / 1000, 2)} ms, in-RAM code pass {_f((p.get('scan_us') or 0) / 1000, 2)} ms "
                  f"(server medians); calibration queries below the threshold after the pool: "
                  f"{_pct(p.get('fallback_share'))}.",
                  "", "| pool | " + " | ".join(p.get("pool_recall", {})) + " |",
                  "|---|" + "---|" * len(p.get("pool_recall", {})),
                  "| candidate recall | " + " | ".join(_f(v, 4) for v in p.get("pool_recall", {}).values()) + " |"]
        if p.get("nprobe_recall"):
            lines += ["", "| nprobe (at the pool) | " + " | ".join(p["nprobe_recall"]) + " |",
                      "|---|" + "---|" * len(p["nprobe_recall"]),
                      "| candidate recall | " + " | ".join(_f(v, 4) for v in p["nprobe_recall"].values()) + " |"]
    cost = e.get("milvus_search_cost", {}).get("rows")
    if cost:
        lines += ["", "### One Milvus search of the binary collection (p50 of "
                  f"{e['milvus_search_cost'].get('repeat')} queries; pymilvus from this process)", "",
                  "| nprobe | limit | MilvusClient.search ms | bare Search RPC ms | Milvus proxy ms | wire + gRPC ms | "
                  "decode: numpy ms | decode: pymilvus dicts ms |", "|---|---|---|---|---|---|---|---|"]
        for row in cost:
            lines.append(f"| {row['nprobe'] or '–'} | {row['pool']} | {_f(row['milvusclient_p50_ms'], 2)} | "
                         f"{_f(row['bare_rpc_p50_ms'], 2)} | {_f(row.get('milvus_proxy_mean_ms'), 2)} | "
                         f"{_f(row.get('wire_grpc_ms'), 2)} | {_f(row['decode_numpy_p50_ms'], 3)} | "
                         f"{_f(row['decode_pymilvus_p50_ms'], 2)} |")
        lines.append(f"\nBare Milvus search (limit 10 at the plan's nprobe, MilvusClient): "
                     f"{_f(e.get('bare_milvus_search_p50_ms'), 2)} ms.")
    auto = e.get("modes", {}).get("auto", {})
    if auto.get("server_stage_p50_us"):
        lines += ["", "### Where AUTO's time goes (concurrency 1, p50 per stage on the server, and outside it)", "",
                  "| " + " | ".join(auto["server_stage_p50_us"]) + " | server total | client - server (gRPC, SDK) |",
                  "|" + "---|" * (len(auto["server_stage_p50_us"]) + 2),
                  "| " + " | ".join(_f(v / 1000, 2) for v in auto["server_stage_p50_us"].values()) +
                  f" | {_f(auto.get('server_p50_ms'), 2)} | {_f(auto.get('client_minus_server_p50_ms'), 2)} |", "",
                  f"Milvus calls per query: mean {_f(auto.get('milvus_calls_mean'), 3)}; queries with a second call "
                  f"{_pct(auto.get('second_milvus_call_share'))}; float rows read p50 {_f(auto.get('float_rows_p50'))}; "
                  f"candidates scored by the middle tier p50 {_f(auto.get('tier_scored_p50'))}; paths {auto.get('paths')}."]
    cc = e.get("concurrency", {})
    if cc:
        lines += ["", "QPS per core (2 cores): " + ", ".join(
            f"c{k[1:]}: {_f(v['auto']['qps'] / 2, 1)}" for k, v in cc.items()) + "."]
    return lines


def _index_build(e: dict) -> str:
    ib = e.get("index_build", {})
    if "note" in ib:
        return ib["note"]
    return f"flush {ib.get('flush_s')} s + indexing {ib.get('index_wait_s')} s + load {ib.get('load_s')} s"


def scale_md(doc: dict) -> str:
    from .scale import bitrag_memory

    runs = doc["runs"]
    ns = sorted(runs, key=int)
    lines = [f"# Scale benchmark: {doc['name']}", "",
             "Every figure of an N comes from one run, in which the baselines ran too. Search latency is the "
             "client-side wall time of one gRPC Search (SDK, loopback), k = 10; recall@10 is against the exact "
             "float32 top 10 over the same vectors. Ratios are baseline / bitrag AUTO (> 1: bitrag is lower).", "",
             "| N | backend | AUTO recall@10 | AUTO p50 / p99 ms | fallback | QPS (c1 / high) | bitrag RSS (server + Milvus) "
             "| float32 Milvus RSS | memory ratio | ingest rows/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n in ns:
        e = runs[n]
        a = e["modes"]["auto"]
        hi = max((k for k in e.get("concurrency", {}) if k != "c1"), key=lambda k: int(k[1:]), default=None)
        f32 = e.get("baselines", {}).get("float32_milvus", {})
        f32m = _b(f32.get("memory", {}).get("rss")) if f32.get("memory") else (
            f"needs ≥ {_b(f32.get('estimate', {}).get('total_bytes'))}" if f32 else "–")
        ratio = e.get("ratios", {}).get("float32_milvus", {})
        rx = ratio.get("memory_rss_x") or ratio.get("memory_needed_x")
        lines.append(
            f"| {int(n):,} | {e['backend']} | {_f(a.get('recall@10'), 4)} | {_f(a['p50_ms'], 2)} / {_f(a['p99_ms'], 2)} | "
            f"{_pct(a.get('fallback_rate'))} | {_f(a['qps'], 1)} / {_f(e['concurrency'][hi]['auto']['qps'], 1) if hi else '–'} | "
            f"{_b(bitrag_memory(e)['rss'])} | {f32m} | {_x(rx)} | {_f(e['ingest'].get('rows_per_s'))} |")
    lines.append("")
    for p in doc.get("plots", []):
        lines.append(f"![{p}]({p})")
    lines.append("")
    for n in ns:
        lines += scale_entry_md(runs[n])
    return "\n".join(lines)


def write_scale(doc: dict, out: Path, plots: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if plots:
        from . import plots as P

        try:
            doc["plots"] = [p.name for p in P.scale_plots(doc, out)]
        except Exception as exc:  # noqa: BLE001 - a missing plot must not lose the figures
            log(f"plots failed: {exc}")
    write_json(out / f"{doc['name']}.json", doc)
    (out / f"{doc['name']}.md").write_text(scale_md(doc))
