"""Start and stop a `bitrag serve` subprocess: used by `make demo`, the benchmarks and the tests,
so all of them run the real server over real gRPC."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

LISTEN_RE = re.compile(r"bitrag listening on (\S+:\d+)")
READY_RE = re.compile(r"bitrag ready: ")


class ServerProcess:
    """`bitrag serve` on a kernel-chosen loopback port (parsed from its `bitrag listening on
    HOST:PORT` line). `with ServerProcess(data_dir) as srv: Client(srv.target)`.

    `start()` returns once the server is ready (`bitrag ready`: the embedding model loaded, health
    SERVING); `wait_ready=False` returns as soon as it listens (health NOT_SERVING meanwhile).

    The child gets a clean environment (no inherited BITRAG_* settings, cwd = data_dir so no stray
    `.env` is read) plus `env`; its stdout+stderr lines are collected in `output` by a thread, so
    the pipe never fills."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        milvus_uri: str = "",
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        address: str = "127.0.0.1:0",
        ready_timeout_s: float = 180.0,
        echo: bool = False,
        wait_ready: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.milvus_uri = milvus_uri
        self.extra_args = list(extra_args)
        self.address = address
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
        self.env.update({"BITRAG_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", **(env or {})})
        self.ready_timeout_s = ready_timeout_s
        self.echo = echo
        self.wait_ready = wait_ready
        self.target = ""
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._listening = threading.Event()  # set when start() may return (or at EOF)
        self._up = False  # the line start() waits for was seen
        self._reader: threading.Thread | None = None

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))
            if self.echo:
                sys.stderr.write(line)
            m = LISTEN_RE.search(line)
            if m and not self.target:
                self.target = m.group(1)
            if self.target and (not self.wait_ready or READY_RE.search(line)):
                self._up = True
                self._listening.set()
        self._listening.set()  # EOF: unblock the waiter (it checks the exit code)

    def text(self) -> str:
        return "\n".join(self.output)

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "bitrag.cli", "serve", "--address", self.address, "--data-dir", str(self.data_dir)]
        if self.milvus_uri:
            cmd += ["--milvus-uri", self.milvus_uri]
        cmd += self.extra_args
        self.target = ""
        self.output = []
        self._listening.clear()
        self._up = False
        self.proc = subprocess.Popen(
            cmd, cwd=self.data_dir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._drain, name=f"bitrag-serve-{self.proc.pid}", daemon=True)
        self._reader.start()
        if not self._listening.wait(self.ready_timeout_s) or not self._up:  # exited, or too slow
            try:  # at EOF the process is exiting: its code is moments away
                code = self.proc.wait(10) if self._listening.is_set() else None
            except subprocess.TimeoutExpired:
                code = None
            self.kill()
            why = f"exited with code {code}" if code is not None else f"not ready within {self.ready_timeout_s:.0f}s"
            raise RuntimeError(f"bitrag serve did not start ({why}):\n" + self.text()[-5000:])
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
                self.kill()
        if self._reader is not None:
            self._reader.join(10)
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
