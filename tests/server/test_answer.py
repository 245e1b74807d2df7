"""Unit tests of the Ask building blocks: the prompt and its citations, snippets, the cache's question
normalisation, the replay of cached answers, the provider-error mapping (real groq / httpx exception
objects). No servers, no network (the extractive answers: test_extractive.py)."""

from __future__ import annotations

import email.utils
import random
import time

import groq
import grpc
import httpx
import pytest

from bitrag_server.answer.asker import REPLAY_PIECE_CHARS, replay_pieces
from bitrag_server.answer.cache import normalise_question
from bitrag_server.answer.generate import _retry_after_s, provider_error
from bitrag_server.answer.prompt import SYSTEM_PROMPT, build_messages, cited_numbers, snippet
from bitrag_server.answer.types import Source
from bitrag_server.errors import (
    BitragError,
    DeadlineExceeded,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
)


def src(n: int, text: str, doc: str | None = None, **metadata) -> Source:
    doc = doc or f"doc{n}.md"
    return Source(n, f"{doc}#0", doc, 1.0 - n / 100, snippet(text, 300), metadata, text)


def words(n: int, seed: int) -> str:
    rng = random.Random(seed)
    vocab = "binary codes live in RAM float rows on disk rescore the shortlist".split()
    return " ".join(rng.choice(vocab) for _ in range(n))


# ---- prompt.build_messages ---------------------------------------------------------------------


def source_blocks(user: str) -> str:
    assert user.startswith("Sources:\n\n")
    return user[len("Sources:\n\n"):user.index("\n\nQuestion: ")]


def test_build_messages_numbered_blocks_and_question() -> None:
    sources = [
        src(1, "Binary codes live in RAM.", "codes.md", title="Binary codes"),
        src(2, "Float rows live\n\non   disk.", "floats.md", file_name="floats.md"),
        src(3, "Bread needs flour.", "bread.md"),
    ]
    msgs = build_messages("  where do\ncodes live?  ", sources, 12000)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT
    user = msgs[1]["content"]
    blocks = source_blocks(user).split("\n\n")
    assert blocks == [
        "[1] (document: codes.md) Binary codes\nBinary codes live in RAM.",
        "[2] (document: floats.md) floats.md\nFloat rows live on disk.",  # whitespace squashed
        "[3] (document: bread.md)\nBread needs flour.",
    ]
    assert "Question: where do codes live?\n\n" in user  # squashed question
    assert user.endswith("Answer with citations:")


def test_build_messages_names_the_page_of_paged_sources() -> None:
    sources = [
        src(1, "Set up DHCP with a network file.", "manual.pdf", page=12, file_name="manual.pdf"),
        src(2, "Rows live on disk.", "floats.md", page="cover"),  # not a reader's page number
    ]
    blocks = source_blocks(build_messages("dhcp?", sources, 12000)[1]["content"]).split("\n\n")
    assert blocks == [
        "[1] (document: manual.pdf, page 12) manual.pdf\nSet up DHCP with a network file.",
        "[2] (document: floats.md)\nRows live on disk.",
    ]


def test_build_messages_without_sources() -> None:
    user = build_messages("anything?", [], 1000)[1]["content"]
    assert "(no sources matched)" in user and "Question: anything?" in user


@pytest.mark.parametrize("budget", [500, 1000, 3000, 12000])
@pytest.mark.parametrize("n", [1, 3, 5, 10])
def test_build_messages_respects_budget(budget: int, n: int) -> None:
    sources = [src(i + 1, words(4000, i)) for i in range(n)]  # ~24k characters each
    user = build_messages("where do codes live?", sources, budget)[1]["content"]
    context = source_blocks(user)
    blocks = context.split("\n\n")
    assert len(blocks) == n
    assert sum(len(b) for b in blocks) <= budget
    for i, b in enumerate(blocks):
        assert b.startswith(f"[{i + 1}] (document: doc{i + 1}.md)\n")
        body = b.split("\n", 1)[1]
        assert body.endswith("…") and sources[i].text.startswith(body[:-1])  # cut at a word boundary
    # shared about equally (what a block leaves unused at its word cut goes to the next ones)
    assert min(map(len, blocks)) >= 0.5 * budget / n


