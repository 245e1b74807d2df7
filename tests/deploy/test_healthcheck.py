"""`python -m bitrag_server.healthcheck` (the image's HEALTHCHECK) as a subprocess, against a real
`bitrag serve` and against addresses where nothing healthy answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from bitrag.v1 import bitrag_pb2
from bitrag_server.healthcheck import DEFAULT_ADDRESS, default_target

BITRAG_SERVICE = bitrag_pb2.DESCRIPTOR.services_by_name["BitragService"].full_name


def run_check(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str, float]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "bitrag_server.healthcheck", *args],
        check=False, capture_output=True, text=True, timeout=timeout, env={**base, **(env or {})},
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {out.stdout!r} (stderr {out.stderr!r})"
    return out.returncode, lines[0], time.monotonic() - t0


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung server)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_serving_server_exits_0(lite_server) -> None:
    code, line, _ = run_check("--target", lite_server.target)
    assert code == 0, line
    assert line.startswith("SERVING") and lite_server.target in line


def test_bitrag_service_name_is_serving(lite_server) -> None:
    code, line, _ = run_check("--target", lite_server.target, "--service", BITRAG_SERVICE)
    assert code == 0, line


def test_unknown_service_exits_1(lite_server) -> None:
    code, line, _ = run_check("--target", lite_server.target, "--service", "no.such.Service")
    assert code == 1
    assert line.startswith("UNHEALTHY") and "unknown" in line


def test_default_target_follows_bitrag_address(lite_server) -> None:
    """In the image no --target is given: the wildcard listen address becomes loopback."""
    port = lite_server.target.rsplit(":", 1)[1]
    code, line, _ = run_check(env={"BITRAG_ADDRESS": f"0.0.0.0:{port}"})
    assert code == 0, line
    assert f"127.0.0.1:{port}" in line


def test_closed_port_exits_1_quickly() -> None:
    port = closed_port()
    code, line, elapsed = run_check("--target", f"127.0.0.1:{port}", "--timeout", "5")
    assert code == 1
    assert line.startswith("UNHEALTHY") and "UNAVAILABLE" in line
    assert elapsed < 4, f"a refused connection took {elapsed:.1f}s"


def test_hung_server_exits_1_after_the_timeout(silent_listener: int) -> None:
    code, line, elapsed = run_check("--target", f"127.0.0.1:{silent_listener}", "--timeout", "1")
    assert code == 1
    assert line.startswith("UNHEALTHY") and "DEADLINE_EXCEEDED" in line
    assert 0.9 <= elapsed < 6, elapsed


def test_bad_arguments_exit_1() -> None:
    code, line, _ = run_check("--timeout", "soon")
    assert code == 1 and line.startswith("UNHEALTHY")
    code, line, _ = run_check("--timeout", "0")
    assert code == 1 and line.startswith("UNHEALTHY")


@pytest.mark.parametrize(
    "address, target",
    [
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:7000", "[::1]:7000"),
        (":7001", "127.0.0.1:7001"),
        ("10.1.2.3:50051", "10.1.2.3:50051"),
        ("unix:/run/bitrag.sock", "unix:/run/bitrag.sock"),
        ("", DEFAULT_ADDRESS),
    ],
)
def test_default_target_mapping(address: str, target: str) -> None:
    assert default_target(address) == target
