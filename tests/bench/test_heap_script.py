"""`bench/heap.py` end to end on a small corpus: two variants, each a real `bitrag serve` on Milvus
Lite, every memory snapshot and speed figure in the report; a malformed --variant is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "heap.py"


def heap(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_two_variants_each_measured_at_every_snapshot(model, tmp_path: Path) -> None:
    p = heap("--n", "2000", "--searches", "20", "--seconds", "1", "--rounds", "1", "--out", str(tmp_path),
             "--variant", "off:BITRAG_MALLOC_TRIM_FREE_MB=0", "--variant", "on:")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads((tmp_path / "heap.json").read_text())
    assert doc["variants"]["off"]["env"] == {"BITRAG_MALLOC_TRIM_FREE_MB": "0"}
    assert doc["variants"]["on"]["env"] == {}
    for name in ("off", "on"):
        (run,) = doc["variants"][name]["runs"]
        assert list(run["memory"]) == ["idle", "after_ingest", "after_calibrate", "serving"]
        for snap in run["memory"].values():
            assert snap["server_anon"] > 20 << 20  # a Python server with numpy, gRPC and pymilvus loaded
            assert snap["children_anon"] > 0  # Milvus Lite's process, apart
        assert 0 < run["p50_ms"] <= run["p99_ms"] and run["qps_c8"] > 0
    md = (tmp_path / "heap.md").read_text()
    assert "| off | `BITRAG_MALLOC_TRIM_FREE_MB=0` |" in md and "| on | (defaults) |" in md


def test_a_variant_without_its_colon_is_refused() -> None:
    p = heap("--variant", "off")
    assert p.returncode == 2
    assert "--variant 'off': expected NAME:KEY=VALUE" in p.stderr
