"""ListDocuments: a collection's documents in id order, a page at a time.

Milvus holds which rows are live and their document ids; the record store holds each row's
document hash, ingest time and metadata. A listing of every document (or of a prefix) scans the
live rows' (row, doc_id) once per collection generation and keeps the result (`DocumentIndex`, a
few dozen bytes per document) on the collection, so paging through it costs one scan, not one
per page. A listing of given ids asks Milvus for those ids only (ingest's look-up).

Page tokens are opaque to clients: the last id of the page, base64url-encoded.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .domain import DocumentInfo, DocumentPage
from .errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_IDS = 1000  # document_ids per request, as Fetch
SCAN_BATCH = 8192


@dataclass(frozen=True)
class DocumentIndex:
    """Every live document of one collection generation: ids sorted (code point order == UTF-8
    byte order), and per id its live chunk count and first row."""

    key: tuple[str, int, int]  # (Milvus collection, generation, compactions)
    ids: list[str]
    chunks: list[int]
    first_row: list[int]


def encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    """The id a page token continues after ("" for no token)."""
    if not token:
        return ""
    try:
        after = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("not a next_page_token of this API", field="page_token") from None
    if not after:
        raise InvalidArgument("not a next_page_token of this API", field="page_token")
    return after


def check_request(page_size: int, document_ids: Sequence[str], prefix: str, max_id_bytes: int) -> int:
    """The page size in force; InvalidArgument naming the field at fault."""
    size = page_size or DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"{page_size} not in 1..{MAX_PAGE_SIZE} (0 = {DEFAULT_PAGE_SIZE})", field="page_size")
    if len(document_ids) > MAX_IDS:
        raise InvalidArgument(f"{len(document_ids)} ids: at most {MAX_IDS} per request", field="document_ids")
    for i, d in enumerate(document_ids):
        if not d:
            raise InvalidArgument("empty document id", field=f"document_ids[{i}]")
        if len(d.encode()) > max_id_bytes:
            raise InvalidArgument(f"longer than {max_id_bytes} bytes", field=f"document_ids[{i}]")
    if len(prefix.encode()) > max_id_bytes:
        raise InvalidArgument(f"longer than {max_id_bytes} bytes", field="prefix")
    return size


def build_index(key: tuple[str, int, int], batches: Iterable[list[dict]]) -> DocumentIndex:
    """DocumentIndex from batches of Milvus rows with `row` and `doc_id`."""
    count: dict[str, int] = {}
    first: dict[str, int] = {}
    for batch in batches:
        for r in batch:
            d, row = r["doc_id"], int(r["row"])
            count[d] = count.get(d, 0) + 1
            if row < first.get(d, row + 1):
                first[d] = row
    ids = sorted(count)
    return DocumentIndex(key, ids, [count[d] for d in ids], [first[d] for d in ids])


def select(ids: Sequence[str], after: str, prefix: str, page_size: int) -> tuple[range, bool]:
    """Positions in sorted `ids` of the page after `after` among ids starting with `prefix`, and
    whether more follow."""
    lo = bisect.bisect_right(ids, after) if after else 0
    if prefix:
        lo = max(lo, bisect.bisect_left(ids, prefix))
    hi = lo
    end = min(len(ids), lo + page_size + 1)
    while hi < end and ids[hi].startswith(prefix):
        hi += 1
    more = hi > lo + page_size
    return range(lo, min(hi, lo + page_size)), more


def page_of(ids: Sequence[str], chunks: Sequence[int], records: Sequence[dict], more: bool) -> DocumentPage:
    """A page from ids, their chunk counts and their first rows' records."""
    docs = [
        DocumentInfo(d, n, r.get("doc_hash", ""), int(r.get("ingested_ms", 0)), r.get("metadata") or {})
        for d, n, r in zip(ids, chunks, records)
    ]
    return DocumentPage(docs, encode_token(ids[-1]) if more and ids else "")
