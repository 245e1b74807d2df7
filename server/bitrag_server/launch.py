"""Start and stop a `bitrag serve` subprocess: used by `make demo`, the benchmarks and the tests,
so all of them run the real server over real gRPC."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

READY = "bitrag listening on"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`bitrag serve` on 127.0.0.1:<free port>; `with ServerProcess(data_dir) as srv: srv.target`."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        milvus_uri: str = "",
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        port: int = 0,
        ready_timeout_s: float = 180.0,
        echo: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.milvus_uri = milvus_uri
        self.extra_args = list(extra_args)
        self.env = {**os.environ, "BITRAG_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.ready_timeout_s = ready_timeout_s
        self.echo = echo
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if self.echo:
                sys.stderr.write(line)
            if READY in line:
                self._ready.set()

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "bitrag.cli", "serve", "--address", self.target, "--data-dir", str(self.data_dir)]
        if self.milvus_uri:
            cmd += ["--milvus-uri", self.milvus_uri]
        cmd += self.extra_args
        self._ready.clear()
        self.output = []
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + self.ready_timeout_s
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("bitrag serve did not start:\n" + "".join(self.output[-40:]))
        return self

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (graceful drain), then SIGKILL after `timeout_s`. Returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
