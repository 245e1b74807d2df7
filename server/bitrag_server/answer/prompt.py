"""The prompt: numbered sources within a character budget, and the citations an answer makes."""

from __future__ import annotations

import re

from .types import Source

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources below. Cite the source of every claim "
    "with its number in square brackets, like [1] or [2][3]. If the sources do not contain the "
    "answer, say so plainly. Never cite a number that is not a source."
)
PROMPT_VERSION = 2  # part of the cache key: change it when the prompt changes

_WS = re.compile(r"\s+")
_CITE = re.compile(r"\[(\d{1,3})\]")


def squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def snippet(text: str, limit: int) -> str:
    """The first `limit` characters of a chunk, cut at a word boundary."""
    t = squash(text)
    if len(t) <= limit:
        return t
    cut = t[:limit].rsplit(" ", 1)[0] or t[:limit]
    return cut + "…"


def _source_block(s: Source, limit: int) -> str:
    """`[n] (document: id, page p) title` + the chunk's text, in at most `limit` characters (the
    page where the chunk's reader recorded one)."""
    page = s.metadata.get("page")
    where = f", page {page}" if isinstance(page, int) and not isinstance(page, bool) else ""
    head = f"[{s.number}] (document: {s.document_id}{where})"
    title = s.metadata.get("title") or s.metadata.get("file_name")
    if title:
        head += f" {title}"
    head = head[:limit]
    room = limit - len(head) - 1
    return f"{head}\n{snippet(s.text, room)}" if room >= 20 else head


def build_messages(question: str, sources: list[Source], budget_chars: int) -> list[dict[str, str]]:
    """System + user messages. The budget is shared equally by the sources (higher-ranked ones
    first get what shorter ones leave unused)."""
    blocks: list[str] = []
    left = budget_chars
    for i, s in enumerate(sources):
        share = left // (len(sources) - i) - 2  # the blank line between blocks
        block = _source_block(s, max(share, 0))
        blocks.append(block)
        left -= len(block) + 2
    context = "\n\n".join(blocks) if blocks else "(no sources matched)"
    user = f"Sources:\n\n{context}\n\nQuestion: {squash(question)}\n\nAnswer with citations:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def cited_numbers(answer: str, n_sources: int) -> list[int]:
    """Source numbers cited in the answer, in order of first citation, within 1..n_sources."""
    seen: list[int] = []
    for m in _CITE.finditer(answer):
        n = int(m.group(1))
        if 1 <= n <= n_sources and n not in seen:
            seen.append(n)
    return seen
