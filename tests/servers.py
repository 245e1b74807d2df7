"""What tests start besides fixtures: bitrag servers and Milvus standalone servers. A module of its
own (not conftest.py) so test files can import it unambiguously: `from servers import ...`
(tests/ is on sys.path, as for llm_server)."""

from __future__ import annotations

from pathlib import Path

import bitrag
from bitrag_server.launch import ServerProcess
from bitrag_server.milvus_standalone import MilvusStandalone

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


MILVUS_START_TIMEOUT_S = 90.0


def _start_milvus(base: Path, **config):  # -> milvus.MilvusServer, running and healthy
    """A Milvus standalone server (PyPI `milvus`) on kernel-chosen ports, retried on a port clash
    (`bitrag_server.milvus_standalone`, shared with the benchmarks). `config`: the package's
    template variables, e.g. tls_mode=1. Returns the package's MilvusServer (stop/start/wait_started)."""
    return MilvusStandalone(base, start_timeout_s=MILVUS_START_TIMEOUT_S, extra_config=config).start().server
