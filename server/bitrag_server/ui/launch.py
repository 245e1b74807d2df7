"""`bitrag ui`: run the Streamlit app (optionally with its own `bitrag serve`, as `make ui` does).

The app reaches the server only through the SDK, at the address in `BITRAG_UI_TARGET`; Streamlit
runs headless (no browser opened, no usage statistics sent, no file watcher)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .model import BENCH_DIR_ENV, TARGET_ENV

APP = Path(__file__).with_name("app.py")


def streamlit_command(port: int, address: str, extra: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal", *extra,
    ]


class UIProcess:
    """The Streamlit app as a subprocess, ready once `/_stcore/health` answers `ok`."""

    def __init__(self, target: str, *, port: int, address: str = "127.0.0.1",
                 bench_dir: str | Path | None = None, env: dict[str, str] | None = None,
                 ready_timeout_s: float = 60.0) -> None:
        self.url = f"http://{address}:{port}"
        self.cmd = streamlit_command(port, address)
        self.env = {**os.environ, **(env or {}), TARGET_ENV: target}
        if bench_dir is not None:
            self.env[BENCH_DIR_ENV] = str(bench_dir)
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, quiet: bool = True) -> UIProcess:
        out = subprocess.DEVNULL if quiet else None
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}: {' '.join(self.cmd)}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {self.ready_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> UIProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_ui_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui", help="run the web UI (Streamlit) for a bitrag server",
        description="Run the bitrag web UI: collections, upload and ingest, streamed answers with "
        "linked citations, search with diagnostics, benchmark plots. It talks to the server through "
        "the Python SDK. With --serve it also starts `bitrag serve` on the embedded default "
        "(Milvus Lite in --data-dir) and stops it on exit; otherwise it talks to `bitrag --target HOST:PORT` "
        "(or BITRAG_TARGET).",
    )
    p.add_argument("--port", type=int, default=8501, help="HTTP port of the UI (default %(default)s)")
    p.add_argument("--address", default="127.0.0.1", help="HTTP address of the UI (default %(default)s)")
    p.add_argument("--bench-dir", help="benchmark reports to plot (default: the repository's bench/results)")
    p.add_argument("--serve", action="store_true", help="also start a bitrag server (embedded Milvus Lite)")
    p.add_argument("--data-dir", default="./bitrag-data",
                   help="with --serve: its data directory (default %(default)s)")
    p.set_defaults(func=run_ui)


def run_ui(args: argparse.Namespace) -> int:
    server = None
    target = args.target
    if args.serve:
        from ..launch import ServerProcess

        print(f"starting bitrag serve (data in {args.data_dir}) ...", flush=True)
        server = ServerProcess(args.data_dir, echo=True).start()
        target = server.target
    ui = UIProcess(target, port=args.port, address=args.address, bench_dir=args.bench_dir)
    try:
        ui.start(quiet=False)
        print(f"bitrag ui on {ui.url} (server {target}); Ctrl-C stops", flush=True)
        assert ui.proc is not None
        return ui.proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        ui.stop()
        if server is not None:
            server.stop()
