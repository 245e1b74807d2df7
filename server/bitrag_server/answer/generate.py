"""Answer generators. Both stream text pieces and fill in a `Usage`.

ChatGenerator    a chat-completions endpoint through the `groq` SDK (Groq, or anything that speaks
                 its protocol) or the `openai` SDK (any OpenAI-compatible endpoint); provider
                 failures become typed errors with the matching gRPC status (`provider_error`).
ExtractiveGenerator  no API key: the passages of the top sources closest to the question's
                 embedding (`extractive.py`), quoted with their numbers and labelled as not
                 generated, so Ask works offline.
"""

from __future__ import annotations

import email.utils
import math
import time
import types
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx
import numpy as np

from ..config import Settings
from ..errors import BitragError, DeadlineExceeded, FailedPrecondition, ResourceExhausted, Unavailable
from .extractive import Embed, extract
from .types import Source, Usage

EXTRACTIVE_MODEL = "extractive"
EXTRACTIVE_LABEL = (
    "Extractive answer, not generated (no LLM API key is configured): "
    "the most relevant sentences of the top sources."
)


class Generator(Protocol):
    generated: bool

    def model_name(self, requested: str) -> str: ...

    def stream(
        self, question: str, sources: list[Source], messages: list[dict[str, str]], *,
        model: str, temperature: float, max_tokens: int, usage: Usage,
        query_vector: np.ndarray | None = None, embed: Embed | None = None,
    ) -> AsyncIterator[str]:
        """The answer's text pieces. `query_vector` (the question's embedding) and `embed` (the
        collection's embedder) are for generators that rank passages themselves (extractive)."""
        ...

    async def close(self) -> None: ...


# ---- provider errors -----------------------------------------------------------------------------


def _retry_after_s(headers: Any) -> float | None:
    """`retry-after-ms`, `retry-after` in seconds, or `retry-after` as an HTTP date; None when
    absent or not a finite, non-negative number (capped at a day)."""
    if headers is None:
        return None

    def finite(x: float) -> float | None:
        return min(max(x, 0.0), 86400.0) if math.isfinite(x) else None

    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return finite(float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return finite(float(ra))
    except ValueError:
        parsed = email.utils.parsedate_tz(ra)
        return finite(email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def provider_error(exc: BaseException, sdk: Any, timeout_s: float) -> BitragError:
    """A groq/openai SDK (or httpx) exception -> the typed error the Ask call ends with.

    401/403  FAILED_PRECONDITION: the server's key was refused; the caller cannot fix it by retrying
    429      RESOURCE_EXHAUSTED with the provider's retry-after (trailing metadata)
    408, timeout  DEADLINE_EXCEEDED
    5xx, connection, broken stream  UNAVAILABLE (retryable)
    other 4xx  FAILED_PRECONDITION (the provider refused the request, e.g. an unknown model)
    """
    if isinstance(exc, sdk.APITimeoutError) or isinstance(exc, httpx.TimeoutException):
        return DeadlineExceeded(f"LLM provider did not answer within {timeout_s:g} s")
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        detail = _provider_message(exc)
        if status in (401, 403):
            return FailedPrecondition(f"LLM provider refused the server's API key (HTTP {status}): {detail}")
        if status == 429:
            ra = _retry_after_s(exc.response.headers)
            hint = f"; retry after {ra:g} s" if ra is not None else ""
            return ResourceExhausted(f"LLM provider rate limit (HTTP 429): {detail}{hint}", retry_after_s=ra)
        if status == 408:
            return DeadlineExceeded(f"LLM provider timed out (HTTP 408): {detail}")
        if status >= 500:
            return Unavailable(f"LLM provider error (HTTP {status}): {detail}")
        return FailedPrecondition(f"LLM provider refused the request (HTTP {status}): {detail}")
    if isinstance(exc, (sdk.APIError, httpx.HTTPError)):
        return Unavailable(f"LLM provider unreachable or stream broken: {type(exc).__name__}: {exc}")
    raise exc


def _provider_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:500]
    return str(getattr(exc, "message", exc))[:500]


# ---- chat completions ----------------------------------------------------------------------------


class ChatGenerator:
    generated = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.provider = settings.llm_provider
        kw: dict[str, Any] = dict(
            api_key=settings.resolved_llm_key(),
            base_url=settings.llm_base_url or None,
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )
        if self.provider == "groq":
            import groq

            self._sdk: types.ModuleType = groq
            self._client: Any = groq.AsyncGroq(**kw)
            self._extra: dict[str, Any] = {}
        else:
            import openai

            self._sdk = openai
            self._client = openai.AsyncOpenAI(**kw)
            self._extra = {"stream_options": {"include_usage": True}}

    def model_name(self, requested: str) -> str:
        return requested or self.settings.llm_model

    async def stream(
        self, question: str, sources: list[Source], messages: list[dict[str, str]], *,
        model: str, temperature: float, max_tokens: int, usage: Usage,
        query_vector: np.ndarray | None = None, embed: Embed | None = None,
    ) -> AsyncIterator[str]:
        timeout = self.settings.llm_timeout_s
        try:
            stream = await self._client.chat.completions.create(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens,
                stream=True, **self._extra,
            )
        except Exception as exc:  # noqa: BLE001 - mapped or re-raised by provider_error
            raise provider_error(exc, self._sdk, timeout) from exc
        finished = False
        try:
            async for chunk in stream:
                u = getattr(chunk, "usage", None) or getattr(getattr(chunk, "x_groq", None), "usage", None)
                if u is not None:
                    usage.prompt_tokens = int(u.prompt_tokens or 0)
                    usage.completion_tokens = int(u.completion_tokens or 0)
                    usage.total_tokens = int(u.total_tokens or 0) or usage.prompt_tokens + usage.completion_tokens
                for choice in chunk.choices or ():
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
        except BitragError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise provider_error(exc, self._sdk, timeout) from exc
        finally:
            await stream.close()
        if not finished:
            raise Unavailable("LLM stream ended before the answer finished")

    async def close(self) -> None:
        await self._client.close()


# ---- extractive (no API key) ---------------------------------------------------------------------


class ExtractiveGenerator:
    """Quotes the passages of the top sources most similar to the question (`extractive.py`),
    one line each with its source's [n]."""

    generated = False

    def model_name(self, requested: str) -> str:
        return EXTRACTIVE_MODEL

    async def stream(
        self, question: str, sources: list[Source], messages: list[dict[str, str]], *,
        model: str, temperature: float, max_tokens: int, usage: Usage,
        query_vector: np.ndarray | None = None, embed: Embed | None = None,
    ) -> AsyncIterator[str]:
        yield EXTRACTIVE_LABEL + "\n"
        if not sources:
            yield "\nNo source matched the question."
            return
        chosen = await extract(question, sources, query_vector=query_vector, embed=embed)
        if not chosen:
            yield "\nThe top sources hold no quotable sentence (only tables, code or fragments)."
            return
        for p in chosen:
            yield f"\n- {p.text} [{p.number}]"

    async def close(self) -> None:
        return None


def make_generator(settings: Settings) -> Generator:
    return ChatGenerator(settings) if settings.resolved_llm_key() else ExtractiveGenerator()
