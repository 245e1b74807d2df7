"""The Ask pipeline: cache lookup -> retrieval (the engine's gated search) -> prompt with numbered
sources -> streamed generation -> cache write. One async generator yields the answer's text pieces
and then one `AskSummary`; when generation fails, the summary (with the sources and the error) is
still yielded and the typed error is raised after it, so the call ends with the error's status.

Single flight: identical Asks (same cache key: question, collection generation, options) that
arrive while one is being answered join it instead of retrieving and generating again. The answer
is produced by a task of its own and every caller (the first included) replays its events; the
task is cancelled only when every caller has left."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator

import numpy as np

from .. import metrics
from ..config import Settings
from ..domain import Mode, SearchQuery
from ..engine import Engine
from ..errors import BitragError, InvalidArgument
from ..quantize import binarize
from .cache import AnswerCache, CacheUnavailable, sources_from_entry, to_entry
from .extractive import EXTRACTIVE_VERSION, Embed
from .generate import Generator, make_generator
from .prompt import PROMPT_VERSION, build_messages, cited_numbers, snippet, squash
from .types import AskError, AskQuery, AskSummary, AskTimings, Source, Usage

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4096
MAX_ASK_TOP_K = 50
MAX_MODEL_CHARS = 256
REPLAY_PIECE_CHARS = 64  # a cached answer is streamed in pieces of about this size


def _us(t0: int) -> int:
    return (time.perf_counter_ns() - t0) // 1000


def replay_pieces(text: str, size: int = REPLAY_PIECE_CHARS) -> list[str]:
    """Split at spaces into pieces of about `size` characters; "".join(pieces) == text."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            space = text.rfind(" ", start + 1, end)
            end = space if space > start else end
        pieces.append(text[start:end])
        start = end
    return pieces


class Flight:
    """One answer being produced, replayed to every caller that asked for it."""

    def __init__(self) -> None:
        self.events: list[str | AskSummary] = []
        self.finished = False
        self.error: BaseException | None = None
        self.subscribers = 0
        self.task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    def push(self, event: str | AskSummary) -> None:
        self.events.append(event)
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        self.finished, self.error = True, error
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def subscribe(self) -> AsyncIterator[str | AskSummary]:
        self.subscribers += 1
        i = 0
        try:
            while True:
                changed = self._changed
                while i < len(self.events):
                    yield self.events[i]
                    i += 1
                if self.finished:
                    if self.error is not None:
                        raise self.error
                    return
                await changed.wait()
        finally:
            self.subscribers -= 1
            if self.subscribers == 0 and not self.finished and self.task is not None:
                self.task.cancel()  # every caller left: stop retrieval and generation


