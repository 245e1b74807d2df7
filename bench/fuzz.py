"""Fuzzing at full count: N generated requests per RPC (default 10,000) against one live server
(tests/fuzzing.py: wild and plausible proto messages, raw bytes), then the checks of
tests/e2e/test_fuzz.py: no crash, no INTERNAL/UNKNOWN/UNAVAILABLE, no partial write, healthy after.

    .venv/bin/python bench/fuzz.py --per-rpc 10000

Writes bench/results/fuzz.json and fuzz.md (requests and statuses per RPC, time).
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
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from embed_server import EmbedServer  # noqa: E402
from fuzzing import STABLE, after_checks, methods, start_session  # noqa: E402
from integrity import check_files_agree  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-rpc", type=int, default=10000)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz")
    args = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bitrag-fuzz-")) / "data"
    per: dict[str, dict] = {}
    with EmbedServer(dim=64) as embed:
        sp, fz = start_session(data, embed)
        try:
            t_all = time.monotonic()
            for i, name in enumerate(methods()):
                t0 = time.monotonic()
                sent = fz.run(name, args.per_rpc, seed=1000 + i)
                per[name] = {
                    "requests": sent,
                    "seconds": round(time.monotonic() - t0, 1),
                    "statuses": dict(fz.statuses[name]),
                }
                print(name, per[name], flush=True)
            fz.close()
            after = after_checks(sp, fz)
            total_s = time.monotonic() - t_all
        finally:
            sp.stop()
    agree = {n: check_files_agree(data, n)[0] for n in STABLE}
    rows = after["float_rows_vs_acknowledged"]
    alive = after["alive"]
    ok = alive and after["health"] == "SERVING" and all(a == b for a, b in rows.values())
    report = {
        "per_rpc": per,
        "total_requests": sum(v["requests"] for v in per.values()),
        "seconds": round(total_s, 1),
        "server_alive_after": alive,
        "health_after": after["health"],
        "float_rows_vs_acknowledged": rows,
        "live_rows_files_agree_with_milvus": agree,
        "passed": ok,
        "machine": f"{platform.node()} ({platform.processor() or platform.machine()}), shared with other engineers' runs",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Fuzzed requests (`bench/fuzz.py`)",
        "",
        f"`.venv/bin/python bench/fuzz.py --per-rpc {args.per_rpc}`: generated requests per RPC (hypothesis over "
        "the proto descriptors: invalid UTF-8, unknown enums, NaN/inf, extreme sizes, deep and huge filters and "
        "Structs, unknown fields, random bytes) against one live server (Milvus Lite), sequentially.",
        "",
        "| RPC | requests | seconds | statuses |",
        "|---|---:|---:|---|",
    ]
    for name, v in per.items():
        lines.append(
            f"| {name} | {v['requests']:,} | {v['seconds']} | "
            + ", ".join(f"{k} {n:,}" for k, n in sorted(v["statuses"].items()))
            + " |"
        )
    lines += [
        "",
        f"Total {report['total_requests']:,} requests in {report['seconds']} s. INTERNAL / UNKNOWN / "
        f"UNAVAILABLE: 0 (the run stops at the first). Server alive after: {alive}; health: "
        f"{report['health_after']}; float rows == rows of acknowledged ingests: "
        f"{all(a == b for a, b in rows.values())} ({rows}); Milvus and the row files agree (live rows): {agree}.",
        "",
        f"Machine: {report['machine']}.",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
