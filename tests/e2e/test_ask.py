"""Ask end to end: real `bitrag serve` subprocesses (Milvus Lite, the local embedder), the real groq
SDK inside the server talking to the loopback chat-completions server (`tests/llm_server.py`), the
real Redis at 127.0.0.1:6379 (a private key prefix per server), the sync and async clients and the
`bitrag ask` command line.

Covered here: the streamed answer and its summary, the request the LLM receives, provider failures
(the summary with the sources and the error arrives before the call's error status, nothing is
cached), extractive answers without an API key, rejected requests, the CLI. The cache itself is
covered in test_ask_cache.py (which reuses the helpers below)."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis

import bitrag
from bitrag import Document
from bitrag_server.answer.generate import EXTRACTIVE_LABEL
from bitrag_server.launch import ServerProcess
from llm_server import DEFAULT_MODEL, LLMServer, Reply

KEY = "test-llm-key"
REDIS_URL = "redis://127.0.0.1:6379/0"
LLM_TIMEOUT_S = 3.0  # the shared server's per-attempt LLM timeout (the hang test waits this long)
STARTUP_TIMEOUT_S = 180.0

DOCS = [
    Document(
        "codes.md",
        "Binary codes live in RAM inside the Milvus binary collection. Each code packs one sign bit "
        "per dimension, so a 384-dimensional vector takes only 48 bytes.",
        {"title": "Binary codes", "year": 2024, "tags": ["ram", "codes"]},
    ),
    Document(
        "floats.md",
        "The float32 rows live on disk in one memory-mapped file per collection. They are read only "
        "to rescore the shortlist of candidates that the binary search returns.",
        {"title": "Float rows", "year": 2023},
    ),
    Document(
        "bread.md",
        "Sourdough bread needs flour, water, salt and a lively starter culture. The dough rises "
        "slowly overnight in a cool kitchen.",
        {"title": "Bread", "year": 2020},
    ),
    Document(
        "tides.md",
        "Ocean tides come from the gravitational pull of the moon. Spring tides happen at full moon "
        "and at new moon.",
        {"year": 2021},
    ),
]
DOC_TEXT = {d.id: d.text for d in DOCS}
DOC_META = {d.id: d.metadata for d in DOCS}
QUESTION = "Where do the binary codes live?"


# ---- helpers (also used by test_ask_cache.py) ---------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def squash(text: str) -> str:
    return " ".join(text.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ask_server(data_dir: Path, env: dict[str, str]) -> ServerProcess:
    """`bitrag serve` with `env` on top of a clean environment (no BITRAG_* inherited)."""
    sp = ServerProcess(data_dir, env=env, ready_timeout_s=STARTUP_TIMEOUT_S)
    sp.start()
    return sp


def llm_env(llm: LLMServer, **extra: Any) -> dict[str, str]:
    env = {
        "BITRAG_LLM_API_KEY": KEY,
        "BITRAG_LLM_BASE_URL": llm.base_url,
        "BITRAG_LLM_MAX_RETRIES": "0",
        "BITRAG_LLM_TIMEOUT_S": str(LLM_TIMEOUT_S),
        "BITRAG_REDIS_URL": REDIS_URL,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def delete_redis_prefix(prefix: str, url: str = REDIS_URL) -> None:
    r = redis.Redis.from_url(url)
    try:
        keys = list(r.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            r.delete(*keys)
    finally:
        r.close()


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The server's Prometheus samples: (name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def metric(port: int, name: str, **labels: str) -> float:
    return metrics(port).get((name, tuple(sorted(labels.items()))), 0.0)


class Answer:
    """One Ask call, consumed: the text pieces, the summary, and the error the stream raised."""

    def __init__(self, chunks: list[bitrag.AnswerChunk], error: bitrag.BitragError | None, seconds: float):
        self.chunks = chunks
        self.error = error
        self.seconds = seconds
        # shape: text pieces, then exactly one summary, last (also when the call then fails)
        assert chunks, "no message before the stream ended"
        assert all(c.summary is None for c in chunks[:-1]), chunks
        assert chunks[-1].summary is not None and chunks[-1].text == "", chunks[-1]
        self.texts = [c.text for c in chunks[:-1]]
        self.summary: bitrag.AskSummary = chunks[-1].summary

    @property
    def text(self) -> str:
        return "".join(self.texts)


def ask(client: bitrag.Client, collection: str, question: str, **kw: Any) -> Answer:
    """Consume `client.ask(...)`; a BitragError raised after the summary is kept in `.error`."""
    chunks: list[bitrag.AnswerChunk] = []
    error = None
    t0 = time.perf_counter()
    try:
        for chunk in client.ask(collection, question, **kw):
            chunks.append(chunk)
    except bitrag.BitragError as exc:
        error = exc
    return Answer(chunks, error, time.perf_counter() - t0)


def ask_ok(client: bitrag.Client, collection: str, question: str, **kw: Any) -> Answer:
    a = ask(client, collection, question, **kw)
    assert a.error is None, a.error
    assert a.summary.error is None
    assert a.text == a.summary.answer
    return a


def ingest_docs(client: bitrag.Client, name: str, docs: list[Document] = DOCS) -> None:
    if name not in {c.name for c in client.list_collections()}:
        client.create_collection(name)
    res = client.ingest_documents(name, docs)
    assert res.documents_added + res.documents_replaced + res.documents_unchanged == len(docs)


def user_prompt(request: dict[str, Any]) -> str:
    msgs = request["body"]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user"]
    return msgs[1]["content"]


def check_sources(summary: bitrag.AskSummary, hits: list[bitrag.Hit]) -> None:
    """The summary's sources are the retrieved chunks, numbered 1..k in rank order."""
    assert [s.number for s in summary.sources] == list(range(1, len(hits) + 1))
    for s, h in zip(summary.sources, hits):
        assert (s.chunk_id, s.document_id) == (h.chunk_id, h.document_id)
        assert s.chunk_id == f"{s.document_id}#0"
        assert s.score == pytest.approx(h.score, abs=1e-5)
        assert s.snippet == squash(DOC_TEXT[s.document_id])  # short documents: the whole text
        assert s.metadata == DOC_META[s.document_id]
    scores = [s.score for s in summary.sources]
    assert scores == sorted(scores, reverse=True)


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


