"""Run a test written against the blocking `bitrag.Client` over `bitrag.AsyncClient` too.

`BlockingAsyncClient` puts an AsyncClient behind Client's interface: an event loop in a thread of
its own runs each awaited call (and each step of `ask`'s async iterator), so a sync test body, and
its threads, drive the async client unchanged. `sdk_client(kind, target)` makes either one; the
`client` fixtures parametrized over `SDK_KINDS` use it (one suite over both twins)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import bitrag

SDK_KINDS = ("Client", "AsyncClient")


class BlockingAsyncClient:
    def __init__(self, target: str, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="async-client-loop", daemon=True)
        self._thread.start()

        async def make() -> bitrag.AsyncClient:  # the aio channel belongs to the loop it is made on
            return bitrag.AsyncClient(target, **kw)

        self._client = self._run(make())
        self.target = target

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _iterate(self, agen: Any) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(agen.aclose())

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if inspect.iscoroutinefunction(attr):
            def call(*args: Any, **kw: Any) -> Any:
                return self._run(attr(*args, **kw))
            return call
        if inspect.isasyncgenfunction(attr):
            def stream(*args: Any, **kw: Any) -> Iterator[Any]:
                return self._iterate(attr(*args, **kw))
            return stream
        return attr

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sdk_client(kind: str, target: str, **kw: Any) -> Any:
    """A `bitrag.Client`, or an AsyncClient behind the same blocking interface."""
    factory: Callable[..., Any] = {"Client": bitrag.Client, "AsyncClient": BlockingAsyncClient}[kind]
    return factory(target, **kw)
