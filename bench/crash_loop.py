"""The crash loop, long: `--kills` SIGKILLs of `bitrag serve` at random moments under every kind of
write (tests/crashloop.py; the CI test runs 20), with the checks after every kill and restart.

    .venv/bin/python bench/crash_loop.py --kills 100

Writes bench/results/crash_loop.json and crash_loop.md.
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

from crashloop import CrashLoop  # noqa: E402
from embed_server import EmbedServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--max-run-s", type=float, default=2.0, help="most seconds of writes between kills")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "crash_loop")
    a = p.parse_args()
    t0 = time.monotonic()
    with EmbedServer(dim=64) as embed:
        stats = CrashLoop(
            Path(tempfile.mkdtemp(prefix="bitrag-crash-")) / "data",
            embed,
            kills=a.kills,
            max_run_s=a.max_run_s,
            seed=a.seed,
            max_docs=60,
            log=lambda s: print(s, flush=True),
        ).run()
    s = stats.summary()
    s["seconds"] = round(time.monotonic() - t0, 1)
    s["machine"] = f"{platform.node()}, shared with other engineers' runs"
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(s, indent=2))
    md = [
        "# Crash loop (`bench/crash_loop.py`)",
        "",
        f"`.venv/bin/python bench/crash_loop.py --kills {a.kills} --max-run-s {a.max_run_s:g} --seed {a.seed}`: "
        "`bitrag serve` (Milvus Lite) SIGKILLed at random moments while one client ingests, replaces and deletes "
        "multi-chunk vector documents, one ingests, replaces and deletes text documents (split and embedded by the "
        "server), one creates, fills and drops collections, one compacts the vector collection now and then, and "
        "one searches. After every kill, with the server "
        "down: every Milvus row has its float row, code (== the float row's sign bits) and record (same document). "
        "After every restart: SERVING; every acknowledged document present exactly once (its chunks, no other "
        "version) and found by its own vectors / text; every write in flight at the kill wholly applied or absent.",
        "",
        "| | |",
        "|---|---:|",
    ]
    for k in (
        "kills",
        "acknowledged_writes",
        "writes_in_flight_at_a_kill",
        "of_which_applied",
        "chunks_checked_after_restarts",
        "rows_checked_offline",
        "searches",
        "compactions",
        "writes_completed_at_open",
        "compactions_finished_at_open",
        "compactions_rolled_back_at_open",
        "restart_s_p50",
        "restart_s_max",
        "seconds",
    ):
        v = s[k]
        md.append(
            f"| {k.replace('_', ' ')} | {v:,.2f} |"
            if isinstance(v, float)
            else f"| {k.replace('_', ' ')} | {v:,} |"
        )
    md += [
        "",
        f"Errors seen by the clients: {s['errors_by_status']} (all around kills). Failures other than "
        f"UNAVAILABLE: {s['unexpected_failures'] or 'none'}. Machine: {s['machine']}.",
    ]
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if not s["unexpected_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
