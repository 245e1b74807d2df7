"""A loopback chat-completions server for tests that drive the REAL `groq` / `openai` SDKs.

Standard library only: an `http.server.ThreadingHTTPServer` (HTTP/1.1, keep-alive) in a daemon
thread on 127.0.0.1, kernel-chosen port. It is a helper module, not a test file (pytest does not
collect it: the name does not match `test_*.py`).

Importing it
------------
    from llm_server import LLMServer, Reply

`tests/` has no `__init__.py`, so pytest (default "prepend" import mode) puts `tests/` itself on
`sys.path` when it imports `tests/conftest.py`; that happens before any test module under `tests/`
(including the `tests/e2e` package and `tests/server`) is imported, whether pytest is started as
`pytest` or `python -m pytest`, from any directory. `from tests.llm_server import ...` only works
when the repo root happens to be on `sys.path` (`python -m pytest` from /work/main), so do not use it.

Usage
-----
    with LLMServer(api_key="k") as llm:
        llm.script(Reply.text("Hello [1]."), Reply.error(429, headers={"retry-after": "2"}))
        client = groq.Groq(api_key="k", base_url=llm.base_url, max_retries=0)
        ...
        llm.requests[-1]["body"]["messages"]

Endpoints: POST /openai/v1/chat/completions (the groq SDK's path; groq base_url = `base_url`) and
POST /v1/chat/completions (the openai SDK's path; openai base_url = `openai_base_url`); GET
/openai/v1/models and /v1/models list models. Anything else: 404 with an OpenAI-style error body.

Each chat request consumes one scripted `Reply` (FIFO); with an empty queue it answers
`Reply.text(default_text)`. A request that fails the api_key check gets 401 and consumes nothing.

Wire format (what the SDKs parse)
---------------------------------
stream=true: `200`, `Content-Type: text/event-stream`, `Transfer-Encoding: chunked`; one HTTP chunk
per event, flushed immediately (so `delay_s` between events is observable by the client):
  * content chunks `data: {"object": "chat.completion.chunk", "choices": [{"index": 0,
    "delta": {...}, "logprobs": null, "finish_reason": null}], ...}`; the first delta carries
    `"role": "assistant"`, the last content chunk has `finish_reason: "stop"` and Groq's
    `"x_groq": {"id": ..., "usage": {...}}` (read it as `chunk.x_groq.usage` in the groq SDK);
  * if the request had `stream_options: {"include_usage": true}` (OpenAI style), every chunk has
    `"usage": null` and one more chunk follows with `"choices": []` and `"usage": {...}`
    (`chunk.usage` on the last chunk, in both SDKs);
  * then `data: [DONE]`, then the terminating zero-length HTTP chunk.
stream=false: one `chat.completion` JSON object (with `usage` and `x_groq.id`).

Failure modes and what the SDKs raise (groq 1.7.0; openai behaves the same way)
-----------------------------------------------------------------------------------
  * 401 -> groq.AuthenticationError, 429 -> groq.RateLimitError, >= 500 -> groq.InternalServerError
    (all subclasses of groq.APIStatusError, with `e.status_code` and `e.response.headers`).
    NB groq's `e.body` is the WHOLE parsed body, `{"error": {"message", "type", "code"}}`, and
    groq errors have no `.code`; the openai SDK instead sets `e.body` = the inner "error" object
    and `e.code` / `e.type` from it.
  * Reply.hang(s) with a client timeout < s -> groq.APITimeoutError (after the SDK's retries).
  * Reply.broken(prefix): the stream is cut mid-way (no final HTTP chunk, no [DONE]). Iterating
    the SDK stream yields the prefix chunks, then raises **httpx.RemoteProtocolError** ("peer closed
    connection without sending complete message body (incomplete chunked read)"). The SDK does
    NOT wrap it: it is not a groq.APIError / groq.APIConnectionError. Catch `httpx.TransportError`
    (its base; `httpx.RemoteProtocolError` < `httpx.ProtocolError` < `httpx.TransportError`)
    around stream iteration. Same exception for groq.AsyncGroq and for the openai SDK.
    For a non-streaming request, `broken` sends a truncated JSON body with a larger
    Content-Length and closes: the SDK call raises groq.APIConnectionError (httpx error wrapped,
    after the SDK's retries).

SDK retry behaviour (groq/_base_client.py; default max_retries=2)
-----------------------------------------------------------------
The SDK retries by itself on 408, 409, 429 and every >= 500, and on connection errors and
timeouts, unless the response has `x-should-retry: true|false`, which wins. The delay before a
retry is `retry-after-ms` (milliseconds) if present, else `retry-after` (seconds, float allowed,
or an HTTP date) -- honoured only when 0 < value <= 60 s; otherwise exponential backoff
0.5 s * 2**n (capped at 8 s) times jitter in [0.75, 1]. Retries only happen before the stream
starts: an error while iterating a stream is never retried. Each attempt carries an
`x-stainless-retry-count` header (0, 1, ...), recorded in `requests[i]["headers"]`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LLMServer", "Reply", "DEFAULT_TEXT", "DEFAULT_MODEL"]

DEFAULT_TEXT = "The answer is in [1]."
DEFAULT_MODEL = "llama-3.3-70b-versatile"  # model echoed when the request names none
CHAT_PATHS = ("/openai/v1/chat/completions", "/v1/chat/completions")
MODELS_PATHS = ("/openai/v1/models", "/v1/models")

_ERR_DEFAULTS: dict[int, tuple[str, str, str]] = {  # status -> (message, type, code)
    400: ("Bad request", "invalid_request_error", "invalid_request_error"),
    401: ("Invalid API Key", "invalid_request_error", "invalid_api_key"),
    403: ("Forbidden", "permission_error", "forbidden"),
    404: ("Not found", "invalid_request_error", "not_found"),
    408: ("Request timeout", "server_error", "request_timeout"),
    413: ("Request too large", "invalid_request_error", "request_too_large"),
    422: ("Unprocessable entity", "invalid_request_error", "unprocessable_entity"),
    429: ("Rate limit reached. Please try again later.", "tokens", "rate_limit_exceeded"),
    500: ("Internal server error", "internal_server_error", "internal_server_error"),
    502: ("Bad gateway", "internal_server_error", "bad_gateway"),
    503: ("Service Unavailable", "internal_server_error", "service_unavailable"),
}


def _words(text: str) -> int:
    return len(text.split())


def _prompt_text(body: dict[str, Any]) -> str:
    """All text in the request's messages (string contents and text parts)."""
    out: list[str] = []
    for m in body.get("messages") or []:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, list):
            out.extend(p.get("text", "") for p in c if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "\n".join(out)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the static constructors, not directly."""

    kind: str  # "text" | "error" | "hang" | "broken"
    content: str = ""
    chunk_chars: int = 8
    delay_s: float = 0.0
    usage: dict[str, Any] | None = None
    model: str | None = None
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    err_type: str | None = None
    err_code: str | None = None
    seconds: float = 0.0
    then: Reply | None = None  # for hang: what to answer after sleeping (None = default_text)

    @staticmethod
    def text(content: str, *, chunk_chars: int = 8, delay_s: float = 0.0,
             usage: dict[str, Any] | None = None, model: str | None = None) -> Reply:
        """A successful answer: SSE in `chunk_chars`-sized pieces with `delay_s` between events when
        the request streams, else one chat.completion JSON. `usage` overrides (merged over) the
        computed default: prompt_tokens = words in the messages, completion_tokens = words in
        `content`, total = sum. `model` overrides the echoed request model."""
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")
        return Reply("text", content=content, chunk_chars=chunk_chars, delay_s=delay_s,
                     usage=dict(usage) if usage is not None else None, model=model)

    @staticmethod
    def error(status: int, message: str | None = None, *, headers: dict[str, str] | None = None,
              err_type: str | None = None, code: str | None = None) -> Reply:
        """An error answer with an OpenAI/Groq-style body {"error": {"message", "type", "code"}};
        extra response `headers`, e.g. Reply.error(429, headers={"retry-after": "2"})."""
        d_msg, d_type, d_code = _ERR_DEFAULTS.get(
            status, (f"HTTP {status}", "server_error" if status >= 500 else "invalid_request_error", None))
        return Reply("error", status=status, message=message if message is not None else d_msg,
                     headers=dict(headers or {}), err_type=err_type or d_type, err_code=code or d_code)

    @staticmethod
    def hang(seconds: float, then: Reply | None = None) -> Reply:
        """Sleep `seconds` before answering (`then`, default the server's default_text reply).
        The sleep is cut short when the server stops."""
        return Reply("hang", seconds=seconds, then=then)

    @staticmethod
    def broken(prefix: str, chunk_chars: int = 8) -> Reply:
        """Stream `prefix` (role chunk first, no finish_reason), then close the connection abruptly:
        no [DONE], no terminating HTTP chunk."""
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")
        return Reply("broken", content=prefix, chunk_chars=chunk_chars)


class _Abort(Exception):
    """Raised inside a handler to drop the connection without further writes."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes live connections itself; never wait on handler threads
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client hang-ups
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError, _Abort)):
            return
        super().handle_error(request, client_address)


