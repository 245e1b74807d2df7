"""Extractive answers (no LLM key): passages of the top sources, chosen by the query embedding.

A source's chunk is read as blocks (prose paragraphs, list items, code, tables, headings); prose is
cut into sentences across line breaks. A passage is one sentence or list item, plus its
continuation when it leads into one ("by the following:" and the command on the next line, a
sentence ending in ":" and the list under it). Table rows, headings and fragments (a few words, a
sentence cut off at the chunk's edge, mostly punctuation) are not passages. The passages are
embedded with their chunk's heading by the collection's embedder (the query's vector is at hand),
scored by similarity to the query plus the share of the question's words they hold, and the best
are quoted in reading order, each with its source's [n], within a length cap. Without an embedder
the score is lexical (`lexical_score`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .prompt import squash
from .types import Source

Embed = Callable[[list[str]], Awaitable[np.ndarray]]  # texts [n] -> L2-normalised vectors [n, d]

EXTRACTIVE_VERSION = "extractive-2"  # part of the answer cache key: change it when the choice changes
MAX_SOURCES = 3  # the top sources passages are taken from
MAX_PASSAGES = 3
MAX_PASSAGE_CHARS = 360
MAX_ANSWER_CHARS = 900  # all passages together, without their [n]
MAX_CONTINUATION_LINES = 4
RELATIVE_FLOOR = 0.6  # a passage scoring under this share of the best one is left out
# Subtracted from a passage's similarity per rank of its source below the first: retrieval ranked
# the chunks in their context, so a near tie goes to the higher-ranked source.
RANK_PENALTY = 0.05
# Added per share of the question's word stems a passage holds: of two passages on the topic, the
# one that names what the question names (embeddings of a small model blur the two).
COVERAGE_WEIGHT = 0.2
MIN_WORDS = 4

BlockKind = Literal["prose", "item", "code", "table"]


@dataclass
class Block:
    kind: BlockKind
    lines: list[str]


@dataclass
class Passage:
    number: int  # the source's [n]
    text: str  # one line, as quoted
    position: int  # order within the source
    context: str = ""  # the heading the source's chunk is led by (embedded with the passage)


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_TABLE = re.compile(r"^\s*\||^\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$")  # a row, or the ---|--- line
_CODE_SPAN = re.compile(r"`[^`]*`")


def _is_table_row(line: str) -> bool:
    """A Markdown table line: it starts with "|", is a ---|--- separator, or has two cell bars
    outside code spans (a row written without its outer bars)."""
    return bool(_TABLE.match(line)) or _CODE_SPAN.sub("", line).count(" | ") >= 2
_ITEM = re.compile(r"^(\s*)(?:[-*+•]|\d{1,3}[.)])\s+")
_PROMPT = re.compile(r"^\s*[$%]\s")  # a shell prompt: a command line
_SENT = re.compile(r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bvs\.)\s+(?=[A-Z0-9\"'(\[`*])")
_END = re.compile(r"[.!?:;)\]\"'`*]$")
# A sentence that announces what follows it: its next block (code, a list, a command line) belongs to it.
_LEAD_IN = re.compile(
    r"(?::|\b(?:following|as follows|below|like this|like so|this command|these commands|run|type|use)\s*[.:]?)$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "there", "these", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your"]
)


def blocks(text: str) -> list[Block]:
    """A chunk's lines -> blocks. Headings are dropped; a fenced code block, an indented block
    after a blank line and shell-prompt lines are code; consecutive `|` lines are a table; a list
    item takes its indented continuation lines."""
    out: list[Block] = []
    cur: Block | None = None
    fence = ""
    blank = True
    for raw in text.splitlines():
        line = raw.rstrip()
        if fence:
            if _FENCE.match(line) and line.strip().startswith(fence):
                fence, cur = "", None
            elif cur is not None:
                cur.lines.append(line.strip())
            continue
        if m := _FENCE.match(line):
            fence = m.group(1)
            cur = Block("code", [])
            out.append(cur)
            blank = False
            continue
        if not line.strip():
            cur, blank = None, True
            continue
        if _HEADING.match(line):
            cur, blank = None, True
            continue
        if _is_table_row(line):
            kind: BlockKind = "table"
        elif _PROMPT.match(line) or (line.startswith("    ") and (blank or (cur is not None and cur.kind == "code"))):
            kind = "code"
        elif _ITEM.match(line):
            cur = Block("item", [_ITEM.sub("", line, count=1)])
            out.append(cur)
            blank = False
            continue
        elif cur is not None and cur.kind == "item" and (raw[:1].isspace() or not blank):
            cur.lines.append(line.strip())
            continue
        else:
            kind = "prose"
        if cur is None or cur.kind != kind:
            cur = Block(kind, [])
            out.append(cur)
        cur.lines.append(line.strip())
        blank = False
    return [b for b in out if any(x.strip() for x in b.lines)]


def split_sentences(paragraph: str) -> list[str]:
    return [s for s in _SENT.split(squash(paragraph)) if s]


def is_fragment(text: str) -> bool:
    """Too short to say anything, mostly not words, or not a sentence (no capital or code start)."""
    words = text.split()
    if len(words) < MIN_WORDS:
        return True
    letters = sum(ch.isalpha() for ch in text)
    return letters < 0.5 * len(text.replace(" ", ""))


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _continuation(block: Block) -> str:
    """The block a lead-in sentence points at, inlined: code lines in backticks, list items
    joined by "; ", a short command-like paragraph in backticks."""
    lines = [x for x in block.lines if x.strip()][:MAX_CONTINUATION_LINES]
    if block.kind == "item":
        return squash(" ".join(lines))
    return " ".join(f"`{squash(x).strip('`')}`" for x in lines)


def _is_command_like(block: Block) -> bool:
    """A short prose block that does not read as a sentence (no end punctuation): a command line
    in text extracted from HTML or PDF, where code is not marked."""
    return block.kind == "prose" and len(block.lines) <= 2 and not _END.search(block.lines[-1].strip())


def passages(source: Source) -> list[Passage]:
    """The passages of one source (see the module docstring), in order."""
    first_line = source.text.lstrip().split("\n", 1)[0]
    context = _HEADING.sub("", first_line).strip() if _HEADING.match(first_line) else ""
    bl = blocks(source.text)
    out: list[str] = []
    i = 0
    while i < len(bl):
        b = bl[i]
        i += 1
        if b.kind in ("table", "code"):
            continue
        units = split_sentences(" ".join(b.lines))
        if i == 1 and not context and b.kind == "prose" and units and units[0][:1].islower():
            units = units[1:]  # starts mid-sentence: the chunk was cut there
        if i == len(bl) and units and not _END.search(units[-1]):
            units = units[:-1]  # cut off at the chunk's end
        if not units:
            continue
        tail = units[-1]
        if i < len(bl) and _LEAD_IN.search(tail):
            nxt = bl[i]
            if nxt.kind == "code" or _is_command_like(nxt):
                units[-1] = f"{tail} {_continuation(nxt)}"
                i += 1
            elif nxt.kind == "item":
                items: list[str] = []
                while i < len(bl) and bl[i].kind == "item" and len(items) < MAX_CONTINUATION_LINES:
                    items.append(_continuation(bl[i]).rstrip("."))
                    i += 1
                units[-1] = f"{tail} {'; '.join(items)}."
        out.extend(units)
    seen: set[str] = set()
    result: list[Passage] = []
    for u in out:
        u = _cap(u, MAX_PASSAGE_CHARS)
        key = u.lower()
        if is_fragment(u) or key in seen:
            continue
        seen.add(key)
        result.append(Passage(source.number, u, len(result), context))
    return result


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _stems(text: str) -> set[str]:
    """Question-bearing words cut to 6 letters: a crude stemmer ("rescored", "rescoring" and
    "rescore" meet), enough to tell which passages name what the question names."""
    return {w[:6] for w in _terms(text)}


def coverage(question: str, text: str) -> float:
    """The share of the question's word stems the text holds, 0..1."""
    q = _stems(question)
    return len(q & _stems(text)) / len(q) if q else 0.0


