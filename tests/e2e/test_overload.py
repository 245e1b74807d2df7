"""Overload and deadlines on a real server: a bound on running and queued calls answers
RESOURCE_EXHAUSTED with a retry hint instead of growing latency; a caller's deadline stops the
server's exact scan (seen in its metrics, not in timings); identical concurrent Asks generate once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

import bitrag
from embed_server import EmbedServer
from llm_server import LLMServer, Reply
from servers import ServerProc

from .test_ask import KEY, free_port, metric

DIM = 16
ROWS = 4096
BLOCK = 64  # rows per exact-scan block: 64 blocks, each stalled 30 ms by a failpoint (~2 s a scan)


@pytest.fixture(scope="module")
def slow_scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    port = free_port()
    sp = ServerProc(
        tmp_path_factory.mktemp("overload"),
        env={
            "BITRAG_EMBEDDER": "none",
            "BITRAG_MAX_CONCURRENT_RPCS": "2",
            "BITRAG_MAX_QUEUED_RPCS": "2",
            "BITRAG_EXACT_BLOCK_ROWS": str(BLOCK),
            "BITRAG_FAILPOINTS": "exact.block=sleep:0.03",
            "BITRAG_METRICS_PORT": str(port),
            "BITRAG_CALIBRATION_MIN_ROWS": "1000000",
            "BITRAG_CALIBRATION_QUERY_RATE": "0",
        },
    ).start()
    sp.metrics_port = port  # type: ignore[attr-defined]
    with sp.client() as c:
        c.create_collection("big", embedder="none", dimension=DIM)
        v = np.random.default_rng(0).standard_normal((ROWS, DIM)).astype(np.float32)
        c.ingest_vectors("big", v, ids=[f"r{i}" for i in range(ROWS)])
    yield sp
    sp.stop()


def test_overload_is_refused_with_a_retry_hint(slow_scans: ServerProc) -> None:
    q = np.ones(DIM, np.float32)
    outcomes: list[object] = []

    def exact() -> None:
        with slow_scans.client(timeout=60) as c:
            try:
                outcomes.append(c.search("big", q, top_k=3, mode="EXACT"))
            except bitrag.BitragError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=exact) for _ in range(8)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    time.sleep(0.2)
    with grpc.insecure_channel(slow_scans.target) as ch:  # health answers while every slot is busy
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    for t in threads:
        t.join(60)
    refused = [o for o in outcomes if isinstance(o, bitrag.ResourceExhaustedError)]
    served = [o for o in outcomes if isinstance(o, bitrag.SearchResult)]
    assert len(refused) + len(served) == 8, outcomes
    assert len(served) >= 4 and len(refused) >= 1, outcomes  # 2 running + 2 queued were served
    for e in refused:
        assert e.retry_after is not None and 0 < e.retry_after <= 30, e
        assert "overloaded" in e.message
    assert all(len(r.hits) == 3 for r in served)
    assert metric(slow_scans.metrics_port, "bitrag_overload_rejected_total") >= len(refused)  # type: ignore[attr-defined]
    with slow_scans.client() as c:  # and the server is fine after
        assert len(c.search("big", q, top_k=3).hits) == 3


def test_deadline_stops_the_exact_scan(slow_scans: ServerProc) -> None:
    port = slow_scans.metrics_port  # type: ignore[attr-defined]
    q = np.ones(DIM, np.float32)
    cancelled0 = metric(port, "bitrag_search_cancelled_total", stage="exact_scan")
    scanned0 = metric(port, "bitrag_exact_rows_scanned_total")
    with slow_scans.client(timeout=0.5) as c:
        with pytest.raises(bitrag.DeadlineExceededError):
            c.search("big", q, top_k=3, mode="EXACT")
    deadline = time.monotonic() + 10
    while metric(port, "bitrag_search_cancelled_total", stage="exact_scan") == cancelled0:
        assert time.monotonic() < deadline, "the server never noticed its caller had left"
        time.sleep(0.05)
    scanned = metric(port, "bitrag_exact_rows_scanned_total") - scanned0
    time.sleep(2.5)  # longer than the rest of the scan would have taken
    assert metric(port, "bitrag_exact_rows_scanned_total") - scanned0 == scanned  # it stopped
    assert 0 < scanned < ROWS, scanned  # mid-scan
    # a caller who waits gets the whole scan
    with slow_scans.client(timeout=60) as c:
        assert len(c.search("big", q, top_k=3, mode="EXACT").hits) == 3
    assert metric(port, "bitrag_exact_rows_scanned_total") - scanned0 == scanned + ROWS


def test_concurrent_identical_asks_generate_once(tmp_path: Path) -> None:
    with EmbedServer(dim=64) as embed, LLMServer(api_key=KEY) as llm:
        sp = ServerProc(
            tmp_path / "data",
            env={
                **embed.server_env(),
                "BITRAG_LLM_API_KEY": KEY,
                "BITRAG_LLM_BASE_URL": llm.base_url,
                "BITRAG_LLM_MAX_RETRIES": "0",
                "BITRAG_REDIS_URL": "",  # no cache: only the single flight dedups
            },
        ).start()
        try:
            name = "sf_" + uuid.uuid4().hex[:8]
            with sp.client() as c:
                c.create_collection(name)
                c.ingest_documents(
                    name, [bitrag.Document(f"d{i}", f"Fact number {i}: codes live in RAM.") for i in range(5)]
                )
            llm.script(Reply.text("One answer for all [1].", chunk_chars=4, delay_s=0.1))
            answers: list[bitrag.AskSummary] = []
            texts: list[str] = []

            def ask() -> None:
                with sp.client(timeout=60) as c:
                    parts = []
                    for ch in c.ask(name, "Where do codes live?"):
                        if ch.summary is not None:
                            answers.append(ch.summary)
                        else:
                            parts.append(ch.text)
                    texts.append("".join(parts))

            threads = [threading.Thread(target=ask) for _ in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(answers) == 5
            assert len(llm.chat_requests) == 1  # generated once
            assert texts == ["One answer for all [1]."] * 5
            assert sorted(a.shared for a in answers) == [False] + [True] * 4
            assert len({tuple(s.chunk_id for s in a.sources) for a in answers}) == 1
            # the first caller leaving does not stop the answer of the others
            llm.script(Reply.text("Second answer [1].", chunk_chars=2, delay_s=0.05))
            rest: list[str] = []
            joined = threading.Event()

            def leaver() -> None:
                with sp.client(timeout=60) as c:
                    for _ch in c.ask(name, "What lives in RAM?"):
                        joined.wait(30)  # leave once the other caller is in the same flight
                        break

            def stayer() -> None:
                with sp.client(timeout=60) as c:
                    parts = []
                    for ch in c.ask(name, "What lives in RAM?"):
                        joined.set()
                        if ch.summary is None:
                            parts.append(ch.text)
                    rest.append("".join(parts))

            t1 = threading.Thread(target=leaver)
            t1.start()
            time.sleep(0.05)
            t2 = threading.Thread(target=stayer)
            t2.start()
            t1.join(60)
            t2.join(60)
            assert rest == ["Second answer [1]."]
            assert len(llm.chat_requests) == 2
        finally:
            sp.stop()
