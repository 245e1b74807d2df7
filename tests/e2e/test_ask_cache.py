"""The Ask answer cache end to end, in the real Redis: real `bitrag serve` subprocesses, the real
groq SDK against the loopback LLM server (`tests/llm_server.py`), a private key prefix per server
(deleted at the end).

MISS/HIT and what a hit replays, question normalisation, what partitions the cache (retrieval
parameters, model), no_cache, invalidation by ingest / delete / drop+recreate, TTL expiry, the
semantic (near-duplicate) lookup, and a Redis outage on a private redis-server: asks keep answering
fast, the cache reports UNAVAILABLE, and comes back by itself when Redis does."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import bitrag
from bitrag import Document
from bitrag_server.launch import ServerProcess
from llm_server import LLMServer, Reply

from .test_ask import (
    DOCS,
    KEY,
    QUESTION,
    REDIS_URL,
    Answer,
    ask_ok,
    delete_redis_prefix,
    free_port,
    ingest_docs,
    llm_env,
    metric,
    start_ask_server,
    unique,
)

LONG_ANSWER = (
    "Binary codes live in RAM inside the Milvus binary collection [1], one sign bit per dimension, "
    "while the float32 rows stay on disk [2] and are read only to rescore the shortlist [2]."
)


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh_llm(llm: LLMServer) -> Iterator[None]:
    llm.reset()
    yield
    llm.reset()


def cached_server(
    tmp_path_factory: pytest.TempPathFactory, llm: LLMServer, tag: str, **env: object
) -> Iterator[ServerProcess]:
    prefix = f"bitrag-test-{tag}-{uuid.uuid4().hex}"
    port = free_port()
    sp = start_ask_server(
        tmp_path_factory.mktemp(f"cache_{tag}"),
        llm_env(llm, BITRAG_REDIS_PREFIX=prefix, BITRAG_METRICS_PORT=port, **env),
    )
    sp.prefix = prefix  # type: ignore[attr-defined]
    sp.metrics_port = port  # type: ignore[attr-defined]
    try:
        yield sp
    finally:
        sp.stop()
        delete_redis_prefix(prefix)


@pytest.fixture(scope="module")
def cache_server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[ServerProcess]:
    yield from cached_server(tmp_path_factory, llm, "main")


@pytest.fixture(scope="module")
def client(cache_server: ServerProcess) -> Iterator[bitrag.Client]:
    with bitrag.Client(cache_server.target) as c:
        yield c


@pytest.fixture
def coll(client: bitrag.Client) -> str:
    """A fresh collection of DOCS per test (tests below change, delete and drop its documents)."""
    name = unique("cache")
    ingest_docs(client, name)
    return name


@pytest.fixture(scope="module")
def rds() -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(REDIS_URL)
    yield r
    r.close()


def status(a: Answer) -> str:
    return a.summary.cache


# ---- MISS / HIT ---------------------------------------------------------------------------------


def test_miss_then_hit_replays_the_answer(cache_server: ServerProcess, client: bitrag.Client, coll: str,
                                          llm: LLMServer, rds: redis.Redis) -> None:
    port = cache_server.metrics_port  # type: ignore[attr-defined]
    hits0 = metric(port, "bitrag_answer_cache_requests_total", result="hit")
    misses0 = metric(port, "bitrag_answer_cache_requests_total", result="miss")
    llm.script(Reply.text(LONG_ANSWER, chunk_chars=9, usage={"prompt_tokens": 200, "completion_tokens": 40}))

    first = ask_ok(client, coll, QUESTION, top_k=3)
    s1 = first.summary
    assert s1.cache == "MISS"
    assert s1.answer == LONG_ANSWER
    assert s1.timings.cache_us > 0

    second = ask_ok(client, coll, QUESTION, top_k=3)
    s2 = second.summary
    assert s2.cache == "HIT"
    assert len(llm.chat_requests) == 1  # the LLM was asked once
    # the hit still streams: pieces of at most 64 characters that rebuild the answer
    assert len(second.texts) >= 3
    assert all(0 < len(t) <= 64 for t in second.texts)
    assert second.text == s2.answer == LONG_ANSWER
    assert s2.sources == s1.sources  # numbers, ids, scores, snippets, metadata
    assert len(s2.sources) == 3
    assert s2.cited == s1.cited == [1, 2]
    assert (s2.model, s2.generated, s2.usage) == (s1.model, True, s1.usage)
    assert s2.usage.total_tokens == 240
    # no retrieval, no generation
    assert s2.timings.retrieval_us == 0
    assert s2.retrieval is None
    assert s2.error is None
    assert s2.timings.cache_us > 0
    assert 0 < s2.timings.first_token_us <= s2.timings.total_us

    assert metric(port, "bitrag_answer_cache_requests_total", result="hit") == hits0 + 1
    assert metric(port, "bitrag_answer_cache_requests_total", result="miss") == misses0 + 1

    # the entry in Redis: under the server's prefix and collection, with the default TTL (1 day)
    prefix = cache_server.prefix  # type: ignore[attr-defined]
    keys = list(rds.scan_iter(f"{prefix}:answer:{coll}:*"))
    assert len(keys) == 1
    assert 86400 - 120 < rds.ttl(keys[0]) <= 86400


def test_normalised_question_hits(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    assert status(ask_ok(client, coll, "where do codes live")) == "MISS"
    for variant in ("  WHERE do codes live ?", "Where do\tcodes   live?!", "where do codes live..."):
        a = ask_ok(client, coll, variant)
        assert status(a) == "HIT", variant
        assert a.summary.answer == "The answer is in [1]."
    assert len(llm.chat_requests) == 1
    assert status(ask_ok(client, coll, "where do the codes live")) == "MISS"  # a different question
    assert len(llm.chat_requests) == 2


def test_parameters_partition_the_cache(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    variants = [
        {"top_k": 2},
        {"filter": 'year >= 2023'},
        {"model": "llama-3.1-8b-instant"},
        {"temperature": 0.9},
        {"max_tokens": 64},
        {"mode": "EXACT"},
    ]
    for kw in variants:
        llm.script(Reply.text(f"Answer for {sorted(kw)} [1]."))
        a = ask_ok(client, coll, QUESTION, **kw)
        assert status(a) == "MISS", kw
        assert a.summary.answer == f"Answer for {sorted(kw)} [1]."
    assert len(llm.chat_requests) == 1 + len(variants)
    assert [r["body"]["model"] for r in llm.chat_requests].count("llama-3.1-8b-instant") == 1
    # each is cached on its own
    for kw in variants:
        a = ask_ok(client, coll, QUESTION, **kw)
        assert status(a) == "HIT", kw
        assert a.summary.answer == f"Answer for {sorted(kw)} [1]."
    filtered = ask_ok(client, coll, QUESTION, filter="year >= 2023").summary
    assert {s.document_id for s in filtered.sources} <= {"codes.md", "floats.md"}
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    assert len(llm.chat_requests) == 1 + len(variants)


def test_no_cache_bypasses_reads_and_writes(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    llm.script(Reply.text("Cached answer [1]."), Reply.text("Fresh answer [2]."))
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    a = ask_ok(client, coll, QUESTION, cache=False)
    assert status(a) == "BYPASS"
    assert a.summary.answer == "Fresh answer [2]."  # not read from the cache: generated again
    assert a.summary.retrieval is not None and a.summary.timings.retrieval_us > 0
    assert a.summary.timings.cache_us == 0
    assert len(llm.chat_requests) == 2
    b = ask_ok(client, coll, QUESTION)
    assert (status(b), b.summary.answer) == ("HIT", "Cached answer [1].")  # the bypass wrote nothing

    other = "Which ingredients does sourdough bread need?"
    assert status(ask_ok(client, coll, other, cache=False)) == "BYPASS"
    assert status(ask_ok(client, coll, other)) == "MISS"  # nothing stored by the bypass
    assert len(llm.chat_requests) == 4


# ---- invalidation -------------------------------------------------------------------------------


def test_ingest_of_a_changed_document_invalidates(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"

    res = client.ingest_documents(coll, [DOCS[2]])  # unchanged: skipped, generation unchanged
    assert (res.documents_unchanged, res.chunks_written) == (1, 0)
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    assert len(llm.chat_requests) == 1

    changed = Document(DOCS[0].id, DOCS[0].text + " They are rebuilt on restart.", DOCS[0].metadata)
    res = client.ingest_documents(coll, [changed])
    assert res.documents_replaced == 1
    llm.script(Reply.text("New answer [1]."))
    a = ask_ok(client, coll, QUESTION)
    assert status(a) == "MISS"
    assert a.summary.answer == "New answer [1]."
    assert a.summary.sources[0].snippet.endswith("They are rebuilt on restart.")
    b = ask_ok(client, coll, QUESTION)
    assert (status(b), b.summary.answer) == ("HIT", "New answer [1].")
    assert len(llm.chat_requests) == 2


def test_delete_invalidates(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    client.delete(coll, ["codes.md"])
    a = ask_ok(client, coll, QUESTION)
    assert status(a) == "MISS"
    assert "codes.md" not in {s.document_id for s in a.summary.sources}
    assert len(llm.chat_requests) == 2
    client.delete(coll, ["not-there.md"])  # deletes nothing: the entry stays valid
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"


def test_drop_and_recreate_invalidates(client: bitrag.Client, coll: str, llm: LLMServer) -> None:
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    client.drop_collection(coll)
    ingest_docs(client, coll)  # same name, same documents: same generation, new creation time
    assert status(ask_ok(client, coll, QUESTION)) == "MISS"
    assert status(ask_ok(client, coll, QUESTION)) == "HIT"
    assert len(llm.chat_requests) == 2


# ---- TTL ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ttl_server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[ServerProcess]:
    yield from cached_server(tmp_path_factory, llm, "ttl", BITRAG_ANSWER_CACHE_TTL_S=1)


def test_ttl_expiry(ttl_server: ServerProcess, llm: LLMServer, rds: redis.Redis) -> None:
    with bitrag.Client(ttl_server.target) as c:
        name = unique("ttl")
        ingest_docs(c, name)
        assert status(ask_ok(c, name, QUESTION)) == "MISS"
        hit = ask_ok(c, name, QUESTION)
        if status(hit) != "HIT":  # only if more than 1 s passed between the two calls (a loaded machine)
            pytest.fail(f"expected a HIT within the 1 s TTL, got {status(hit)} after {hit.seconds:.2f} s")
        prefix = ttl_server.prefix  # type: ignore[attr-defined]
        for k in rds.scan_iter(f"{prefix}:answer:{name}:*"):
            assert rds.pttl(k) <= 1000
        time.sleep(2.0)
        assert status(ask_ok(c, name, QUESTION)) == "MISS"
        assert len(llm.chat_requests) == 2


# ---- semantic cache -----------------------------------------------------------------------------

# The server's default threshold is dimension / 48 = 8 bits for all-MiniLM-L6-v2 (384 sign bits).
# Hamming distances measured from SEM_QUESTION (single-question embeddings, as the server does):
#   "... of document chunks?" (article dropped)              3 bits  -> SEMANTIC_HIT
#   "... keep binary codes of the document chunks?"          8 bits  (on the threshold: not used)
#   "... keep the document chunks' binary codes?" (reordered) 9 bits  -> MISS at the default
#   "... store the binary codes ..." (one word changed)      15 bits  -> MISS at the default
#   "What ingredients does sourdough bread need?"           156 bits
# Short questions move more: "where do codes live" vs "where do the codes live" is 26-29 bits.
SEM_QUESTION = "Where does bitrag keep the binary codes of the document chunks?"
SEM_NEAR = "Where does bitrag keep the binary codes of document chunks?"
SEM_UNRELATED = "What ingredients does sourdough bread need?"


@pytest.fixture(scope="module")
def semantic_server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[ServerProcess]:
    yield from cached_server(tmp_path_factory, llm, "semantic", BITRAG_SEMANTIC_CACHE="true")


def test_semantic_cache(semantic_server: ServerProcess, llm: LLMServer) -> None:
    port = semantic_server.metrics_port  # type: ignore[attr-defined]
    with bitrag.Client(semantic_server.target) as c:
        name = unique("semantic")
        ingest_docs(c, name)
        llm.script(Reply.text(LONG_ANSWER))
        first = ask_ok(c, name, SEM_QUESTION, top_k=3)
        assert status(first) == "MISS"
        assert status(ask_ok(c, name, SEM_QUESTION, top_k=3)) == "HIT"  # exact hit first
        a = ask_ok(c, name, SEM_NEAR, top_k=3)
        assert status(a) == "SEMANTIC_HIT"
        assert a.summary.answer == a.text == LONG_ANSWER  # the cached question's answer, streamed
        assert a.summary.sources == first.summary.sources
        assert a.summary.timings.retrieval_us == 0 and a.summary.retrieval is None
        assert a.summary.timings.cache_us > 0
        assert len(llm.chat_requests) == 1
        assert metric(port, "bitrag_answer_cache_requests_total", result="semantic_hit") == 1

        # other scopes do not match: another top_k is a MISS even for a near-duplicate
        assert status(ask_ok(c, name, SEM_NEAR, top_k=2)) == "MISS"
        # an unrelated question is a MISS, and gets its own answer
        llm.script(Reply.text("Flour, water, salt and a starter [1]."))
        u = ask_ok(c, name, SEM_UNRELATED, top_k=3)
        assert status(u) == "MISS"
        assert u.summary.answer == "Flour, water, salt and a starter [1]."
        assert len(llm.chat_requests) == 3


# ---- Redis outage -------------------------------------------------------------------------------


class PrivateRedis:
    """The machine's redis-server on a free loopback port, no persistence; stop()/start() again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                r = redis.Redis(port=self.port, socket_timeout=1)
                r.ping()
                r.close()
                return
            except redis.RedisError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    pr = PrivateRedis(tmp_path_factory.mktemp("redis"))
    pr.start()
    try:
        yield pr
    finally:
        pr.stop()


