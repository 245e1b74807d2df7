"""PNG plots from the benchmark JSON (matplotlib, Agg backend: no display needed).

- recall@10 versus p50 latency per mode (quality and scale reports; one panel per N);
- latency versus N (scale): bitrag AUTO p50/p99, RESCORED, Hamming only, and the baselines;
- memory versus N (scale): bitrag (server + Milvus) resident and private, the float32 Milvus
  baseline measured, and what float32 in RAM needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log(ax, which: str = "x") -> None:
    """Log scale with plain numbers as tick labels (2, 5, 10 ms rather than 2x10^0)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    fmt = FuncFormatter(lambda v, _: f"{v:g}" if v < 1e5 else f"{v:.0e}")
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        (ax.set_xscale if name == "x" else ax.set_yscale)("log")
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _rescored(modes: dict[str, Any]) -> list[tuple[int, dict]]:
    out = []
    for name, m in modes.items():
        if name.startswith("rescored_x"):
            out.append((int(name.removeprefix("rescored_x")), m))
    return sorted(out)


def recall_latency_quality(doc: dict, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    modes = doc["modes"]
    rs = _rescored(modes)
    if rs:
        ax.plot([m["p50_ms"] for _, m in rs], [m["recall@10"] for _, m in rs], "o-", color="tab:blue", label="RESCORED")
        for o, m in rs:
            ax.annotate(f"x{o}", (m["p50_ms"], m["recall@10"]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    style = {"hamming_only": ("s", "tab:gray", "Hamming only"), "auto": ("*", "tab:red", "AUTO"),
             "float32_exact": ("D", "black", "float32 exact (EXACT)")}
    for key, (mk, col, label) in style.items():
        if key in modes and modes[key].get("p50_ms") is not None:
            ax.scatter([modes[key]["p50_ms"]], [modes[key]["recall@10"]], marker=mk, s=90 if mk == "*" else 45,
                       color=col, label=label, zorder=3)
    _plain_log(ax, "x")
    ax.set_xlabel("p50 latency, ms (gRPC, end to end, concurrency 1)")
    ax.set_ylabel("recall@10 vs float32 exact")
    ax.set_title(f"{doc['dataset']} / {doc['embeddings']} / Milvus {doc['backend']}: recall vs latency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def recall_latency_scale(doc: dict, path: Path) -> Path:
    plt = _plt()
    runs = doc["runs"]
    ns = sorted(runs, key=int)
    fig, axes = plt.subplots(1, len(ns), figsize=(6.2 * len(ns), 4.6), squeeze=False)
    for ax, n in zip(axes[0], ns):
        e = runs[n]
        modes = e["modes"]
        rs = _rescored(modes)
        if rs:
            ax.plot([m["p50_ms"] for _, m in rs], [m["recall@10"] for _, m in rs], "o-", color="tab:blue",
                    label="bitrag RESCORED")
            for o, m in rs:
                ax.annotate(f"x{o}", (m["p50_ms"], m["recall@10"]), textcoords="offset points", xytext=(4, -10),
                            fontsize=8)
        pts = [("auto", modes.get("auto"), "*", "tab:red", "bitrag AUTO"),
               ("exact", modes.get("exact"), "D", "black", "bitrag EXACT"),
               ("hamming", modes.get("hamming_only"), "s", "tab:gray", "Hamming only")]
        b = e.get("baselines", {})
        for key, val in b.items():
            if key.startswith("st_rescore"):
                pts.append((key, val, "^", "tab:green", f"ST-style rescoring {key.removeprefix('st_rescore_')}"))
        f = b.get("float32_milvus", {})
        if f.get("runs"):
            pts.append(("f32", f["runs"]["c1"], "P", "tab:purple", f["name"]))
        if b.get("numpy_exact", {}).get("p50_ms"):
            pts.append(("np", b["numpy_exact"], "X", "tab:brown", "numpy brute force"))
        for _, m, mk, col, label in pts:
            if m and m.get("p50_ms") is not None and m.get("recall@10") is not None:
                ax.scatter([m["p50_ms"]], [m["recall@10"]], marker=mk, s=110 if mk == "*" else 50, color=col,
                           label=label, zorder=3)
        _plain_log(ax, "x")
        ax.set_xlabel("p50 latency, ms (concurrency 1)")
        ax.set_ylabel("recall@10 vs exact")
        ax.set_title(f"N = {int(n):,} ({e['backend']})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _series(runs: dict, ns: list[str], get) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for n in ns:
        try:
            v = get(runs[n])
        except (KeyError, TypeError):
            v = None
        if v is not None:
            xs.append(int(n))
            ys.append(float(v))
    return xs, ys


def latency_vs_n(doc: dict, path: Path) -> Path:
    plt = _plt()
    runs = doc["runs"]
    ns = sorted(runs, key=int)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    lines = [
        ("bitrag AUTO p50", lambda e: e["modes"]["auto"]["p50_ms"], "o-", "tab:red"),
        ("bitrag AUTO p99", lambda e: e["modes"]["auto"]["p99_ms"], "o--", "tab:red"),
        ("bitrag RESCORED x4 p50", lambda e: e["modes"]["rescored_x4"]["p50_ms"], "s-", "tab:blue"),
        ("Hamming only p50", lambda e: e["modes"]["hamming_only"]["p50_ms"], "^-", "tab:gray"),
        ("bitrag EXACT p50", lambda e: e["modes"]["exact"]["p50_ms"], "D:", "black"),
        ("float32 Milvus p50", lambda e: e["baselines"]["float32_milvus"]["runs"]["c1"]["p50_ms"], "P-", "tab:purple"),
        ("numpy brute force p50", lambda e: e["baselines"]["numpy_exact"]["p50_ms"], "X:", "tab:brown"),
    ]
    for label, get, style, col in lines:
        xs, ys = _series(runs, ns, get)
        if xs:
            ax.plot(xs, ys, style, color=col, label=label)
    ax.set_xscale("log")
    _plain_log(ax, "y")
    ax.set_xlabel("N (rows)")
    ax.set_ylabel("latency, ms (gRPC end to end, concurrency 1)")
    ax.set_title(f"{doc['name']}: latency vs N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def memory_vs_n(doc: dict, path: Path) -> Path:
    from .scale import bitrag_memory

    plt = _plt()
    runs = doc["runs"]
    ns = sorted(runs, key=int)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    gib = 2**30
    lines = [
        ("bitrag resident (server + Milvus)", lambda e: bitrag_memory(e)["rss"] / gib, "o-", "tab:red"),
        ("bitrag private (excl. mapped float file)", lambda e: bitrag_memory(e)["anon"] / gib, "o--", "tab:red"),
        ("float32 Milvus resident (measured)",
         lambda e: e["baselines"]["float32_milvus"]["memory"]["rss"] / gib, "P-", "tab:purple"),
        ("float32 in RAM, needed (vectors + HNSW links)",
         lambda e: e["float32_in_ram_estimate"]["total_bytes"] / gib, "P:", "tab:purple"),
        ("binary codes (N x d/8)", lambda e: e["collection"]["bytes_in_ram_codes"] / gib, "^:", "tab:gray"),
    ]
    for label, get, style, col in lines:
        xs, ys = _series(runs, ns, get)
        if xs:
            ax.plot(xs, ys, style, color=col, label=label)
    ax.set_xscale("log")
    _plain_log(ax, "y")
    ax.set_xlabel("N (rows)")
    ax.set_ylabel("GiB")
    ax.set_title(f"{doc['name']}: memory vs N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scale_plots(doc: dict, out: Path) -> list[Path]:
    stem = doc["name"]
    return [
        recall_latency_scale(doc, out / f"{stem}_recall_latency.png"),
        latency_vs_n(doc, out / f"{stem}_latency_vs_n.png"),
        memory_vs_n(doc, out / f"{stem}_memory_vs_n.png"),
    ]


def quality_plots(doc: dict, out: Path, stem: str) -> list[Path]:
    return [recall_latency_quality(doc, out / f"{stem}_recall_latency.png")]
