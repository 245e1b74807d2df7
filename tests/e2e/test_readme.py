"""The README's Python snippet, extracted from README.md (so the test fails when the README drifts),
run twice in fresh interpreters against a real server: the second run must succeed too
(`create_collection(..., exist_ok=True)`; re-ingest is a no-op; the answer comes from the cache).
And get-or-create itself, on both clients: a fitting collection is returned, one with another
dimension or embedder raises `AlreadyExistsError` naming the field."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import bitrag
import pytest
import redis
from bitrag_server.launch import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


def readme_snippet() -> str:
    """The README's first ```python block (the SDK example)."""
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert m, "README.md has no ```python block"
    code = m.group(1)
    assert 'Client("127.0.0.1:50051")' in code
    return code


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own (the snippet's collection names are fixed), offline: no LLM key, the
    real Redis cache under a private prefix."""
    prefix = f"bitrag_readme_{uuid.uuid4().hex[:8]}"
    env = {"GROQ_API_KEY": "", "BITRAG_REDIS_URL": REDIS_URL, "BITRAG_REDIS_PREFIX": prefix}
    sp = ServerProcess(tmp_path_factory.mktemp("readme"), env=env)
    sp.start()
    try:
        yield sp
    finally:
        sp.stop()
        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            r.delete(*keys)
        r.close()


def test_readme_snippet_runs_twice(readme_server: ServerProcess) -> None:
    code = readme_snippet().replace("127.0.0.1:50051", readme_server.target)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240, check=False)
        assert p.returncode == 0, p.stderr[-3000:]
        runs.append(p.stdout)
    assert "Extractive answer" in runs[0]
    assert runs[0].rstrip().endswith("MISS") and runs[1].rstrip().endswith("HIT")  # the Redis answer cache
    with bitrag.Client(readme_server.target) as c:
        assert c.describe_collection("notes").rows == 1  # the second run's ingest was a no-op
        mine = c.describe_collection("mine")
        assert (mine.rows, mine.dimension) == (1000, 768)


def test_create_collection_exist_ok(lite_server) -> None:
    name = f"getorcreate_{uuid.uuid4().hex[:12]}"
    with bitrag.Client(lite_server.target) as c:
        first = c.create_collection(name, dimension=64, embedder="none", exist_ok=True)
        assert first.dimension == 64
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            c.create_collection(name, dimension=64, embedder="none")  # exist_ok defaults to False
        assert ei.value.field == "name"
        again = c.create_collection(name, dimension=64, embedder="none", exist_ok=True)
        assert (again.name, again.created_unix_ms) == (first.name, first.created_unix_ms)
        assert c.create_collection(name, exist_ok=True).dimension == 64  # "" / 0: anything fits
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            c.create_collection(name, dimension=128, embedder="none", exist_ok=True)
        assert ei.value.field == "dimension" and "64" in ei.value.message and "128" in ei.value.message
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            c.create_collection(name, embedder="local", exist_ok=True)
        assert ei.value.field == "embedder" and "'none'" in ei.value.message
        c.drop_collection(name)

        text = f"{name}_text"
        local = c.create_collection(text, exist_ok=True)
        assert local.embedder.startswith("local:")
        assert c.create_collection(text, embedder="local", exist_ok=True).embedder == local.embedder
        assert c.create_collection(text, embedder=local.embedder, exist_ok=True).embedder == local.embedder
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            c.create_collection(text, dimension=64, embedder="none", exist_ok=True)
        assert ei.value.field == "dimension"
        c.drop_collection(text)


async def test_async_create_collection_exist_ok(lite_server) -> None:
    name = f"getorcreate_a_{uuid.uuid4().hex[:12]}"
    async with bitrag.AsyncClient(lite_server.target) as c:
        first = await c.create_collection(name, dimension=32, embedder="none", exist_ok=True)
        again = await c.create_collection(name, dimension=32, embedder="none", exist_ok=True)
        assert again.created_unix_ms == first.created_unix_ms
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            await c.create_collection(name, dimension=32, embedder="none")
        assert ei.value.field == "name"
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            await c.create_collection(name, dimension=40, embedder="none", exist_ok=True)
        assert ei.value.field == "dimension"
        with pytest.raises(bitrag.AlreadyExistsError) as ei:
            await c.create_collection(name, embedder="local", exist_ok=True)
        assert ei.value.field == "embedder"
        await c.drop_collection(name)


def test_readme_vectors_have_structure_gaussian_noise_has_none(lite_server) -> None:
    """The README's claim: sign bits find the neighbours of its low-rank vectors, not those of
    isotropic Gaussian noise (Hamming order against the exact top 10, for new queries drawn the
    same way as the stored vectors)."""
    import numpy as np

    rng = np.random.default_rng(0)
    basis = rng.standard_normal((32, 768))
    data = {
        "low_rank": (rng.standard_normal((1020, 32)) @ basis).astype("float32"),  # as in the README
        "noise": rng.standard_normal((1020, 768)).astype("float32"),
    }
    recall = {}
    with bitrag.Client(lite_server.target) as c:
        for kind, vecs in data.items():
            name = f"readme_{kind}_{uuid.uuid4().hex[:8]}"
            c.create_collection(name, dimension=768, embedder="none")
            c.ingest_vectors(name, vecs[:1000], ids=[f"c{i}" for i in range(1000)])
            hits = []
            for q in vecs[1000:]:
                exact = {h.chunk_id for h in c.search(name, q, top_k=10, mode="EXACT").hits}
                binary = {h.chunk_id for h in c.search(name, q, top_k=10, mode="BINARY_ONLY").hits}
                hits.append(len(exact & binary) / 10)
            recall[kind] = float(np.mean(hits))
            c.drop_collection(name)
    assert recall["low_rank"] >= 0.6 and recall["noise"] <= 0.3, recall