@pytest.fixture(scope="module")
def gen_server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[ServerProcess]:
    """LLM configured (groq SDK -> loopback server), cache in the real Redis, metrics on."""
    prefix = f"bitrag-test-{uuid.uuid4().hex}"
    port = free_port()
    sp = start_ask_server(
        tmp_path_factory.mktemp("ask_gen"),
        llm_env(llm, BITRAG_REDIS_PREFIX=prefix, BITRAG_METRICS_PORT=port),
    )
    sp.metrics_port = port  # type: ignore[attr-defined]
    try:
        yield sp
    finally:
        sp.stop()
        delete_redis_prefix(prefix)


@pytest.fixture(scope="module")
def extractive_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """No LLM API key anywhere (GROQ_API_KEY emptied too) and no cache configured."""
    env = {"GROQ_API_KEY": "", "BITRAG_REDIS_URL": ""}
    sp = start_ask_server(tmp_path_factory.mktemp("ask_extractive"), env)
    try:
        yield sp
    finally:
        sp.stop()


@pytest.fixture(scope="module")
def gen_client(gen_server: ServerProcess) -> Iterator[bitrag.Client]:
    with bitrag.Client(gen_server.target) as c:
        yield c


@pytest.fixture(scope="module")
def docs(gen_client: bitrag.Client) -> str:
    name = unique("ask")
    ingest_docs(gen_client, name)
    return name


# ---- streaming answers --------------------------------------------------------------------------

ANSWER = (
    "Binary codes live in RAM inside the Milvus binary collection [1]. The float32 rows stay on "
    "disk [2] and are only read to rescore [2]; bread is unrelated [3]. Nothing in [7]."
)


