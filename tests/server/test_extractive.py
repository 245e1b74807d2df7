"""answer/extractive.py: passages (sentences across line breaks, continuations, no tables, no
fragments), their choice by the query embedding (the real local model), the length caps, and the
ExtractiveGenerator's lines with [n] citations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from bitrag_server.answer import extractive as ex
from bitrag_server.answer.generate import EXTRACTIVE_LABEL, ExtractiveGenerator
from bitrag_server.answer.types import Source, Usage
from bitrag_server.embed import LocalEmbedder

# What the Debian reference's HTML gives a reader: a lead-in sentence, the command on the next line,
# a package table, a sentence wrapped over two lines.
EDITOR = """## Setting the default text editor

Debian has many different editors, and the default one is chosen by the alternatives
system. You can change the default editor by the following:
$ sudo update-alternatives --config editor

| package | popcon | size | description |
|---|---|---|---|
| vim | V:15, I:30 | 3,000 | Vi IMproved, a programmer's text editor |
| nano | V:10, I:90 | 2,500 | a small, friendly text editor |

Choosing an editor the system does not know needs these steps:
- install its package with apt
- register it with update-alternatives --install
"""

# A chunk cut by the splitter in mid-sentence at both ends.
CUT = ("be in RAM. The float32 rows stay on disk in one memory-mapped file per collection. "
       "They are read only to rescore the shortlist that the binary search returns. Every row is")


def src(n: int, text: str) -> Source:
    return Source(n, f"d{n}#0", f"d{n}", 1.0 - n / 10, "", {}, text)


def texts(source: Source) -> list[str]:
    return [p.text for p in ex.passages(source)]


def test_lead_in_sentence_keeps_the_command_on_the_next_line() -> None:
    ps = texts(src(1, EDITOR))
    lead = [p for p in ps if p.startswith("You can change the default editor")]
    assert lead == ["You can change the default editor by the following: `$ sudo update-alternatives --config editor`"]


def test_sentences_join_across_line_breaks_and_lists_follow_their_lead_in() -> None:
    ps = texts(src(1, EDITOR))
    assert ps[0] == ("Debian has many different editors, and the default one is chosen by the alternatives system.")
    assert ps[-1] == ("Choosing an editor the system does not know needs these steps: install its package with "
                      "apt; register it with update-alternatives --install.")


def test_no_table_rows_headings_or_fragments() -> None:
    ps = texts(src(1, EDITOR))
    assert not any("|" in p or "popcon" in p or "IMproved" in p for p in ps)  # the table
    assert not any("Setting the default" in p for p in ps)  # the heading
    cut = texts(src(1, CUT))
    assert cut == ["The float32 rows stay on disk in one memory-mapped file per collection.",
                   "They are read only to rescore the shortlist that the binary search returns."]
    assert texts(src(1, "Bread. Yes it is. 1 2 3 4 5 6 7 8.")) == []  # too short, not words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See the notes, e.g. The Guide, for more on this topic.", ["See the notes, e.g. The Guide, for more on this topic."]),
        ("Run this:\n\n```\nmake demo\nmake ui\n```\nThat is all you need here.",
         ["Run this: `make demo` `make ui`", "That is all you need here."]),
        ("Indented code follows here:\n\n    bitrag serve --data-dir x\n\nAnd then it listens on a port.",
         ["Indented code follows here: `bitrag serve --data-dir x`", "And then it listens on a port."]),
        # the Debian reference as its HTML reads: "by the following." and an indented command
        (("You can change it by the following.\n    \n    \n    $ sudo update-alternatives --config editor\n\n"
          "| Tip  \n---|---  \nMany programs use the environment variables to decide which editor to use."),
         ["You can change it by the following. `$ sudo update-alternatives --config editor`",
          "Many programs use the environment variables to decide which editor to use."]),
        ("name | size | what\nvim | 3 MB | an editor\nA table without its outer bars is dropped too.",
         ["A table without its outer bars is dropped too."]),
        ("A `a | b | c` pipe in code is no table, as this line shows.",
         ["A `a | b | c` pipe in code is no table, as this line shows."]),
    ],
)
def test_passages(text: str, expected: list[str]) -> None:
    assert texts(src(1, text)) == expected


def test_caps() -> None:
    long = "Every " + " ".join(["word"] * 400) + "."
    (p,) = texts(src(1, long))
    assert len(p) <= ex.MAX_PASSAGE_CHARS and p.endswith("…")
    sources = [src(n, " ".join(f"Sentence {n} number {i} says something long about codes " * 6 + "." for i in range(5)))
               for n in (1, 2, 3)]
    cands = [p for s in sources for p in ex.passages(s)]
    chosen = ex.select(cands, np.ones(len(cands)))
    assert len(chosen) <= ex.MAX_PASSAGES
    assert sum(len(p.text) for p in chosen) <= ex.MAX_ANSWER_CHARS


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def embed_fn(e: LocalEmbedder) -> Callable[[list[str]], Awaitable[np.ndarray]]:
    async def embed(t: list[str]) -> np.ndarray:
        return await asyncio.to_thread(e.embed, t)

    return embed


async def answer(e: LocalEmbedder, question: str, sources: list[Source]) -> str:
    gen = ExtractiveGenerator()
    parts = [p async for p in gen.stream(
        question, sources, [], model="", temperature=0.0, max_tokens=0, usage=Usage(),
        query_vector=e.embed([question])[0], embed=embed_fn(e),
    )]
    return "".join(parts)


async def test_extractive_answer_on_the_fixture(local: LocalEmbedder) -> None:
    bread = src(2, "Sourdough bread needs flour, water, salt and a lively starter culture. "
                   "The dough rises slowly overnight in a cool kitchen.")
    a = await answer(local, "How do I change the default editor?", [src(1, EDITOR), bread])
    assert a.startswith(EXTRACTIVE_LABEL + "\n")
    lines = [ln for ln in a.splitlines()[1:] if ln.strip()]
    assert 1 <= len(lines) <= ex.MAX_PASSAGES
    for ln in lines:
        m = re.fullmatch(r"- (.+) \[(\d)\]", ln)
        assert m, ln
        assert len(m.group(1)) <= ex.MAX_PASSAGE_CHARS
        assert "|" not in ln
    assert any("by the following: `$ sudo update-alternatives --config editor` [1]" in ln for ln in lines)
    assert "Sourdough" not in a  # an unrelated source is not quoted


async def test_scored_by_the_embedding_when_no_word_is_shared(local: LocalEmbedder) -> None:
    q = "How do I stop the server?"
    cands = ex.passages(src(1, "Bread needs flour and water to rise. Press Ctrl-C or send SIGTERM; in-flight calls finish first."))
    assert len(cands) == 2
    assert list(await ex.score(q, cands)) == [0.0, 0.0]  # lexically: nothing to choose
    semantic = await ex.score(q, cands, query_vector=local.embed([q])[0], embed=embed_fn(local))
    assert semantic[1] > semantic[0] + 0.1
    chosen = await ex.extract(q, [src(1, cands[0].text + " " + cands[1].text)], query_vector=local.embed([q])[0],
                              embed=embed_fn(local))
    assert [p.text for p in chosen] == [cands[1].text]  # the unrelated sentence is under the floor


def test_coverage_meets_word_forms() -> None:
    assert ex.coverage("How are candidates rescored?", "Rescoring reads the candidate rows.") == 1.0
    assert ex.coverage("How are candidates rescored?", "Bread needs flour.") == 0.0
    assert ex.coverage("what is the", "anything") == 0.0  # stop words only


async def test_no_sources_and_only_tables() -> None:
    gen = ExtractiveGenerator()

    async def run(sources: list[Source]) -> str:
        return "".join([p async for p in gen.stream("q?", sources, [], model="", temperature=0.0,
                                                    max_tokens=0, usage=Usage())])

    assert (await run([])).endswith("No source matched the question.")
    assert "no quotable sentence" in await run([src(1, "| a | b |\n|---|---|\n| 1 | 2 |")])