class Asker:
    def __init__(self, engine: Engine, settings: Settings, generator: Generator | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.generator = generator or make_generator(settings)
        self.cache = AnswerCache(settings)
        self._flights: dict[str, Flight] = {}

    async def _embedder_of(self, name: str) -> Embed | None:
        """The collection's embedder as an async function (extractive answers rank passages with
        it); None for a collection without one."""
        spec = (await self.engine.manifest(name)).embedder
        if spec == "none":
            return None
        embedder = self.engine.embedders.get(spec)

        async def embed(texts: list[str]) -> np.ndarray:
            return await asyncio.to_thread(embedder.embed, texts)

        return embed

    async def close(self) -> None:
        await self.generator.close()
        await self.cache.close()

    def _validate(self, q: AskQuery) -> None:
        if not q.question.strip():
            raise InvalidArgument("empty question", field="question")
        if len(q.question) > MAX_QUESTION_CHARS:
            raise InvalidArgument(f"{len(q.question)} characters, at most {MAX_QUESTION_CHARS}", field="question")
        if q.top_k and not 1 <= q.top_k <= MAX_ASK_TOP_K:
            raise InvalidArgument(f"{q.top_k} not in 1..{MAX_ASK_TOP_K}", field="top_k")
        t = q.temperature
        if t is not None and not (math.isfinite(t) and 0.0 <= t <= 2.0):
            raise InvalidArgument(f"{t} not in [0, 2]", field="temperature")
        if q.max_tokens > 32768:
            raise InvalidArgument(f"{q.max_tokens} > 32768", field="max_tokens")
        if len(q.model) > MAX_MODEL_CHARS:
            raise InvalidArgument(f"longer than {MAX_MODEL_CHARS} characters", field="model")

    async def ask(self, q: AskQuery) -> AsyncIterator[str | AskSummary]:
        t0 = time.perf_counter_ns()
        s = self.settings
        self._validate(q)
        m = await self.engine.manifest(q.collection)
        gen = self.generator
        top_k = q.top_k or s.ask_top_k
        model = gen.model_name(q.model)
        temperature = s.llm_temperature if q.temperature is None else float(q.temperature)
        max_tokens = q.max_tokens or s.llm_max_tokens
        timings = AskTimings()

        # ---- cache lookup -------------------------------------------------------------------
        cache = self.cache
        scope = cache.scope(
            collection=m.name, created=m.created_unix_ms, generation=m.generation, top_k=top_k,
            filter=squash(q.filter), mode=q.mode, oversample=q.oversample,
            threshold=q.confidence_threshold, model=model, generated=gen.generated,
            temperature=temperature if gen.generated else None,
            max_tokens=max_tokens if gen.generated else None,
            prompt=PROMPT_VERSION if gen.generated else EXTRACTIVE_VERSION,
        )
        key = cache.key(m.name, scope, q.question)
        vector: np.ndarray | None = None
        code: np.ndarray | None = None
        entry = None
        if not cache.enabled:
            status = "DISABLED"
        elif q.no_cache:
            status = "BYPASS"
        elif not cache.available():
            status = "UNAVAILABLE"
        else:
            tc = time.perf_counter_ns()
            try:
                entry = await cache.get(key)
                status = "HIT" if entry else "MISS"
                if entry is None and s.semantic_cache:
                    vector = await self.engine.embed_query(m.name, q.question, field="question")
                    code = binarize(vector[None, :])[0]
                    max_bits = s.semantic_cache_max_bits or m.dimension // 48
                    entry = await cache.nearest(m.name, scope, code, max_bits)
                    if entry:
                        status = "SEMANTIC_HIT"
            except CacheUnavailable:
                status = "UNAVAILABLE"
            timings.cache_us = _us(tc)
        metrics.CACHE_REQUESTS.labels(status.lower()).inc()

        if entry is not None:
            for piece in replay_pieces(entry["answer"]):
                if not timings.first_token_us:
                    timings.first_token_us = _us(t0)
                yield piece
            timings.total_us = _us(t0)
            metrics.ASK_LATENCY.labels(status.lower()).observe(timings.total_us / 1e6)
            yield AskSummary(
                answer=entry["answer"], sources=sources_from_entry(entry), cited=entry["cited"],
                model=entry["model"], generated=entry["generated"], usage=Usage(**entry["usage"]),
                timings=timings, cache=status,
            )
            return

        # ---- single flight: join an identical Ask in progress, or start one ----------------
        flight = self._flights.get(key)
        shared = flight is not None
        if flight is None:
            flight = self._flights[key] = Flight()
            answer = self._answer(q, m.name, top_k, model, temperature, max_tokens, timings, t0, status, key,
                                  scope, vector, code)
            flight.task = asyncio.create_task(self._fly(flight, key, answer))
        else:
            metrics.ASK_SHARED.inc()
        async for event in flight.subscribe():
            if shared and isinstance(event, AskSummary):
                event = dataclasses.replace(event, shared=True)
            yield event

    async def _fly(self, flight: Flight, key: str, answer: AsyncIterator[str | AskSummary]) -> None:
        try:
            async for event in answer:
                flight.push(event)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the flight
            flight.finish(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            flight.finish()
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    async def _answer(
        self, q: AskQuery, name: str, top_k: int, model: str, temperature: float, max_tokens: int,
        timings: AskTimings, t0: int, status: str, key: str, scope: str, vector: np.ndarray | None,
        code: np.ndarray | None,
    ) -> AsyncIterator[str | AskSummary]:
        """Retrieval, prompt, streamed generation, cache write: the events of one flight."""
        s = self.settings
        gen = self.generator
        cache = self.cache
        # ---- retrieval ----------------------------------------------------------------------
        tr = time.perf_counter_ns()
        if vector is None:
            vector = await self.engine.embed_query(name, q.question, field="question")
        result = await self.engine.search(SearchQuery(
            collection=name, vector=vector, top_k=top_k, filter=q.filter, oversample=q.oversample,
            mode=Mode(q.mode), confidence_threshold=q.confidence_threshold,
        ))
        timings.retrieval_us = _us(tr)
        sources = [
            Source(i + 1, h.chunk_id, h.document_id, h.score, snippet(h.text, s.ask_snippet_chars), h.metadata, h.text)
            for i, h in enumerate(result.hits)
        ]
        messages = build_messages(q.question, sources, s.ask_context_chars)

        # ---- generation ---------------------------------------------------------------------
        usage = Usage()
        parts: list[str] = []

        def summary(error: AskError | None = None) -> AskSummary:
            answer = "".join(parts)
            timings.total_us = _us(t0)
            return AskSummary(
                answer=answer, sources=sources, cited=cited_numbers(answer, len(sources)), model=model,
                generated=gen.generated, usage=usage, timings=timings, cache=status,
                retrieval=result.diagnostics, error=error,
            )

        try:
            async for piece in gen.stream(
                q.question, sources, messages, model=model, temperature=temperature,
                max_tokens=max_tokens, usage=usage, query_vector=vector,
                embed=None if gen.generated else await self._embedder_of(name),
            ):
                if not timings.first_token_us:
                    timings.first_token_us = _us(t0)
                parts.append(piece)
                yield piece
        except BitragError as exc:
            metrics.LLM_ERRORS.labels(exc.code.name).inc()
            log.warning("answer generation failed: %s", exc.message)
            yield summary(AskError(exc.code.name, exc.message, exc.retry_after_s or 0.0))
            raise
        metrics.LLM_TOKENS.labels("prompt").inc(usage.prompt_tokens)
        metrics.LLM_TOKENS.labels("completion").inc(usage.completion_tokens)

        done = summary()
        if status == "MISS":
            await cache.put(
                key, to_entry(done.answer, sources, done.cited, model, gen.generated, usage, q.question),
                collection=name, scope=scope, code=code,
            )
        done.timings.total_us = _us(t0)
        metrics.ASK_LATENCY.labels(status.lower()).observe(done.timings.total_us / 1e6)
        yield done