def test_streamed_answer_sync(
    gen_server: ServerProcess, gen_client: bitrag.Client, docs: str, llm: LLMServer
) -> None:
    llm.script(Reply.text(ANSWER, chunk_chars=7, usage={"prompt_tokens": 321, "completion_tokens": 45}))
    hits = gen_client.search(docs, QUESTION, top_k=3).hits
    a = ask_ok(gen_client, docs, QUESTION, top_k=3)
    s = a.summary

    # several text deltas, exactly as the provider streamed them, then the summary
    assert a.texts == [ANSWER[i:i + 7] for i in range(0, len(ANSWER), 7)]
    assert a.text == s.answer == ANSWER

    # sources: the retrieved chunks, numbered, with ids, scores, snippets and metadata
    assert len(s.sources) == 3
    check_sources(s, hits)
    assert s.sources[0].document_id == "codes.md"
    assert s.cited == [1, 2, 3]  # order of first citation; [7] is not a source

    # the request the provider received
    [req] = llm.chat_requests
    assert req["path"] == "/openai/v1/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    body = req["body"]
    assert body["model"] == DEFAULT_MODEL == s.model
    assert body["temperature"] == pytest.approx(0.2)
    assert body["max_tokens"] == 1024
    assert body["stream"] is True
    prompt = user_prompt(req)
    for src in s.sources:
        head = f"[{src.number}] (document: {src.document_id})"
        assert head in prompt
        assert squash(DOC_TEXT[src.document_id]) in prompt
    assert "[4]" not in prompt  # top_k=3 sources only
    order = [prompt.index(x) for x in ("[1]", "[2]", "[3]", f"Question: {QUESTION}")]
    assert order == sorted(order)
    assert "[1] (document: codes.md) Binary codes\n" in prompt  # the title travels in the source's head

    assert s.generated is True
    assert (s.usage.prompt_tokens, s.usage.completion_tokens, s.usage.total_tokens) == (321, 45, 366)
    t = s.timings
    assert t.retrieval_us > 0 and t.first_token_us > 0 and t.total_us > 0
    assert t.first_token_us <= t.total_us
    assert t.retrieval_us < t.total_us
    assert s.cache == "MISS"
    assert s.error is None
    d = s.retrieval
    assert d is not None
    assert d.path == "BINARY_RESCORED" and d.mode == "AUTO"
    assert d.candidates_examined >= 3 and d.total_us > 0 and "rescore" in d.timings_us


async def test_streamed_answer_async_with_overrides(
    gen_server: ServerProcess, docs: str, llm: LLMServer
) -> None:
    text = "Codes are kept in memory [1], rows on disk [2]."
    llm.script(Reply.text(text, chunk_chars=5))
    chunks: list[bitrag.AnswerChunk] = []
    async with bitrag.AsyncClient(gen_server.target) as c:
        async for chunk in c.ask(docs, "Where are the codes kept, and the rows?", top_k=2,
                                 model="llama-3.1-8b-instant", temperature=0.0, max_tokens=77):
            chunks.append(chunk)
    assert len(chunks) == math.ceil(len(text) / 5) + 1
    assert all(not c.done and c.text for c in chunks[:-1])
    s = chunks[-1].summary
    assert chunks[-1].done and s is not None
    assert "".join(c.text for c in chunks[:-1]) == s.answer == text
    assert s.model == "llama-3.1-8b-instant"
    assert [x.number for x in s.sources] == [1, 2]
    assert {x.document_id for x in s.sources} == {"codes.md", "floats.md"}
    assert s.cited == [1, 2]
    assert s.generated and s.cache == "MISS" and s.error is None
    assert s.timings.first_token_us <= s.timings.total_us

    [req] = llm.chat_requests
    body = req["body"]
    assert body["model"] == "llama-3.1-8b-instant"
    assert body["temperature"] == 0.0  # explicitly 0, not the server default
    assert body["max_tokens"] == 77
    assert body["stream"] is True
    prompt = user_prompt(req)
    assert "[2] (document:" in prompt and "[3] (document:" not in prompt
    # usage computed by the loopback provider: words of the messages / of the answer
    assert s.usage.completion_tokens == len(text.split())
    assert s.usage.prompt_tokens == sum(len(m["content"].split()) for m in body["messages"])
    assert s.usage.total_tokens == s.usage.prompt_tokens + s.usage.completion_tokens


# ---- provider failures --------------------------------------------------------------------------

