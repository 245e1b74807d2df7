"""Fuzzed requests against a live server (tests/fuzzing.py): every RPC gets generated requests
(invalid UTF-8, unknown enums, NaN/inf, extreme sizes, deep and huge filters and Structs, random
bytes); 0 INTERNAL / UNKNOWN / UNAVAILABLE, 0 crashes, 0 partial writes (float rows == rows of
acknowledged ingests, Milvus and the row files agree), healthy after.

CI runs BITRAG_FUZZ_EXAMPLES (300) per RPC, seeded; the full 10,000 per RPC is bench/fuzz.py
(figures in bench/results/fuzz.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embed_server import EmbedServer
from fuzzing import STABLE, after_checks, methods, start_session
from integrity import check_files_agree

FUZZ_EXAMPLES = int(os.environ.get("BITRAG_FUZZ_EXAMPLES", "300"))


@pytest.mark.timeout(900)
def test_fuzzed_requests_never_break_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbedServer(dim=64) as embed:
        sp, fz = start_session(data, embed)
        try:
            for i, name in enumerate(methods()):
                assert fz.run(name, FUZZ_EXAMPLES, seed=i) == FUZZ_EXAMPLES
            print({m: dict(s) for m, s in fz.statuses.items()})
            fz.close()
            after = after_checks(sp, fz)
            assert after["alive"] and after["health"] == "SERVING", after
            for name, (rows, acknowledged) in after["float_rows_vs_acknowledged"].items():
                assert rows == acknowledged, name  # no failed request left rows behind
            assert all(after["search_hits"].values()), after
        finally:
            sp.stop()
    for name in STABLE:
        check_files_agree(data, name)
