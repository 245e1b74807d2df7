"""Shared session fixtures: real bitrag servers (subprocesses) on Milvus Lite and on a real Milvus
standalone server (PyPI `milvus`). No mocks: every test talks gRPC over loopback.

Servers are session-scoped and shared, so every test uses its own collection names (uuid suffix)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import bitrag
from bitrag_server.launch import ServerProcess
from bitrag_server.milvus_standalone import MilvusStandalone
from sdk_twins import SDK_KINDS
from servers import MILVUS_START_TIMEOUT_S, SMALL_IVF, ServerProc, start_server  # noqa: F401 (re-exported)

# The tests' small collections are mostly never calibrated, and they assert what the binary route
# does; before a plan is measured, AUTO would otherwise take whichever route is timed cheaper on
# served queries (`route_unmeasured`, tested by name in tests/server/retrieve/test_pipeline.py).
# Servers started as subprocesses inherit it.
os.environ.setdefault("BITRAG_ROUTE_UNMEASURED", "binary")
_server_init = ServerProcess.__init__


def _server_init_binary_route(self, *args, env=None, **kw) -> None:  # noqa: ANN001, ANN002, ANN003
    """The launcher hands servers no inherited BITRAG_* setting: pass this one on explicitly."""
    _server_init(self, *args, env={"BITRAG_ROUTE_UNMEASURED": os.environ["BITRAG_ROUTE_UNMEASURED"], **(env or {})},
                 **kw)


ServerProcess.__init__ = _server_init_binary_route  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    sp = start_server(tmp_path_factory.mktemp("lite"))  # Milvus Lite default index: BIN_FLAT
    yield sp
    sp.stop()


@pytest.fixture(scope="session")
def milvus_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus standalone server on free loopback ports; yields its URI."""
    m = MilvusStandalone(tmp_path_factory.mktemp("milvus"), start_timeout_s=MILVUS_START_TIMEOUT_S).start()
    try:
        yield m.uri
    finally:
        m.stop()


@pytest.fixture(scope="session")
def standalone_server(tmp_path_factory: pytest.TempPathFactory, milvus_standalone: str) -> Iterator[ServerProc]:
    sp = start_server(tmp_path_factory.mktemp("standalone"), milvus_uri=milvus_standalone)
    sp.backend = "standalone"
    sp.index = SMALL_IVF
    yield sp
    sp.stop()


@pytest.fixture(params=["lite", pytest.param("standalone", marks=pytest.mark.standalone)])
def server(request: pytest.FixtureRequest) -> ServerProc:
    """The bitrag server on each backend: Milvus Lite and Milvus standalone."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture(params=SDK_KINDS)
def sdk_kind(request: pytest.FixtureRequest) -> str:
    """Each SDK twin: "Client", "AsyncClient" (behind Client's blocking interface, tests/sdk_twins.py).
    A module runs its sync tests over both by overriding `client` with `sdk_client(sdk_kind, ...)`."""
    return request.param


@pytest.fixture
def client(server: ServerProc) -> Iterator[bitrag.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def start_bitrag() -> Iterator:
    """A factory: `start_bitrag(data_dir, milvus_uri="", extra_args=[...])` -> a running ServerProc,
    killed at teardown if the test did not stop it."""
    started: list[ServerProc] = []

    def start(data_dir: Path, **kw) -> ServerProc:
        sp = start_server(data_dir, **kw)
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()
