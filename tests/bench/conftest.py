"""Shared fixtures of the benchmark tests: the generator fitted to the real scifact embeddings
(../shared/data), and a runner for `bitrag bench ...` as a subprocess (the real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bitrag_server.bench.common import DEFAULT_DATA

FIT = "mpnet-base-768"


@pytest.fixture(scope="session")
def model():
    from bitrag_server.bench.synth import fit_from_beir

    if not (DEFAULT_DATA / "emb" / FIT / "corpus.npy").exists():
        pytest.fail(f"{DEFAULT_DATA}/emb/{FIT}/corpus.npy is missing (shared data beside the repo)")
    return fit_from_beir(DEFAULT_DATA, FIT, rank=256)


def bench_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "bench", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def one_json(stdout: str) -> dict:
    """stdout must be exactly one JSON object (progress and logs go to stderr)."""
    text = stdout.strip()
    assert text.startswith("{") and text.endswith("}"), text[:500]
    return json.loads(text)


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"
