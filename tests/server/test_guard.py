"""guard.py without a server: the tokens file, bearer metadata, the method table, admission."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bitrag.v1 import bitrag_pb2 as pb
from bitrag_server.errors import DeadlineExceeded, ResourceExhausted
from bitrag_server.guard import METHODS, Admission, Principal, TokenFile, bearer, parse_tokens


def test_every_rpc_has_a_role() -> None:
    """A new RPC must be given a role and its collection field here (unknown ones need write)."""
    rpcs = {m.name for m in pb.DESCRIPTOR.services_by_name["BitragService"].methods}
    assert rpcs == set(METHODS)
    for name, (role, field) in METHODS.items():
        req = pb.DESCRIPTOR.services_by_name["BitragService"].methods_by_name[name].input_type
        assert role in ("read", "write")
        assert field is None or field in req.fields_by_name, name


def test_parse_tokens() -> None:
    entries = parse_tokens("# c\n\nAAA write\nBBB read a,b  # two\nCCC\tread  c , d\n")
    principals = [p for _, p in entries]
    assert principals == [
        Principal("write", None, 3),
        Principal("read", frozenset({"a", "b"}), 4),
        Principal("read", frozenset({"c", "d"}), 5),
    ]
    assert principals[1].may("read") and not principals[1].may("write") and principals[0].may("write")
    assert principals[1].sees("a") and not principals[1].sees("c") and principals[0].sees("anything")


@pytest.mark.parametrize("text", ["secret-token\n", "secret-token admin\n"])
def test_bad_lines_are_named_without_the_token(text: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_tokens("# ok\n" + text)
    assert "line 2" in str(e.value) and "secret-token" not in str(e.value)


def test_token_file_reload_keeps_the_last_good_tokens(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text("one write\n")
    tf = TokenFile(f)
    assert tf.authenticate("one") == Principal("write", None, 1)
    assert tf.authenticate("two") is None and tf.authenticate("") is None and tf.authenticate("one ") is None
    f.write_text("one write\ntwo read x\n")
    assert tf.authenticate("two") == Principal("read", frozenset({"x"}), 2)
    f.write_text("garbage\n")
    assert tf.authenticate("two") is not None  # unparsable: the previous tokens stay
    f.write_text("two read\n")
    assert tf.authenticate("one") is None and tf.authenticate("two") == Principal("read", None, 1)
    with pytest.raises(ValueError):
        TokenFile(tmp_path / "missing")


def test_bearer() -> None:
    assert bearer([("authorization", "Bearer abc")]) == "abc"
    assert bearer([("authorization", "bearer  abc ")]) == "abc"
    assert bearer([("x", "y"), ("authorization", "Basic abc")]) is None
    assert bearer([("authorization", "Bearer ")]) is None
    assert bearer(None) is None


def test_admission_bounds_running_and_waiting_calls() -> None:
    async def main() -> None:
        a = Admission(max_active=2, max_queued=1)
        await a.acquire(None)
        await a.acquire(None)
        waiter = asyncio.create_task(a.acquire(None))
        await asyncio.sleep(0)
        assert (a.active, a.queued) == (2, 1)
        with pytest.raises(ResourceExhausted) as e:  # two running, one waiting: refused at once
            await a.acquire(None)
        assert e.value.retry_after_s is not None and 0 < e.value.retry_after_s <= 30
        a.release(0.1)  # the slot passes to the waiter
        await waiter
        assert (a.active, a.queued) == (2, 0)
        with pytest.raises(DeadlineExceeded):  # a waiter leaves at its deadline, without a slot
            await a.acquire(0.05)
        assert (a.active, a.queued) == (2, 0)
        cancelled = asyncio.create_task(a.acquire(None))
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        a.release(0.1)
        a.release(0.1)
        assert (a.active, a.queued) == (0, 0)

    asyncio.run(main())
