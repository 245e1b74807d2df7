"""Shared session fixtures: real bitrag servers (subprocesses) on Milvus Lite and on a real Milvus
standalone server (PyPI `milvus`). No mocks: every test talks gRPC over loopback.

Servers are session-scoped and shared, so every test uses its own collection names (uuid suffix)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bitrag
from bitrag_server.launch import ServerProcess

STARTUP_TIMEOUT_S = 120.0
# Small IVF lists so tiny test collections are searched exhaustively (exact results).
SMALL_IVF = bitrag.IndexSpec("BIN_IVF_FLAT", {"nlist": 16}, {"nprobe": 16})


class ServerProc(ServerProcess):
    """The product's `bitrag serve` launcher plus what the tests need: the backend name and the
    index to create test collections with."""

    backend: str = "lite"
    index: bitrag.IndexSpec | None = None  # index for test collections (None = backend default)

    def client(self, **kw) -> bitrag.Client:
        return bitrag.Client(self.target, **kw)


def start_server(
    data_dir: Path, *, milvus_uri: str = "", extra_args: list[str] | None = None,
    timeout: float = STARTUP_TIMEOUT_S,
) -> ServerProc:
    """Start `python -m bitrag.cli serve` on a kernel-chosen loopback port and wait until it listens."""
    sp = ServerProc(data_dir, milvus_uri=milvus_uri, extra_args=extra_args or (), ready_timeout_s=timeout)
    sp.start()
    return sp


@pytest.fixture(scope="session")
def lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    sp = start_server(tmp_path_factory.mktemp("lite"))  # Milvus Lite default index: BIN_FLAT
    yield sp
    sp.stop()


def _free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago (all held open while choosing)."""
    socks = []
    try:
        for _ in range(n):
            sk = socket.socket()
            sk.bind(("127.0.0.1", 0))
            socks.append(sk)
        return [sk.getsockname()[1] for sk in socks]
    finally:
        for sk in socks:
            sk.close()


MILVUS_START_TIMEOUT_S = 90.0
MILVUS_START_ATTEMPTS = 3


def _start_milvus(base: Path, **config):  # -> milvus.MilvusServer, running and healthy
    """Start a Milvus standalone server (PyPI `milvus`) with every port chosen by the kernel.

    `MilvusServer` alone is not safe next to another Milvus on the same machine: it probes ports
    upwards from Milvus' defaults (19530, 13333, ...) and releases them before the binary binds
    them, and its embedded etcd keeps etcd's fixed 2379/2380. Two Milvus instances starting
    together then collide, and the loser hangs instead of exiting. So: every `*_port` is set
    explicitly to a kernel-chosen free port, etcd gets its own config file (Milvus'
    `etcd.config.path`) with free ports, and a start whose log shows a bind failure is retried."""
    from milvus import MilvusServer

    base.mkdir(parents=True, exist_ok=True)
    s = MilvusServer(wait_for_started=False)
    keys = [k for k in s.config.configurable_items if k.endswith("_port") and k != "etcd_port"]
    peer, etcd_client, web, *free = _free_ports(3 + len(keys))
    etcd_yaml = base / "etcd.yaml"
    etcd_yaml.write_text(
        "name: default\n"
        f"listen-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer}\n"
        f"listen-client-urls: http://127.0.0.1:{etcd_client}\n"
        f"advertise-client-urls: http://127.0.0.1:{etcd_client}\n"
    )
    s.config.update(etcd_port=etcd_client, **dict(zip(keys, free)))
    for key, value in config.items():  # template variables, e.g. tls_mode=1 (type-checked by the package)
        s.config.set(key, value)
    s.webservice_port = web  # METRICS_PORT: /healthz
    anchor = "  use:\n    embed: true"
    assert anchor in s.config.template_text, "milvus config template changed: update this fixture"
    s.config.template_text = s.config.template_text.replace(
        anchor, f"  config:\n    path: {etcd_yaml}\n{anchor}", 1
    )
    s.set_base_dir(str(base / "server"))
    s.start()
    log = base / "server" / "logs" / "milvus-stdout.log"
    deadline = time.monotonic() + MILVUS_START_TIMEOUT_S
    while True:
        try:
            s.wait_started(timeout=2000)  # milliseconds; returns once /healthz says OK
            return s
        except TimeoutError:
            pass
        text = log.read_text(errors="replace") if log.exists() else ""
        exited = s.server_proc is None or s.server_proc.poll() is not None
        if exited or "address already in use" in text or time.monotonic() > deadline:
            s.stop()
            raise RuntimeError(
                f"Milvus standalone did not start (exited={exited}); log tail:\n{text[-3000:]}"
            )


@pytest.fixture(scope="session")
def milvus_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus standalone server on free loopback ports; yields its URI."""
    from pymilvus import MilvusClient

    root = tmp_path_factory.mktemp("milvus")
    errors: list[str] = []
    for attempt in range(MILVUS_START_ATTEMPTS):
        try:
            s = _start_milvus(root / f"attempt{attempt}")
        except RuntimeError as exc:  # a port taken between choosing and binding: new ports
            errors.append(str(exc))
            continue
        try:
            uri = f"http://127.0.0.1:{s.listen_port}"
            probe = MilvusClient(uri=uri)  # fail here, once, if the server is not usable
            probe.list_collections()
            probe.close()
            yield uri
        finally:
            s.stop()
        return
    raise RuntimeError("Milvus standalone failed to start:\n" + "\n\n".join(errors))


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