@pytest.fixture(scope="module")
def outage_server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer,
                  private_redis: PrivateRedis) -> Iterator[ServerProcess]:
    yield from cached_server(tmp_path_factory, llm, "outage", BITRAG_REDIS_URL=private_redis.url)


def cache_errors(port: int) -> float:
    return sum(metric(port, "bitrag_answer_cache_errors_total", op=op) for op in ("get", "put", "semantic"))


def test_redis_outage_and_recovery(
    outage_server: ServerProcess, private_redis: PrivateRedis, llm: LLMServer
) -> None:
    port = outage_server.metrics_port  # type: ignore[attr-defined]
    with bitrag.Client(outage_server.target) as c:
        name = unique("outage")
        ingest_docs(c, name)
        assert status(ask_ok(c, name, QUESTION)) == "MISS"
        assert status(ask_ok(c, name, QUESTION)) == "HIT"
        errors0 = cache_errors(port)
        assert "answer cache unavailable" not in outage_server.text()

        private_redis.stop()
        calls = len(llm.chat_requests)
        outage = [ask_ok(c, name, QUESTION)]  # Redis fails: answered uncached
        outage.append(ask_ok(c, name, QUESTION))  # within the back-off: Redis skipped
        time.sleep(1.2)  # past the first back-off (1 s): Redis tried again, fails again
        outage.append(ask_ok(c, name, QUESTION))
        outage.append(ask_ok(c, name, QUESTION))
        for a in outage:
            assert status(a) == "UNAVAILABLE"
            assert a.summary.answer == "The answer is in [1]."
            assert a.summary.sources and a.summary.timings.retrieval_us > 0
            assert a.seconds < 2.0, [round(x.seconds, 3) for x in outage]
        assert len(llm.chat_requests) == calls + len(outage)  # each one generated
        assert outage_server.text().count("answer cache unavailable") == 1  # one warning per outage
        assert cache_errors(port) >= errors0 + 2
        assert metric(port, "bitrag_answer_cache_requests_total", result="unavailable") == len(outage)

        private_redis.start()  # same port, empty (no persistence)
        deadline = time.monotonic() + 15
        seen = []
        while True:
            a = ask_ok(c, name, QUESTION)
            seen.append(status(a))
            if status(a) != "UNAVAILABLE":
                break
            assert time.monotonic() < deadline, f"cache did not come back: {seen}"
            time.sleep(0.25)
        assert status(a) == "MISS", seen  # the restarted Redis is empty
        assert status(ask_ok(c, name, QUESTION)) == "HIT"
        assert "answer cache reachable again" in outage_server.text()
        assert outage_server.text().count("answer cache unavailable") == 1