def test_build_messages_short_sources_leave_budget_to_later_ones() -> None:
    long = words(2000, 7)
    sources = [src(1, "Binary codes live in RAM."), src(2, long), src(3, long)]
    user = build_messages("q", sources, 3000)[1]["content"]
    b1, b2, b3 = source_blocks(user).split("\n\n")
    assert b1.endswith("Binary codes live in RAM.")  # whole
    assert len(b2) > 3000 // 3 and len(b3) > 3000 // 3  # got what the first one left
    assert len(b1) + len(b2) + len(b3) <= 3000


# ---- prompt.cited_numbers / snippet ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "n", "expected"),
    [
        ("Codes live in RAM [2]. Rows are on disk [1][3]. Again [2].", 3, [2, 1, 3]),
        ("Out of range [0] [4] [12] but [1] is fine.", 3, [1]),
        ("No citations at all.", 5, []),
        ("[1] cites, [1] twice, [1] thrice", 1, [1]),
        ("Not citations: [a] [ 2 ] (3) [1.5] [-1] [1234]", 5, []),
        ("Two digits [12] and [10].", 12, [12, 10]),
        ("anything [1]", 0, []),
    ],
)
def test_cited_numbers(answer: str, n: int, expected: list[int]) -> None:
    assert cited_numbers(answer, n) == expected


def test_snippet() -> None:
    assert snippet("  Binary   codes\n live in RAM.  ", 300) == "Binary codes live in RAM."
    text = "Binary codes live in RAM while float rows live on disk."
    s = snippet(text, 20)
    assert s == "Binary codes live…"  # cut at the last space within 20 characters
    assert len(s) <= 21
    assert snippet("x" * 50, 10) == "x" * 10 + "…"  # no space: hard cut
    exact = "a" * 20
    assert snippet(exact, 20) == exact


# ---- cache.normalise_question -------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "where do codes live",
        "where do codes live?",
        "  WHERE do codes live ?",
        "Where\tdo\n codes   live?!",
        "where do codes live...",
        "ＷＨＥＲＥ do codes live？",  # full-width letters and question mark (NFKC)
    ],
)
def test_normalise_question_variants_agree(variant: str) -> None:
    assert normalise_question(variant) == "where do codes live"


def test_normalise_question_keeps_meaningful_differences() -> None:
    assert normalise_question("Straße?") == "strasse"  # case folding, not just lower()
    assert normalise_question("is 3.5 > 3?") == "is 3.5 > 3"  # inner punctuation kept
    assert normalise_question("where do codes live") != normalise_question("where do rows live")
    assert normalise_question("?!.") == ""


# ---- asker.replay_pieces ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        "Binary codes live in RAM [1]. " * 20,
        "x" * 300,  # no space at all
        "word " * 40 + "y" * 150 + " tail",
        " leading and trailing spaces ",
        "a" * 63 + " " + "b" * 64 + " " + "c",
        "Unicode – “quotes” and ünïcödé [2]. " * 10,
    ],
)
def test_replay_pieces_rejoin_and_size(text: str) -> None:
    pieces = replay_pieces(text)
    assert "".join(pieces) == text
    assert all(pieces) and all(len(p) <= REPLAY_PIECE_CHARS for p in pieces)
    if text:
        assert len(pieces) >= -(-len(text) // REPLAY_PIECE_CHARS)


def test_replay_pieces_cut_at_spaces() -> None:
    text = words(400, 3)
    pieces = replay_pieces(text, 40)
    assert "".join(pieces) == text
    assert len(pieces) > 1
    assert all(len(p) <= 40 for p in pieces)
    # every cut is just before a space, so no word is split
    for p in pieces[1:]:
        assert p.startswith(" ")


def test_replay_pieces_random_texts() -> None:
    rng = random.Random(11)
    alphabet = "ab cd  ef\n[1]."
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
        size = rng.randrange(1, 80)
        pieces = replay_pieces(text, size)
        assert "".join(pieces) == text
        assert all(0 < len(p) <= size for p in pieces)


# ---- generate._retry_after_s --------------------------------------------------------------------


def test_retry_after_seconds_and_ms() -> None:
    assert _retry_after_s(httpx.Headers({"retry-after": "7"})) == 7.0
    assert _retry_after_s(httpx.Headers({"retry-after": "1.5"})) == 1.5
    assert _retry_after_s(httpx.Headers({"retry-after": "0"})) == 0.0
    assert _retry_after_s(httpx.Headers({"retry-after": "-3"})) == 0.0
    assert _retry_after_s(httpx.Headers({"retry-after-ms": "2500"})) == 2.5
    # retry-after-ms wins; a junk retry-after-ms falls back to retry-after
    assert _retry_after_s(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert _retry_after_s(httpx.Headers({"retry-after-ms": "soon", "retry-after": "9"})) == 9.0
    assert _retry_after_s({"retry-after": "4"}) == 4.0  # any mapping
    assert _retry_after_s(httpx.Headers({"retry-after": "99999999"})) == 86400.0  # capped at a day


def test_retry_after_http_date() -> None:
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert _retry_after_s(httpx.Headers({"retry-after": future})) == pytest.approx(30, abs=2)
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert _retry_after_s(httpx.Headers({"retry-after": past})) == 0.0


@pytest.mark.parametrize("headers", [None, {}, {"retry-after": ""}, {"retry-after": "soon"},
                                     {"retry-after": "Mon, 99 Foo 20xx"}, {"x-other": "3"}])
def test_retry_after_missing_or_junk(headers) -> None:
    assert _retry_after_s(httpx.Headers(headers) if headers is not None else None) is None


@pytest.mark.parametrize("value", ["inf", "nan", "1e999"])
def test_retry_after_non_finite_is_junk(value: str) -> None:
    """A non-finite retry-after must not become the error's retry_after_s: errors._abort sends
    round(retry_after_s * 1000) as trailing metadata, which raises on inf / nan."""
    assert _retry_after_s(httpx.Headers({"retry-after": value})) is None
    assert _retry_after_s(httpx.Headers({"retry-after-ms": value})) is None


# ---- generate.provider_error --------------------------------------------------------------------

REQ = httpx.Request("POST", "http://127.0.0.1:9/openai/v1/chat/completions")


def status_error(cls: type[groq.APIStatusError], status: int, message: str,
                 headers: dict[str, str] | None = None) -> groq.APIStatusError:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "x"}}
    resp = httpx.Response(status, headers=headers or {}, json=body, request=REQ)
    return cls(f"Error code: {status} - {body}", response=resp, body=body)