ERROR_CASES = {
    # name: (reply, SDK exception, status name, words in the message)
    "unauthorized": (None, bitrag.FailedPreconditionError, "FAILED_PRECONDITION", ("HTTP 401", "API key")),
    "rate_limited": (Reply.error(429, headers={"retry-after": "7"}), bitrag.ResourceExhaustedError,
                     "RESOURCE_EXHAUSTED", ("HTTP 429", "retry after 7")),
    "unavailable": (Reply.error(503), bitrag.UnavailableError, "UNAVAILABLE",
                    ("HTTP 503", "Service Unavailable")),
    "hang": (Reply.hang(LLM_TIMEOUT_S + 8), bitrag.DeadlineExceededError, "DEADLINE_EXCEEDED",
             (f"{LLM_TIMEOUT_S:g} s",)),
    "broken_stream": (Reply.broken("Binary codes live in RAM [1] and", chunk_chars=6),
                      bitrag.UnavailableError, "UNAVAILABLE", ("stream",)),
    # the stream starts, then stalls longer than the timeout between two pieces
    "stalled_stream": (Reply.text("Binary codes live in RAM [1] and", chunk_chars=16,
                                  delay_s=LLM_TIMEOUT_S + 8),
                       bitrag.DeadlineExceededError, "DEADLINE_EXCEEDED", (f"{LLM_TIMEOUT_S:g} s",)),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_generation_failure_sends_summary_then_status(
    case: str, gen_server: ServerProcess, gen_client: bitrag.Client, docs: str, llm: LLMServer
) -> None:
    reply, exc_cls, code, words = ERROR_CASES[case]
    question = f"Where do the binary codes live? ({case})"  # its own cache entry
    if reply is None:
        llm.api_key = "another-key"  # the provider refuses the server's key for real
    else:
        llm.script(reply)
    port = gen_server.metrics_port  # type: ignore[attr-defined]
    errors_before = metric(port, "bitrag_llm_errors_total", code=code)

    a = ask(gen_client, docs, question, top_k=2)

    # the summary arrived first, with the sources and the error ...
    s = a.summary
    assert [x.number for x in s.sources] == [1, 2]
    assert s.sources[0].document_id == "codes.md"
    assert s.sources[0].snippet == squash(DOC_TEXT["codes.md"])
    assert s.error is not None and s.error.code == code
    for w in words:
        assert w in s.error.message, (w, s.error.message)
    assert s.retrieval is not None and s.timings.retrieval_us > 0
    assert s.cache == "MISS"
    assert s.answer == a.text
    # ... then the call ended with the error's status
    assert isinstance(a.error, exc_cls), a.error
    assert a.error.code == getattr(grpc.StatusCode, code)
    assert a.error.message == s.error.message
    assert len(llm.chat_requests) == 1  # max_retries=0: one attempt

    if case == "rate_limited":
        assert a.error.retry_after == pytest.approx(7.0)
        assert s.error.retry_after_s == pytest.approx(7.0)
    else:
        assert a.error.retry_after is None
        assert s.error.retry_after_s == 0.0
    if case == "broken_stream":
        assert a.text == "Binary codes live in RAM [1] and"  # what arrived before the cut
        assert s.cited == [1]
    elif case == "stalled_stream":
        assert a.texts == ["Binary codes liv"]  # the first piece, then nothing
        assert s.cited == []
    else:
        assert a.texts == [] and s.answer == ""
    if case in ("hang", "stalled_stream"):
        assert LLM_TIMEOUT_S * 0.9 <= a.seconds < LLM_TIMEOUT_S + 6

    assert metric(port, "bitrag_llm_errors_total", code=code) == errors_before + 1

    # nothing was cached: the same question is a MISS (and now answers)
    llm.reset()
    again = ask_ok(gen_client, docs, question, top_k=2)
    assert again.summary.cache == "MISS"
    assert again.summary.answer == "The answer is in [1]."
    assert len(llm.chat_requests) == 1


async def test_generation_failure_async_client(gen_server: ServerProcess, docs: str, llm: LLMServer) -> None:
    """AsyncClient: the summary (sources + error) is yielded, then the iteration raises."""
    llm.script(Reply.error(429, headers={"retry-after-ms": "2500"}))
    chunks: list[bitrag.AnswerChunk] = []
    async with bitrag.AsyncClient(gen_server.target) as c:
        with pytest.raises(bitrag.ResourceExhaustedError) as ei:
            async for chunk in c.ask(docs, "Where do the binary codes live? (async 429)", top_k=2):
                chunks.append(chunk)
    assert len(chunks) == 1 and chunks[0].done
    s = chunks[0].summary
    assert [x.number for x in s.sources] == [1, 2] and s.sources[0].document_id == "codes.md"
    assert s.error is not None and s.error.code == "RESOURCE_EXHAUSTED"
    assert s.error.retry_after_s == pytest.approx(2.5)
    assert ei.value.retry_after == pytest.approx(2.5)
    assert "retry after 2.5 s" in ei.value.message


def test_rate_limit_rich_status_retry_info(gen_server: ServerProcess, docs: str, llm: LLMServer) -> None:
    """The provider's retry hint also travels as the standard google.rpc.RetryInfo in
    `grpc-status-details-bin`, read here by grpcio-status on a raw stub (no bitrag SDK)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    from bitrag.v1 import bitrag_pb2 as pb
    from bitrag.v1 import bitrag_pb2_grpc as pb_grpc

    llm.script(Reply.error(429, headers={"retry-after": "3"}))
    with grpc.insecure_channel(gen_server.target) as ch:
        call = pb_grpc.BitragServiceStub(ch).Ask(
            pb.AskRequest(collection=docs, question="Where do codes live? (rich 429)", top_k=2), timeout=60)
        with pytest.raises(grpc.RpcError) as ei:
            for _ in call:
                pass
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(ei.value)
    assert status is not None and status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    retry = error_details_pb2.RetryInfo()
    assert [d.Unpack(retry) for d in status.details] == [True]
    assert retry.retry_delay.ToMilliseconds() == 3000
    assert ("bitrag-retry-after-ms", "3000") in tuple(ei.value.trailing_metadata())


# ---- no API key: extractive answers -------------------------------------------------------------


def test_extractive_answer_without_api_key(extractive_server: ServerProcess) -> None:
    with bitrag.Client(extractive_server.target) as c:
        name = unique("extractive")
        ingest_docs(c, name)
        hits = c.search(name, QUESTION, top_k=4).hits
        a = ask_ok(c, name, QUESTION, top_k=4, model="ignored-model")
        s = a.summary
        assert s.generated is False
        assert s.model == "extractive"
        assert s.cache == "DISABLED"
        assert (s.usage.prompt_tokens, s.usage.completion_tokens, s.usage.total_tokens) == (0, 0, 0)
        assert s.error is None
        check_sources(s, hits)
        assert len(a.texts) >= 2  # streamed: the label, then one piece per passage

        assert s.answer.startswith(EXTRACTIVE_LABEL)
        assert "not generated" in s.answer.splitlines()[0]
        lines = [ln for ln in s.answer.splitlines()[1:] if ln.strip()]
        assert 1 <= len(lines) <= 3  # passages of the top 3 sources, ranked by the query embedding
        numbers = []
        for ln in lines:
            m = re.fullmatch(r"- (.+) \[(\d+)\]", ln)
            assert m, ln
            n = int(m.group(2))
            numbers.append(n)
            src = s.sources[n - 1]
            assert m.group(1) in squash(DOC_TEXT[src.document_id])  # a sentence of that source
        assert numbers == sorted(numbers) and numbers[0] == 1  # in reading order, the top source first
        assert s.cited == sorted(set(numbers))
        assert "Binary codes live in RAM" in lines[0]  # the sentence that matches the question
        quoted = {s.sources[n - 1].document_id for n in numbers}
        assert not quoted & {"bread.md", "tides.md"}  # unrelated sources are not quoted
        t = s.timings
        assert t.retrieval_us > 0 and 0 < t.first_token_us <= t.total_us


# ---- rejected requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kw", "field"),
    [
        ("", {}, "question"),
        ("   ", {}, "question"),
        ("x" * 5000, {}, "question"),
        (QUESTION, {"top_k": 51}, "top_k"),
        (QUESTION, {"temperature": 3.0}, "temperature"),
        (QUESTION, {"temperature": -0.5}, "temperature"),
    ],
)
def test_invalid_arguments(gen_client: bitrag.Client, docs: str, llm: LLMServer, question: str,
                           kw: dict[str, Any], field: str) -> None:
    with pytest.raises(bitrag.InvalidArgumentError) as ei:
        list(gen_client.ask(docs, question, **kw))
    e = ei.value
    assert e.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.field == field and e.message.startswith(f"{field}: "), e.message
    assert llm.chat_requests == []


def test_unknown_collection(gen_client: bitrag.Client, llm: LLMServer) -> None:
    with pytest.raises(bitrag.NotFoundError) as ei:
        list(gen_client.ask(unique("missing"), QUESTION))
    assert ei.value.code == grpc.StatusCode.NOT_FOUND
    assert llm.chat_requests == []


@pytest.fixture(scope="module")
def vector_only(gen_client: bitrag.Client) -> str:
    name = unique("noembed")
    gen_client.create_collection(name, embedder="none", dimension=64)
    return name


def test_collection_without_embedder(gen_client: bitrag.Client, vector_only: str, llm: LLMServer) -> None:
    with pytest.raises(bitrag.FailedPreconditionError) as ei:
        list(gen_client.ask(vector_only, QUESTION))
    e = ei.value
    assert e.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "no embedder" in e.message
    assert e.field == "question", e.message  # an AskRequest field (AskRequest has no `text`)
    assert llm.chat_requests == []


# ---- the command line ---------------------------------------------------------------------------


def bitrag_cli(*args: str, target: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "200"  # rich wraps at 80 columns when not on a terminal
    cmd = [sys.executable, "-m", "bitrag.cli", "--target", target, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_ask(gen_server: ServerProcess, docs: str, llm: LLMServer) -> None:
    text = "Binary codes live in RAM [1]; the rows are on disk [2]."
    llm.script(Reply.text(text, chunk_chars=4))
    p = bitrag_cli("ask", "Where do codes live (cli)?", "-c", docs, "-k", "3", target=gen_server.target)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith(text + "\n"), out
    assert "sources" in out
    table = out[len(text):]
    for n in (1, 2, 3):
        assert f"[{n}]" in table
    assert "codes.md#0" in table and "floats.md#0" in table
    assert "(not cited)" in table  # the third source is not cited
    assert "Binary codes live in RAM inside the Milvus binary collection" in table  # snippet
    assert f"{DEFAULT_MODEL} · cache MISS" in out
    assert p.stderr.strip() == "" or "error" not in p.stderr
    [req] = llm.chat_requests
    assert "Where do codes live (cli)?" in user_prompt(req)


def test_cli_ask_json(gen_server: ServerProcess, docs: str, llm: LLMServer) -> None:
    text = "Rows are on disk [1]."
    llm.script(Reply.text(text))
    p = bitrag_cli("ask", "Where are the float32 rows stored (json)?", "-c", docs, "-k", "2", "--json",
                   "--model", "llama-3.1-8b-instant", target=gen_server.target)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stdout  # one JSON object, no streamed text
    obj = json.loads(lines[0])
    assert obj["answer"] == text
    assert obj["cache"] == "MISS"
    assert obj["model"] == "llama-3.1-8b-instant" and obj["generated"] is True
    assert [s["number"] for s in obj["sources"]] == [1, 2]
    assert obj["sources"][0]["document_id"] == "floats.md"
    assert obj["sources"][0]["metadata"] == DOC_META["floats.md"]
    assert obj["cited"] == [1]
    assert obj["error"] is None
    assert llm.chat_requests[0]["body"]["model"] == "llama-3.1-8b-instant"


def test_cli_ask_rate_limited(gen_server: ServerProcess, docs: str, llm: LLMServer) -> None:
    llm.script(Reply.error(429, headers={"retry-after": "12"}))
    p = bitrag_cli("ask", "Where do codes live (cli 429)?", "-c", docs, "-k", "2", target=gen_server.target)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "sources" in p.stdout and "codes.md#0" in p.stdout  # the sources are still shown
    assert "RESOURCE_EXHAUSTED" in p.stderr
    assert "retry after 12" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_rate_limit_with_non_finite_retry_after(
    gen_client: bitrag.Client, docs: str, llm: LLMServer, value: str
) -> None:
    """A junk retry-after from the provider must not turn the 429 into UNKNOWN (errors._abort rounds it)."""
    llm.script(Reply.error(429, headers={"retry-after": value}))
    a = ask(gen_client, docs, f"Where do the binary codes live? (retry-after {value})", top_k=2)
    assert a.summary.error is not None and a.summary.error.code == "RESOURCE_EXHAUSTED"
    assert isinstance(a.error, bitrag.ResourceExhaustedError), a.error
    assert a.error.retry_after is None or math.isfinite(a.error.retry_after)
