"""bitrag's filter language (filters.py) -> a neutral predicate tree -> each legacy store's own
filter: a Milvus expression, a Chroma `where`, a Qdrant `Filter`. `not` is pushed down to the
comparisons (De Morgan), as for Milvus in filters.py, so every target needs only and/or.

A filter a store cannot express raises `Unsupported`: the caller then does not read that store
(the `collection` fallback moves on to the next one; a shadow read is skipped and counted)."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from ..filters import FIELD, MAX_FILTER_CHARS, is_metadata_key

_NEG = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not in", "not in": "in"}
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}


class Unsupported(Exception):
    """The legacy store cannot express this filter."""


@dataclass(frozen=True)
class Cmp:
    key: str  # a metadata key, or "document_id"
    op: str  # == != < <= > >= in, not in
    value: Any  # a literal, or a list of literals for in / not in


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Any, ...]  # Cmp | BoolOp


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Name) and node.id in ("true", "false"):
        return node.id == "true"
    try:
        v = ast.literal_eval(node)
    except ValueError:
        raise InvalidArgument(f"expected a literal at column {node.col_offset + 1}", field=FIELD) from None
    if not isinstance(v, (str, int, float, bool)):
        raise InvalidArgument(f"expected a string, number or boolean at column {node.col_offset + 1}", field=FIELD)
    return v


def _key(node: ast.expr) -> str:
    if isinstance(node, ast.Name) and is_metadata_key(node.id):
        return node.id
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "metadata"
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
            and is_metadata_key(node.slice.value)):
        return node.slice.value
    raise InvalidArgument(f"expected a metadata key at column {node.col_offset + 1}", field=FIELD)


def _tree(node: ast.expr, negate: bool) -> Cmp | BoolOp:
    if isinstance(node, ast.BoolOp):
        conj = isinstance(node.op, ast.And) != negate
        return BoolOp("and" if conj else "or", tuple(_tree(v, negate) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _tree(node.operand, not negate)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _OPS:
        op = _OPS[type(node.ops[0])]
        right = node.comparators[0]
        if op in ("in", "not in"):
            if not isinstance(right, (ast.List, ast.Tuple)) or not right.elts:
                raise InvalidArgument("`in` takes a non-empty list of literals", field=FIELD)
            value: Any = [_literal(e) for e in right.elts]
        else:
            value = _literal(right)
        return Cmp(_key(node.left), _NEG[op] if negate else op, value)
    raise InvalidArgument(f"unsupported filter syntax at column {getattr(node, 'col_offset', 0) + 1}", field=FIELD)


def parse(text: str) -> Cmp | BoolOp | None:
    """A bitrag filter -> its predicate tree (None for no filter); InvalidArgument naming `filter`."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidArgument(f"longer than {MAX_FILTER_CHARS} characters", field=FIELD)
    try:
        return _tree(ast.parse(text, mode="eval").body, False)
    except SyntaxError as exc:
        raise InvalidArgument(f"syntax error at column {exc.offset or 0}: {exc.msg}", field=FIELD) from None


# ---- targets -------------------------------------------------------------------------------------


def to_milvus(p: Cmp | BoolOp | None, field_of: Any) -> str:
    """Milvus expression; `field_of(key)` -> the expression addressing that key (a scalar or
    dynamic field by name, or `metadata["key"]` in a JSON field)."""
    if p is None:
        return ""
    if isinstance(p, BoolOp):
        return "(" + f" {p.op} ".join(to_milvus(i, field_of) for i in p.items) + ")"
    def lit(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False) if not isinstance(v, bool) else ("true" if v else "false")

    value = "[" + ", ".join(lit(v) for v in p.value) + "]" if isinstance(p.value, list) else lit(p.value)
    return f"({field_of(p.key)} {p.op} {value})"


_CHROMA = {"==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "in": "$in", "not in": "$nin"}


def to_chroma(p: Cmp | BoolOp | None, field_of: Any) -> dict[str, Any] | None:
    if p is None:
        return None
    if isinstance(p, BoolOp):
        items = [to_chroma(i, field_of) for i in p.items]
        return items[0] if len(items) == 1 else {f"${p.op}": items}
    return {field_of(p.key): {_CHROMA[p.op]: p.value}}


def to_qdrant(p: Cmp | BoolOp | None, field_of: Any) -> Any:
    """A qdrant_client `models.Filter` (None for no filter)."""
    if p is None:
        return None
    from qdrant_client import models

    def cond(c: Cmp) -> tuple[str, Any]:
        key = field_of(c.key)
        if c.op in ("==", "!="):
            if isinstance(c.value, float):
                raise Unsupported("Qdrant matches only strings, integers and booleans for equality")
            m = models.FieldCondition(key=key, match=models.MatchValue(value=c.value))
            return ("must" if c.op == "==" else "must_not"), m
        if c.op in ("in", "not in"):
            if any(isinstance(v, float) for v in c.value):
                raise Unsupported("Qdrant matches only strings and integers in a list")
            m = models.FieldCondition(key=key, match=models.MatchAny(any=list(c.value)))
            return ("must" if c.op == "in" else "must_not"), m
        if isinstance(c.value, (str, bool)):
            raise Unsupported("Qdrant ranges take numbers")
        rng = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[c.op]
        return "must", models.FieldCondition(key=key, range=models.Range(**{rng: c.value}))

    def build(node: Cmp | BoolOp) -> Any:
        if isinstance(node, Cmp):
            kind, c = cond(node)
            return models.Filter(must=[c]) if kind == "must" else models.Filter(must_not=[c])
        subs = [build(i) for i in node.items]
        return models.Filter(must=subs) if node.op == "and" else models.Filter(should=subs)

    return build(p)
