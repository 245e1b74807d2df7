"""Metadata filters -> Milvus boolean expressions.

The filter language is a small, safe subset of Python expression syntax, parsed with `ast`:
names are metadata keys (`document_id` is the document id), literals are strings, numbers,
booleans and lists, operators are == != < <= > >= in, not in, and, or, not and parentheses.
Anything else is rejected with INVALID_ARGUMENT naming `filter` and the column, so a caller never
reaches Milvus' internal fields or its parser errors.

    year >= 2020 and source in ["a.md", "b.md"]
    -> (metadata["year"] >= 2020) and (metadata["source"] in ["a.md", "b.md"])

`not` is pushed down to the comparisons (De Morgan, negated operators) because Milvus Lite
rejects NOT expressions: `not (a == 1 and b in [2])` -> `(a != 1) or (b not in [2])`. A negated
order comparison (`not year < 2020` -> `year >= 2020`) does not match chunks without the key.
"""

from __future__ import annotations

import ast
import json
import math
import re

from .errors import InvalidArgument
from .stores.binary_index import PARTITION_FIELD

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_NEGATED = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
MAX_FILTER_CHARS = 4096
FIELD = "filter"


def _bad(node: ast.AST | None, what: str) -> InvalidArgument:
    col = getattr(node, "col_offset", None)
    where = f" at column {col + 1}" if col is not None else ""
    return InvalidArgument(f"{what}{where}", field=FIELD)


def _number(node: ast.expr, v: int | float) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        raise _bad(node, "numbers must be finite")
    if isinstance(v, int) and not -(2**63) <= v < 2**63:  # Milvus compares 64-bit integers
        raise _bad(node, "integers must fit in 64 bits")
    return repr(v)


def _literal(node: ast.expr) -> str:
    if isinstance(node, ast.Name) and node.id in ("true", "false"):  # JSON-style booleans, as in the docs
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        v = node.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            try:  # JSON-style surrogate pairs ("\ud83d\ude00") combine; a lone one (found by fuzzing:
                # Milvus' client cannot encode it) is the caller's error
                v = v.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise _bad(node, "string literals must be valid Unicode (no lone surrogates)") from None
            # double-quoted, escaped: Milvus string literal syntax. ensure_ascii=False: Milvus does
            # not decode \uXXXX escapes, so "café" would never match.
            return json.dumps(v, ensure_ascii=False)
        return _number(node, v)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if isinstance(inner, ast.Constant) and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
            return _number(node, -inner.value)
    raise _bad(node, "expected a string, number or boolean literal")


def is_metadata_key(name: str) -> bool:
    return bool(_KEY.fullmatch(name))


def _field(node: ast.expr, pkey: str = "") -> str:
    if isinstance(node, ast.Name):
        if node.id == "document_id":
            return "doc_id"
        if not _KEY.fullmatch(node.id):
            raise _bad(node, f"invalid metadata key {node.id!r}")
        if pkey and node.id == pkey:  # the partition key field: Milvus searches only its partitions
            return PARTITION_FIELD
        return f'metadata["{node.id}"]'
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "metadata":
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and _KEY.fullmatch(key.value):
            return f'metadata["{key.value}"]'
        raise _bad(node, "metadata[...] takes a key string of letters, digits and _")
    raise _bad(node, "expected a metadata key on the left of a comparison")


def _value(node: ast.expr, left: str) -> str:
    lit = _literal(node)
    if left == "doc_id" and not lit.startswith('"'):  # a VARCHAR field: Milvus asserts on other types
        raise _bad(node, "document_id compares with strings")
    if left == PARTITION_FIELD and not lit.startswith('"'):  # the field holds the value as a string
        return json.dumps(lit)
    return lit


def _kind(literal: str) -> str:
    """The type of a translated literal: str, bool, int or float."""
    if literal.startswith('"'):
        return "str"
    if literal in ("true", "false"):
        return "bool"
    return "int" if re.fullmatch(r"-?\d+", literal) else "float"


def _compare(node: ast.Compare, negate: bool = False, pkey: str = "") -> str:
    if len(node.ops) != 1:
        raise _bad(node, "chained comparisons are not supported; use `and`")
    op, right = node.ops[0], node.comparators[0]
    if negate and type(op) in _NEGATED:
        op = _NEGATED[type(op)]()
    left = _field(node.left, pkey)
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(right, (ast.List, ast.Tuple)) or not right.elts:
            raise _bad(right, "`in` takes a non-empty list of literals")
        values = [_value(e, left) for e in right.elts]
        kinds = {_kind(v) for v in values}
        if kinds == {"int", "float"}:  # Milvus asserts on a list of ints and floats: all floats
            values = [repr(float(v)) if _kind(v) == "int" else v for v in values]
        elif len(kinds) > 1:  # found by fuzzing: Milvus fails (an assertion) on mixed lists
            raise _bad(right, "the literals of an `in` list must be of one type")
        return f"{left} {'in' if isinstance(op, ast.In) else 'not in'} [{', '.join(values)}]"
    sym = _OPS.get(type(op))
    if sym is None:
        raise _bad(node, f"unsupported operator {type(op).__name__}")
    return f"{left} {sym} {_value(right, left)}"


def _translate(node: ast.expr, negate: bool = False, pkey: str = "") -> str:
    if isinstance(node, ast.BoolOp):
        conj = isinstance(node.op, ast.And) != negate  # De Morgan under `not`
        joiner = " and " if conj else " or "
        return "(" + joiner.join(_translate(v, negate, pkey) for v in node.values) + ")"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _translate(node.operand, not negate, pkey)
    if isinstance(node, ast.Compare):
        return f"({_compare(node, negate, pkey)})"
    raise _bad(node, "expected a comparison, `and`, `or` or `not`")


def to_milvus_expr(filter_text: str, partition_key: str = "") -> str:
    """Translate a user filter to a Milvus boolean expression ("" stays ""). A comparison on the
    collection's `partition_key` targets the partition-key field, so Milvus prunes partitions."""
    text = filter_text.strip()
    if not text:
        return ""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidArgument(f"longer than {MAX_FILTER_CHARS} characters", field=FIELD)
    try:
        tree = ast.parse(text, mode="eval")
        return _translate(tree.body, pkey=partition_key)
    except SyntaxError as exc:
        raise InvalidArgument(f"syntax error at column {exc.offset or 0}: {exc.msg}", field=FIELD) from None
    except (RecursionError, MemoryError):  # `not not not ...`, `- - - 1`: found by fuzzing
        raise InvalidArgument("nested too deeply", field=FIELD) from None
