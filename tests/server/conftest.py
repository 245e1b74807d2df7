"""Fixtures for the server unit/component tests: one Milvus Lite file per session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bitrag_server.engine import Engine
from bitrag_server.stores.binary_index import BinaryIndex


@pytest.fixture(scope="session")
def lite_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinaryIndex]:
    """A BinaryIndex on a private Milvus Lite file (tests use distinct collection names)."""
    idx = BinaryIndex(str(tmp_path_factory.mktemp("milvus") / "lite.db"), lite=True)
    yield idx
    idx.close()


@pytest.fixture
def coll_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def engine(tmp_path: Path, engine_settings) -> AsyncIterator[Engine]:
    """A started in-process Engine on a fresh data dir; each test module supplies `engine_settings`
    (a function data_dir -> Settings)."""
    e = Engine(engine_settings(tmp_path / "data"))
    await e.start()
    yield e
    await e.close()
