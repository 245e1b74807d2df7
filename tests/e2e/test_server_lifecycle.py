"""`bitrag serve` from start to stop as an operator meets it: health NOT_SERVING until the embedding
model is loaded, start-up failures as one line with a non-zero exit (nothing left on disk), and a
collection dropped while its background calibration runs stopping that calibration quietly.

Every server here is the real `bitrag serve` in a subprocess; the moments a test acts at (the
model being loaded, a calibration under way) are held by failpoints (`wait:PATH`), not by timing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import bitrag
import grpc
import numpy as np
import pytest
from bitrag_server.launch import ServerProcess
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICE = "bitrag.v1.BitragService"
WAIT_S = 120.0  # generous bounds on waits for files and log lines on a loaded machine


def _wait_for(cond, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _serve(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`bitrag serve ARGS` run to its exit (it is expected to fail at start-up)."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    return subprocess.run(
        [sys.executable, "-m", "bitrag.cli", "serve", *args], check=False, cwd=cwd, env={**base, **(env or {})},
        capture_output=True, text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL,
    )


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 1, (res.returncode, res.stderr[-3000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout
    assert lines[0].startswith("bitrag serve: ")
    return lines[0]


@pytest.fixture
def released(tmp_path: Path) -> Iterator[list[Path]]:
    """Failpoint gate files; any still closed at teardown are opened so no server hangs."""
    gates: list[Path] = []
    yield gates
    for g in gates:
        g.touch()


def _health(target: str, service: str) -> int:
    with grpc.insecure_channel(target) as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=30).status


@pytest.mark.timeout(300)
def test_health_is_not_serving_until_the_local_model_is_loaded(tmp_path: Path, released: list[Path]) -> None:
    gate = tmp_path / "load-model"
    released.append(gate)
    srv = ServerProcess(tmp_path / "data", env={"BITRAG_FAILPOINTS": f"embedder.load=wait:{gate}"},
                        wait_ready=False).start()
    try:
        _wait_for(Path(f"{gate}.reached").exists, "the model load to begin")
        for service in ("", SERVICE):  # listening, the stores open, the model not yet in
            assert _health(srv.target, service) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert "bitrag ready" not in srv.text()

        gate.touch()  # let the real all-MiniLM-L6-v2 load
        with grpc.insecure_channel(srv.target) as ch:
            watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=""), timeout=WAIT_S)
            for resp in watch:
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    watch.cancel()
                    break
        assert _health(srv.target, SERVICE) == health_pb2.HealthCheckResponse.SERVING
        _wait_for(lambda: "bitrag ready: health SERVING (local:all-MiniLM-L6-v2 loaded in" in srv.text(),
                  "the ready line")
        with bitrag.Client(srv.target, timeout=120) as c:  # the model is in: text works at once
            c.create_collection("docs")
            c.ingest_documents("docs", [bitrag.Document("a.md", "Binary codes live in RAM.")])
            assert c.search("docs", "where do the codes live?", top_k=1).hits[0].chunk_id.startswith("a.md")
    finally:
        assert srv.stop() == 0


def test_port_in_use_is_one_line_and_leaves_no_data_dir(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = _serve("--address", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    line = _one_line(res)
    assert f"127.0.0.1:{port} is already in use" in line and "--address" in line
    assert not (tmp_path / "data").exists()  # found before milvus.db or the data dir were made


def test_data_dir_held_by_another_server_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, env={"BITRAG_EMBEDDER": "none"}).start()
    try:
        res = _serve("--address", "127.0.0.1:0", "--data-dir", str(data), cwd=tmp_path,
                     env={"BITRAG_EMBEDDER": "none"})
        line = _one_line(res)
        assert f"data directory {data.resolve()} is in use by another bitrag server" in line
        assert "opened by another program" in line and "--data-dir" in line
        # the refused start left the running server alone
        with bitrag.Client(first.target, timeout=60) as c:
            c.create_collection("v", dimension=8, embedder="none")
            assert [x.name for x in c.list_collections()] == ["v"]
    finally:
        assert first.stop() == 0
    # and once it stopped, the directory serves again
    again = ServerProcess(data, env={"BITRAG_EMBEDDER": "none"}).start()
    assert again.stop() == 0


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--max-message-mb", "0"], {}, "bad setting max_message_mb=0 (--max-message-mb / BITRAG_MAX_MESSAGE_MB)"),
        ([], {"BITRAG_TIER": "sq3"}, "bad setting tier='sq3' (BITRAG_TIER)"),
        ([], {"BITRAG_MALLOC_ARENAS": "x"}, "bad setting malloc_arenas='x' (BITRAG_MALLOC_ARENAS)"),
        ([], {"BITRAG_MALLOC_TRIM_FREE_MB": "-1"},
         "bad setting malloc_trim_free_mb='-1' (BITRAG_MALLOC_TRIM_FREE_MB): Input should be greater than or equal to 0"),
        (["--log-level", "LOUD"], {}, "bad setting log_level='LOUD' (--log-level / BITRAG_LOG_LEVEL)"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], {}, "cannot read missing.pem"),
        (["--tls-cert", "missing.pem"], {}, "TLS needs both a certificate and a key"),
        (["--address", "no-port"], {}, "listen address 'no-port' is not HOST:PORT"),
        # found once the stores are open (the data directory exists by then)
        (["--milvus-uri", "http://127.0.0.1:1"], {"BITRAG_MILVUS_TIMEOUT_S": "1"},
         "Milvus at http://127.0.0.1:1 did not answer"),
        (["--local-model", "no-such-model-dir"], {"BITRAG_LOG_LEVEL": "WARNING"},
         "the local model directory no-such-model-dir does not exist"),
    ],
)
def test_bad_settings_are_one_line(tmp_path: Path, args: list[str], env: dict[str, str], expected: str) -> None:
    address = [] if "--address" in args else ["--address", "127.0.0.1:0"]
    res = _serve(*address, "--data-dir", str(tmp_path / "data"), *args, cwd=tmp_path, env=env)
    assert expected in _one_line(res)
    if "--milvus-uri" not in args and "--local-model" not in args:
        assert not (tmp_path / "data").exists()


@pytest.mark.timeout(300)
def test_drop_during_background_calibration_stops_it_quietly(tmp_path: Path, released: list[Path]) -> None:
    gate = tmp_path / "calibrating"
    released.append(gate)
    env = {"BITRAG_FAILPOINTS": f"calibrate.pseudo=wait:{gate}", "BITRAG_LOG_LEVEL": "INFO",
           "BITRAG_EMBEDDER": "none", "BITRAG_CALIBRATION_MIN_ROWS": "100"}
    srv = ServerProcess(tmp_path / "data", env=env).start()
    try:
        name = f"cal_{uuid.uuid4().hex[:8]}"
        x = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
        with bitrag.Client(srv.target, timeout=120) as c:
            c.create_collection(name, dimension=16, embedder="none")
            c.ingest_vectors(name, x, ids=[f"r{i}" for i in range(len(x))])
            _wait_for(Path(f"{gate}.reached").exists, "the background calibration to start")
            c.drop_collection(name)
        gate.touch()  # the calibration goes on over a dropped collection
        _wait_for(lambda: f"background calibration of {name} stopped: the collection was dropped" in srv.text(),
                  "the calibration to stop")
    finally:
        assert srv.stop() == 0
    out = srv.text()
    assert "Traceback" not in out and " ERROR " not in out, out[-3000:]
    # bitrag serve caps malloc's arenas and runs the heap trimmer (heap.py), at their defaults
    assert "heap: 2 malloc arenas; free pages go back to the OS past 32 MiB free" in out, out[-3000:]


def test_launcher_reports_a_server_that_fails_after_listening(tmp_path: Path) -> None:
    """ServerProcess waits for `bitrag ready`: a server that listened, then could not load its
    model, is a failed start, not a target to call."""
    srv = ServerProcess(tmp_path / "data", extra_args=["--local-model", str(tmp_path / "missing")])
    with pytest.raises(RuntimeError, match="exited with code 1") as ei:
        srv.start()
    assert "bitrag listening on" in str(ei.value) and "does not exist" in str(ei.value)