def mapped(exc: BaseException) -> BitragError:
    return provider_error(exc, groq, 12.0)


@pytest.mark.parametrize(
    ("cls", "status", "expected", "grpc_code"),
    [
        (groq.AuthenticationError, 401, FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
        (groq.PermissionDeniedError, 403, FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
        (groq.APIStatusError, 408, DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
        (groq.InternalServerError, 500, Unavailable, grpc.StatusCode.UNAVAILABLE),
        (groq.InternalServerError, 503, Unavailable, grpc.StatusCode.UNAVAILABLE),
        (groq.NotFoundError, 404, FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
        (groq.BadRequestError, 400, FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_provider_error_status_mapping(cls, status: int, expected: type, grpc_code: grpc.StatusCode) -> None:
    err = mapped(status_error(cls, status, f"provider says {status}"))
    assert type(err) is expected
    assert err.code == grpc_code
    assert f"HTTP {status}" in err.message
    assert f"provider says {status}" in err.message  # the provider's message, not the raw body
    assert "{'error'" not in err.message
    assert err.retry_after_s is None


def test_provider_error_401_names_the_key() -> None:
    err = mapped(status_error(groq.AuthenticationError, 401, "Invalid API Key"))
    assert "API key" in err.message and "Invalid API Key" in err.message


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
def test_provider_error_429(headers: dict[str, str], retry_after: float | None) -> None:
    err = mapped(status_error(groq.RateLimitError, 429, "Rate limit reached", headers))
    assert type(err) is ResourceExhausted
    assert err.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert err.retry_after_s == retry_after
    assert "HTTP 429" in err.message and "Rate limit reached" in err.message
    if retry_after is None:
        assert "retry after" not in err.message
    else:
        assert f"retry after {retry_after:g} s" in err.message


def test_provider_error_timeouts() -> None:
    for exc in (groq.APITimeoutError(request=REQ), httpx.ReadTimeout("timed out", request=REQ)):
        err = mapped(exc)
        assert type(err) is DeadlineExceeded
        assert "12 s" in err.message


def test_provider_error_connection_and_broken_stream() -> None:
    broken = httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body (incomplete chunked read)", request=REQ
    )
    for exc in (broken, groq.APIConnectionError(request=REQ), httpx.ConnectError("refused", request=REQ)):
        err = mapped(exc)
        assert type(err) is Unavailable
        assert err.code == grpc.StatusCode.UNAVAILABLE
        assert type(exc).__name__ in err.message


def test_provider_error_reraises_unrelated_exceptions() -> None:
    with pytest.raises(ValueError, match="not a provider error"):
        mapped(ValueError("not a provider error"))
