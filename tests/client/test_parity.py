"""The two SDK clients are twins: every public method of `Client` has an `AsyncClient` method of
the same name and signature (and vice versa), awaited or async-iterated there, and both carry a
docstring with the same summary line. A method added to one client only fails here."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from bitrag import AsyncClient, Client

# lifecycle: `with Client(...)` <-> `async with AsyncClient(...)`
LIFECYCLE = {"__enter__": "__aenter__", "__exit__": "__aexit__"}


def public_methods(cls: type) -> dict[str, Callable]:
    out = {
        name: fn for name, fn in vars(cls).items()
        if callable(fn) and (not name.startswith("_") or name == "__init__" or name in LIFECYCLE
                             or name in LIFECYCLE.values())
    }
    return dict(sorted(out.items()))


SYNC = public_methods(Client)
ASYNC = public_methods(AsyncClient)
PAIRS = [(name, LIFECYCLE.get(name, name)) for name in SYNC]


def as_async(annotation: str) -> str:
    """A sync return annotation as its async twin's (a stream is an AsyncIterator there)."""
    return annotation.replace("Iterator[", "AsyncIterator[").replace("Client", "AsyncClient")


def test_same_method_names() -> None:
    assert {LIFECYCLE.get(n, n) for n in SYNC} == set(ASYNC), (
        "methods without a twin: "
        f"Client only {sorted({LIFECYCLE.get(n, n) for n in SYNC} - set(ASYNC))}, "
        f"AsyncClient only {sorted(set(ASYNC) - {LIFECYCLE.get(n, n) for n in SYNC})}"
    )


@pytest.mark.parametrize(("sync_name", "async_name"), PAIRS)
def test_same_signature(sync_name: str, async_name: str) -> None:
    if async_name not in ASYNC:
        pytest.fail(f"AsyncClient has no {async_name} (the twin of Client.{sync_name})")
    s, a = inspect.signature(SYNC[sync_name]), inspect.signature(ASYNC[async_name])
    params = lambda sig: [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]  # noqa: E731
    assert params(s) == params(a), f"Client.{sync_name}{s} != AsyncClient.{async_name}{a}"
    if sync_name != "__init__":
        assert as_async(str(s.return_annotation)) == str(a.return_annotation), (sync_name, s, a)


@pytest.mark.parametrize(("sync_name", "async_name"), [p for p in PAIRS if p[0] != "__init__"])
def test_async_twin_is_awaited(sync_name: str, async_name: str) -> None:
    s, a = SYNC[sync_name], ASYNC.get(async_name)
    assert a is not None, async_name
    assert not (inspect.iscoroutinefunction(s) or inspect.isasyncgenfunction(s)), sync_name
    if inspect.isgeneratorfunction(s):
        assert inspect.isasyncgenfunction(a), f"Client.{sync_name} streams: AsyncClient.{async_name} async-iterates"
    else:
        assert inspect.iscoroutinefunction(a), f"AsyncClient.{async_name} must be `async def`"


@pytest.mark.parametrize("name", [n for n in SYNC if n not in LIFECYCLE and n != "__init__"])
def test_both_documented_alike(name: str) -> None:
    s, a = inspect.getdoc(SYNC[name]), inspect.getdoc(ASYNC.get(name))
    assert s, f"Client.{name} has no docstring"
    assert a, f"AsyncClient.{name} has no docstring"
    assert s.splitlines()[0] == a.splitlines()[0], f"{name}: the twins' docstrings start differently"


def test_classes_documented() -> None:
    assert inspect.getdoc(Client) and inspect.getdoc(AsyncClient)