def lexical_score(question: str, text: str) -> float:
    """Question terms the text holds, length-normalised (the score without an embedder)."""
    q, t = _terms(question), _terms(text)
    return len(q & t) / math.sqrt(len(t)) if t else 0.0


def select(candidates: Sequence[Passage], scores: np.ndarray) -> list[Passage]:
    """The best-scoring passages: at most MAX_PASSAGES, MAX_ANSWER_CHARS together, none scoring
    under RELATIVE_FLOOR of the best (when the best is positive); quoted in reading order (by
    source, then position), so the passages of one chunk read as they were written."""
    if not candidates:
        return []
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    chosen: list[Passage] = []
    used = 0
    for j in order:
        p = candidates[int(j)]
        if chosen and best > 0 and scores[j] < RELATIVE_FLOOR * best:
            break
        if chosen and used + len(p.text) > MAX_ANSWER_CHARS:
            continue
        chosen.append(p)
        used += len(p.text)
        if len(chosen) == MAX_PASSAGES:
            break
    return sorted(chosen, key=lambda p: (p.number, p.position))


async def score(
    question: str, cands: Sequence[Passage], *, query_vector: np.ndarray | None = None,
    embed: Embed | None = None,
) -> np.ndarray:
    """Each passage's score [n]: cosine to the query of the passage embedded with its heading,
    plus COVERAGE_WEIGHT x `coverage`, less RANK_PENALTY per source rank below the first; without
    an embedder, `lexical_score`."""
    if embed is None or query_vector is None:
        return np.array([lexical_score(question, p.text) for p in cands], dtype=np.float64)
    vecs = await embed([f"{p.context}: {p.text}" if p.context else p.text for p in cands])  # [n, d]
    sims = np.asarray(vecs, dtype=np.float32) @ np.asarray(query_vector, dtype=np.float32)  # [n]
    cov = np.array([coverage(question, p.text) for p in cands])  # [n]
    ranks = np.array([p.number for p in cands]) - 1  # [n]
    return sims.astype(np.float64) + COVERAGE_WEIGHT * cov - RANK_PENALTY * ranks


async def extract(
    question: str, sources: Sequence[Source], *, query_vector: np.ndarray | None = None,
    embed: Embed | None = None,
) -> list[Passage]:
    """The passages that answer `question` best, from the top MAX_SOURCES sources."""
    cands = [p for s in sources[:MAX_SOURCES] for p in passages(s)]
    if not cands:
        return []
    return select(cands, await score(question, cands, query_vector=query_vector, embed=embed))