class LLMServer:
    """Loopback OpenAI/Groq chat-completions endpoint. Context manager (start/stop), or call
    start()/stop(). See the module docstring for the wire format and the SDKs' behaviour."""

    def __init__(self, *, api_key: str | None = None, default_text: str = DEFAULT_TEXT) -> None:
        self._init_api_key = api_key
        self._init_default_text = default_text
        self.api_key: str | None = api_key
        self.default_text: str = default_text
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> LLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"LLMServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes hang/delay sleeps
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # unblock handler threads waiting on idle keep-alive connections
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("LLMServer is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """For groq.Groq(base_url=...): the SDK appends /openai/v1/chat/completions."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For openai.OpenAI(base_url=...): the SDK appends /chat/completions."""
        return self.base_url + "/v1"

    # ---- scripting -------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue replies, consumed one per chat request (FIFO)."""
        for r in replies:
            if not isinstance(r, Reply):
                raise TypeError(f"expected Reply, got {type(r).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Clear the queue and the recorded requests; api_key and default_text back to the
        constructor's values (None and DEFAULT_TEXT unless given)."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.api_key = self._init_api_key
        self.default_text = self._init_default_text

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The recorded chat-completion requests only (no GET /models, no 404s)."""
        with self._lock:
            return [r for r in self.requests if r["path"] in CHAT_PATHS and r["method"] == "POST"]

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Reply.text(self.default_text)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    # ---- HTTP handler ----------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive + chunked streaming, like the real APIs
            server_version = "bitrag-test-llm/1.0"
            timeout = 60  # idle keep-alive connections end eventually

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with outer._lock:
                    outer._conns.add(self.connection)

            def finish(self) -> None:
                with outer._lock:
                    outer._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            # -- plumbing --
            def _read_body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)
                self.wfile.flush()

            def _send_error_reply(self, r: Reply) -> None:
                body = {"error": {"message": r.message, "type": r.err_type, "code": r.err_code}}
                hdrs = {"x-request-id": f"req_{uuid.uuid4().hex}", **r.headers}
                self._send_json(r.status, body, hdrs)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _event(self, obj: Any) -> None:
                payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
                self._chunk(f"data: {payload}\n\n".encode())

            def _sleep(self, seconds: float) -> None:
                if seconds > 0 and outer._stopping.wait(seconds):
                    raise _Abort("server stopping")

            def _abort_connection(self) -> None:
                self.close_connection = True
                try:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            # -- routing --
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                outer._record({"method": "GET", "path": path, "headers": self._headers(), "body": None})
                if path in MODELS_PATHS:
                    if not self._auth_ok():
                        return
                    created = int(time.time())
                    models = [DEFAULT_MODEL, "llama-3.1-8b-instant", "openai/gpt-oss-20b"]
                    self._send_json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": created, "owned_by": "test",
                         "active": True, "context_window": 131072} for m in models]})
                    return
                self._not_found(path)

            def do_POST(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                raw = self._read_body()
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                    parsed_ok = False
                else:
                    parsed_ok = True
                outer._record({"method": "POST", "path": path, "headers": self._headers(), "body": body})
                if path not in CHAT_PATHS:
                    self._not_found(path)
                    return
                if not self._auth_ok():
                    return
                if not parsed_ok or not isinstance(body, dict):
                    self._send_error_reply(Reply.error(400, "request body is not a JSON object"))
                    return
                try:
                    self._answer(body, outer._next_reply())
                except _Abort:
                    self._abort_connection()
                except (ConnectionError, TimeoutError):  # the client went away (e.g. its timeout)
                    self.close_connection = True

            def _headers(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _not_found(self, path: str) -> None:
                self._send_error_reply(Reply.error(404, f"Unknown request URL: {path}", code="unknown_url"))

            def _auth_ok(self) -> bool:
                key = outer.api_key
                if key is None or self.headers.get("Authorization") == f"Bearer {key}":
                    return True
                self._send_error_reply(Reply.error(401, "Invalid API Key"))
                return False

            # -- answers --
            def _answer(self, body: dict[str, Any], r: Reply) -> None:
                if r.kind == "hang":
                    self._sleep(r.seconds)
                    r = r.then or Reply.text(outer.default_text)
                    if r.kind == "hang":
                        raise ValueError("Reply.hang(then=Reply.hang(...)) is not supported")
                if r.kind == "error":
                    self._send_error_reply(r)
                    return
                stream = bool(body.get("stream"))
                if r.kind == "broken" and not stream:
                    raw = json.dumps(self._completion(body, r)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw[: len(raw) // 2])
                    raise _Abort("broken")
                if stream:
                    self._stream(body, r)
                else:
                    self._send_json(200, self._completion(body, r), {"x-request-id": f"req_{uuid.uuid4().hex}"})

            def _usage(self, body: dict[str, Any], r: Reply) -> dict[str, Any]:
                pt, ct = _words(_prompt_text(body)), _words(r.content)
                u: dict[str, Any] = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                                     "queue_time": 0.0001, "prompt_time": 0.001, "completion_time": 0.002,
                                     "total_time": 0.003}
                if r.usage:
                    u.update(r.usage)
                    if "total_tokens" not in r.usage:
                        u["total_tokens"] = int(u["prompt_tokens"]) + int(u["completion_tokens"])
                return u

            def _model(self, body: dict[str, Any], r: Reply) -> str:
                return r.model or body.get("model") or DEFAULT_MODEL

            def _completion(self, body: dict[str, Any], r: Reply) -> dict[str, Any]:
                return {
                    "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                    "created": int(time.time()), "model": self._model(body, r), "system_fingerprint": None,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": r.content},
                                 "logprobs": None, "finish_reason": "stop"}],
                    "usage": self._usage(body, r),
                    "x_groq": {"id": f"req_{uuid.uuid4().hex}"},
                }

            def _stream(self, body: dict[str, Any], r: Reply) -> None:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                cid, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), self._model(body, r)
                groq_id = f"req_{uuid.uuid4().hex}"
                text = r.content
                pieces = [text[i:i + r.chunk_chars] for i in range(0, len(text), r.chunk_chars)] or [""]

                def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
                    c: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created,
                                         "model": model, "system_fingerprint": None, "choices": choices}
                    if include_usage:
                        c["usage"] = None
                    c.update(extra)
                    return c

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("x-request-id", groq_id)
                self.end_headers()
                self.wfile.flush()

                broken = r.kind == "broken"
                last = len(pieces) - 1
                for i, piece in enumerate(pieces):
                    if i:
                        self._sleep(r.delay_s)
                    delta: dict[str, Any] = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                    done = i == last and not broken
                    extra: dict[str, Any] = {}
                    if i == 0:
                        extra["x_groq"] = {"id": groq_id}
                    if done:
                        extra["x_groq"] = {"id": groq_id, "usage": self._usage(body, r)}
                    self._event(chunk([{"index": 0, "delta": delta, "logprobs": None,
                                        "finish_reason": "stop" if done else None}], **extra))
                if broken:
                    raise _Abort("broken")
                if include_usage:
                    self._event(chunk([], usage=self._usage(body, r)))
                self._event("[DONE]")
                self._chunk(b"")  # terminating zero-length chunk

        return Handler
