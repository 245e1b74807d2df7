"""tests/llm_server.py: the loopback chat-completions server, driven through the REAL groq and openai
SDKs (no mocks), so the Ask tests can rely on its wire format and failure modes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import groq
import httpx
import openai
import pytest

from llm_server import DEFAULT_TEXT, LLMServer, Reply

KEY = "test-key"
MODEL = "llama-3.3-70b-versatile"
MESSAGES = [
    {"role": "system", "content": "Answer from the sources."},
    {"role": "user", "content": "What is bitrag?"},
]
PROMPT_WORDS = 4 + 3  # words in MESSAGES' contents


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


@pytest.fixture
def llm(server: LLMServer) -> Iterator[LLMServer]:
    server.reset()
    server.api_key = KEY
    yield server
    server.reset()


def client(llm: LLMServer, **kw) -> groq.Groq:
    kw.setdefault("max_retries", 0)
    kw.setdefault("timeout", 5.0)
    return groq.Groq(api_key=KEY, base_url=llm.base_url, **kw)


def aclient(llm: LLMServer, **kw) -> groq.AsyncGroq:
    kw.setdefault("max_retries", 0)
    kw.setdefault("timeout", 5.0)
    return groq.AsyncGroq(api_key=KEY, base_url=llm.base_url, **kw)


def test_groq_sync_streaming(llm: LLMServer) -> None:
    text = "bitrag retrieves binary-quantised passages [1] and reranks them [2]."
    llm.script(Reply.text(text, chunk_chars=5))
    with client(llm) as c:
        stream = c.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.2,
                                           max_tokens=128, stream=True)
        chunks = list(stream)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == text
    assert len(chunks) == -(-len(text) // 5)  # one chunk per piece, nothing else without include_usage
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(ch.choices[0].finish_reason is None for ch in chunks[:-1])
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model == MODEL and last.object == "chat.completion.chunk"
    assert len({ch.id for ch in chunks}) == 1
    usage = last.x_groq.usage
    assert usage is not None
    assert usage.prompt_tokens == PROMPT_WORDS
    assert usage.completion_tokens == len(text.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert chunks[0].x_groq.usage is None  # usage only on the final chunk

    [req] = llm.requests
    assert req["path"] == "/openai/v1/chat/completions"
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    assert req["headers"]["x-stainless-retry-count"] == "0"
    body = req["body"]
    assert body["model"] == MODEL and body["messages"] == MESSAGES
    assert body["temperature"] == 0.2 and body["max_tokens"] == 128 and body["stream"] is True


def test_streaming_is_incremental(llm: LLMServer) -> None:
    llm.script(Reply.text("a" * 12, chunk_chars=3, delay_s=0.15))  # 4 chunks, 3 gaps
    t0 = time.monotonic()
    arrivals = []
    with client(llm) as c:
        for _ch in c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            arrivals.append(time.monotonic() - t0)
    assert len(arrivals) == 4
    assert arrivals[0] < 0.3  # the first chunk is not held back until the end
    assert arrivals[-1] - arrivals[0] >= 0.4


async def test_async_groq_streaming(llm: LLMServer) -> None:
    text = "Async answer citing [3]."
    llm.script(Reply.text(text, chunk_chars=4, usage={"prompt_tokens": 100, "completion_tokens": 7}))
    async with aclient(llm) as c:
        stream = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        chunks = [ch async for ch in stream]
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == text
    usage = chunks[-1].x_groq.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 7, 107)


def test_non_streaming_completion(llm: LLMServer) -> None:
    llm.script(Reply.text("Plain answer [1].", model="other-model"))
    with client(llm) as c:
        resp = c.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert resp.choices[0].message.content == "Plain answer [1]."
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "other-model"
    assert resp.usage.prompt_tokens == PROMPT_WORDS and resp.usage.completion_tokens == 3
    assert "stream" not in llm.requests[0]["body"]


def test_default_text_when_queue_empty(llm: LLMServer) -> None:
    with client(llm) as c:
        resp = c.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert resp.choices[0].message.content == DEFAULT_TEXT
        llm.default_text = "Something else."
        chunks = list(c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "Something else."


def test_script_is_fifo(llm: LLMServer) -> None:
    llm.script(Reply.text("one"), Reply.text("two"))
    assert llm.pending == 2
    with client(llm) as c:
        got = [c.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content
               for _ in range(3)]
    assert got == ["one", "two", DEFAULT_TEXT]
    assert llm.pending == 0 and len(llm.requests) == 3


def test_wrong_api_key_401(llm: LLMServer) -> None:
    llm.script(Reply.text("not consumed"))
    with groq.Groq(api_key="wrong", base_url=llm.base_url, max_retries=0) as c:
        with pytest.raises(groq.AuthenticationError) as ei:
            c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert ei.value.status_code == 401
    # groq: e.body is the whole JSON body (openai unwraps it to the "error" object and sets e.code)
    assert ei.value.body["error"]["code"] == "invalid_api_key"
    assert ei.value.body["error"]["type"] == "invalid_request_error"
    assert llm.pending == 1  # a rejected request consumes no scripted reply


def test_rate_limit_429(llm: LLMServer) -> None:
    llm.script(Reply.error(429, headers={"retry-after": "2"}))
    with client(llm) as c:
        with pytest.raises(groq.RateLimitError) as ei:
            c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    e = ei.value
    assert e.status_code == 429 and e.response.headers["retry-after"] == "2"
    assert e.body["error"]["code"] == "rate_limit_exceeded"
    assert len(llm.requests) == 1


def test_groq_retries_429_honouring_retry_after_ms(llm: LLMServer) -> None:
    # Documented SDK behaviour: 429 is retried by default; retry-after-ms (then retry-after) sets the delay.
    llm.script(Reply.error(429, headers={"retry-after-ms": "50"}), Reply.text("after retry"))
    with client(llm, max_retries=1) as c:
        t0 = time.monotonic()
        resp = c.chat.completions.create(model=MODEL, messages=MESSAGES)
        elapsed = time.monotonic() - t0
    assert resp.choices[0].message.content == "after retry"
    assert elapsed < 0.35  # 50 ms, not the 0.375-0.5 s default backoff
    assert [r["headers"]["x-stainless-retry-count"] for r in llm.requests] == ["0", "1"]


def test_x_should_retry_false_stops_retries(llm: LLMServer) -> None:
    llm.script(Reply.error(503, headers={"x-should-retry": "false"}), Reply.text("unused"))
    with client(llm, max_retries=2) as c:
        with pytest.raises(groq.InternalServerError):
            c.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(llm.requests) == 1


def test_service_unavailable_503(llm: LLMServer) -> None:
    llm.script(Reply.error(503))
    with client(llm) as c:
        with pytest.raises(groq.InternalServerError) as ei:
            c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert ei.value.status_code == 503


def test_hang_timeout(llm: LLMServer) -> None:
    llm.script(Reply.hang(2))
    t0 = time.monotonic()
    with client(llm, timeout=0.5) as c:
        with pytest.raises(groq.APITimeoutError):
            c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert time.monotonic() - t0 < 1.5
    # the server keeps serving other connections while one handler sleeps
    with client(llm) as c:
        assert c.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content == DEFAULT_TEXT


def test_hang_then_answers(llm: LLMServer) -> None:
    llm.script(Reply.hang(0.2, then=Reply.text("late")))
    with client(llm) as c:
        assert c.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content == "late"


def test_broken_stream_sync(llm: LLMServer) -> None:
    llm.script(Reply.broken("The answer is cut", chunk_chars=4))
    got = []
    with client(llm) as c:
        stream = c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            for ch in stream:
                got.append(ch.choices[0].delta.content)
    assert "".join(got) == "The answer is cut"
    # not wrapped by the SDK: callers must catch httpx.TransportError around iteration
    assert not issubclass(httpx.RemoteProtocolError, groq.APIError)
    assert issubclass(httpx.RemoteProtocolError, httpx.TransportError)


async def test_broken_stream_async(llm: LLMServer) -> None:
    llm.script(Reply.broken("partial"))
    async with aclient(llm) as c:
        stream = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            async for _ in stream:
                pass


def test_broken_non_streaming(llm: LLMServer) -> None:
    llm.script(Reply.broken("whole answer"))
    with client(llm) as c:
        with pytest.raises(groq.APIConnectionError):
            c.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_groq_retries_503_then_succeeds(llm: LLMServer) -> None:
    llm.script(Reply.error(503), Reply.text("ok"))
    with client(llm, max_retries=1) as c:
        resp = c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        text = "".join(ch.choices[0].delta.content or "" for ch in resp)
    assert text == "ok"
    assert len(llm.requests) == 2


def test_openai_streaming_include_usage(llm: LLMServer) -> None:
    text = "OpenAI-compatible answer [2]."
    llm.script(Reply.text(text))
    with openai.OpenAI(api_key=KEY, base_url=llm.openai_base_url, max_retries=0, timeout=5.0) as c:
        chunks = list(c.chat.completions.create(model="gpt-x", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == text
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == PROMPT_WORDS
    assert chunks[-1].usage.completion_tokens == len(text.split())
    assert all(ch.usage is None for ch in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[0].model == "gpt-x"
    [req] = llm.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["stream_options"] == {"include_usage": True}


def test_openai_errors_unwrap_body(llm: LLMServer) -> None:
    llm.script(Reply.error(429, headers={"retry-after": "1"}))
    with openai.OpenAI(api_key=KEY, base_url=llm.openai_base_url, max_retries=0, timeout=5.0) as c:
        with pytest.raises(openai.RateLimitError) as ei:
            c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert ei.value.code == "rate_limit_exceeded" and ei.value.body["code"] == "rate_limit_exceeded"


def test_openai_non_streaming_and_models(llm: LLMServer) -> None:
    with openai.OpenAI(api_key=KEY, base_url=llm.openai_base_url, max_retries=0, timeout=5.0) as c:
        assert c.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == DEFAULT_TEXT
        assert any(m.id for m in c.models.list())
    with client(llm) as c:
        assert c.models.list().data


def test_unknown_path_404_and_reset(llm: LLMServer) -> None:
    req = urllib.request.Request(llm.base_url + "/v2/nothing", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=5)
    assert ei.value.code == 404
    assert json.loads(ei.value.read())["error"]["message"]
    assert llm.chat_requests == [] and len(llm.requests) == 1
    llm.script(Reply.text("x"))
    llm.default_text = "changed"
    llm.reset()
    assert llm.requests == [] and llm.pending == 0
    assert llm.api_key is None and llm.default_text == DEFAULT_TEXT


def test_no_api_key_accepts_anything() -> None:
    with LLMServer() as srv:
        with groq.Groq(api_key="anything", base_url=srv.base_url, max_retries=0) as c:
            assert c.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content
    with pytest.raises(RuntimeError):
        _ = srv.base_url  # stopped


def test_stop_is_prompt_while_a_handler_hangs() -> None:
    srv = LLMServer().start()
    srv.script(Reply.hang(30))
    c = groq.Groq(api_key="k", base_url=srv.base_url, max_retries=0, timeout=0.3)
    with pytest.raises(groq.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=MESSAGES)
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 2
    c.close()
