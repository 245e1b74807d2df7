"""filters.py: user filter -> Milvus expression, rejected filters, and the translated expressions
run against a real Milvus Lite collection compared with a Python evaluation of the same filter."""

from __future__ import annotations

import ast
import random
from typing import Any

import numpy as np
import pytest

from bitrag_server.errors import InvalidArgument
from bitrag_server.filters import MAX_FILTER_CHARS, to_milvus_expr
from bitrag_server.stores.binary_index import BinaryIndex
from bitrag_server.stores.catalog import IndexConfig

GOOD = [
    ("", ""),
    ("   ", ""),
    ("year == 2020", '(metadata["year"] == 2020)'),
    ("year != 2020", '(metadata["year"] != 2020)'),
    ("year < 2020", '(metadata["year"] < 2020)'),
    ("year <= 2020", '(metadata["year"] <= 2020)'),
    ("year > 2020", '(metadata["year"] > 2020)'),
    ("year >= -3", '(metadata["year"] >= -3)'),
    ("score >= 0.25", '(metadata["score"] >= 0.25)'),
    ("score > -1.5", '(metadata["score"] > -1.5)'),
    ('source == "a.md"', '(metadata["source"] == "a.md")'),
    ("source == 'a.md'", '(metadata["source"] == "a.md")'),
    ('source == "say \\"hi\\""', '(metadata["source"] == "say \\"hi\\"")'),
    ('city == "café"', '(metadata["city"] == "café")'),
    ("flag == True", '(metadata["flag"] == true)'),
    ("flag != False", '(metadata["flag"] != false)'),
    ('document_id == "doc-1"', '(doc_id == "doc-1")'),
    ('document_id in ["a", "b"]', '(doc_id in ["a", "b"])'),
    ('metadata["year"] == 1', '(metadata["year"] == 1)'),
    ('source in ["a.md", "b.md"]', '(metadata["source"] in ["a.md", "b.md"])'),
    ("year in (2019, 2020)", '(metadata["year"] in [2019, 2020])'),
    # ints and floats in one list: all floats (Milvus asserts on a mixed list; same matches)
    ("year not in [1, -2, 3.5]", '(metadata["year"] not in [1.0, -2.0, 3.5])'),
    (
        'year >= 2020 and source in ["a.md", "b.md"]',
        '((metadata["year"] >= 2020) and (metadata["source"] in ["a.md", "b.md"]))',
    ),
    ("a == 1 or b == 2 or c == 3", '((metadata["a"] == 1) or (metadata["b"] == 2) or (metadata["c"] == 3))'),
    (
        "(a == 1 or b == 2) and c == 3",
        '(((metadata["a"] == 1) or (metadata["b"] == 2)) and (metadata["c"] == 3))',
    ),
    # `not` is pushed down to the comparisons (Milvus Lite rejects NOT)
    ("not year == 2020", '(metadata["year"] != 2020)'),
    ("not (year < 2020)", '(metadata["year"] >= 2020)'),
    ("not year <= 1", '(metadata["year"] > 1)'),
    ("not year > 1", '(metadata["year"] <= 1)'),
    ("not year >= 1", '(metadata["year"] < 1)'),
    ("not year != 1", '(metadata["year"] == 1)'),
    ('not source in ["x"]', '(metadata["source"] not in ["x"])'),
    ('not source not in ["x"]', '(metadata["source"] in ["x"])'),
    ("not not year == 1", '(metadata["year"] == 1)'),
    ("not (a == 1 and b == 2)", '((metadata["a"] != 1) or (metadata["b"] != 2))'),
    ("not (a == 1 or not b < 2)", '((metadata["a"] != 1) and (metadata["b"] < 2))'),
]


@pytest.mark.parametrize(("text", "expr"), GOOD)
def test_translation(text: str, expr: str) -> None:
    assert to_milvus_expr(text) == expr


BAD = [
    "year ==",  # syntax error
    "year = 2020",  # assignment is a syntax error in eval mode
    "len(source) > 3",  # function call
    "source.lower() == 'a'",  # attribute / call
    "meta.year == 1",  # attribute
    "1 < year < 3",  # chained comparison (and literal on the left)
    "year < 3 < 4",  # chained comparison
    "year == other",  # name on the right
    "2020 == year",  # literal on the left
    "year in []",  # empty in-list
    "year in ()",
    "year in other",  # in takes a list
    "year in [other]",  # list of names
    "year in [[1]]",  # nested list
    "lambda: 1",  # lambda
    "(lambda x: x)(1) == 1",
    "foo['x'] == 1",  # subscript on a non-metadata name
    "metadata[0] == 1",  # subscript with a non-string key
    "metadata['a b'] == 1",  # subscript with an invalid key
    "metadata['x']['y'] == 1",
    "metadata['a\\n'] == 1",  # key with a trailing newline (`$` alone would accept it)
    "year is None",  # unsupported operator
    "year is 1",
    "year == None",  # None is not a literal
    "year == 1e400",  # infinite
    "year == -1e400",
    "year",  # bare name
    "True",  # bare literal
    "year == 1 and 5",
    "year + 1 == 2",  # arithmetic on the left
    "year == 1 + 1",  # arithmetic on the right
    "year == -x",
    "year == [1]",  # list with ==
    "year == {'a': 1}",
    "__import__('os').system('x') == 0",
    "x if y else z",
    "year == b'x'",  # bytes literal
    "year == 1j",  # complex literal
    "_" * 130 + " == 1",  # key too long
    "year == 1;",  # statement syntax
    "year == 1 " + "and year == 1 " * 400,  # too long (> 4096)
]


@pytest.mark.parametrize("text", BAD)
def test_rejected(text: str) -> None:
    with pytest.raises(InvalidArgument) as ei:
        to_milvus_expr(text)
    assert ei.value.field == "filter"
    assert ei.value.message.startswith("filter: ")


def test_too_long_message() -> None:
    text = "a == 1 and " * (MAX_FILTER_CHARS // 10) + "a == 1"
    assert len(text) > MAX_FILTER_CHARS
    with pytest.raises(InvalidArgument, match="longer than"):
        to_milvus_expr(text)
    # just under the limit is fine
    ok = "a == 1 and " * ((MAX_FILTER_CHARS - 6) // 11) + "a == 1"
    assert len(ok) <= MAX_FILTER_CHARS
    assert to_milvus_expr(ok).startswith('((metadata["a"] == 1)')


def test_error_names_column() -> None:
    with pytest.raises(InvalidArgument, match="column 9"):
        to_milvus_expr("year == other")


# ---- against a real Milvus Lite collection ------------------------------------------------------


def _value(node: ast.expr) -> Any:
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e) for e in node.elts]
    return ast.literal_eval(node)


def _key(node: ast.expr) -> tuple[str, str]:
    if isinstance(node, ast.Name):
        return ("doc", "") if node.id == "document_id" else ("md", node.id)
    assert isinstance(node, ast.Subscript)
    return ("md", node.slice.value)  # type: ignore[attr-defined]


_MISSING = object()


def py_eval(text: str, doc_id: str, md: dict[str, Any]) -> bool:
    """Reference semantics: a comparison on a missing key is false (so != and `not in` are true)."""

    def ev(n: ast.expr) -> bool:
        if isinstance(n, ast.BoolOp):
            vals = [ev(v) for v in n.values]
            return all(vals) if isinstance(n.op, ast.And) else any(vals)
        if isinstance(n, ast.UnaryOp):
            return not ev(n.operand)
        assert isinstance(n, ast.Compare)
        kind, k = _key(n.left)
        x = doc_id if kind == "doc" else md.get(k, _MISSING)
        op, lit = n.ops[0], _value(n.comparators[0])
        if isinstance(op, ast.NotEq):
            return not (x is not _MISSING and x == lit)
        if isinstance(op, ast.NotIn):
            return not (x is not _MISSING and x in lit)
        if x is _MISSING:
            return False
        if isinstance(op, ast.Eq):
            return x == lit
        if isinstance(op, ast.In):
            return x in lit
        fn = {ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
              ast.GtE: lambda a, b: a >= b}[type(op)]
        return fn(x, lit)

    return ev(ast.parse(text, mode="eval").body)


N_ROWS = 60
SOURCES = ["a.md", "b.md", "c.txt", "café.md", 'q"uote.md']


def _metadata(i: int, rng: random.Random) -> dict[str, Any]:
    md: dict[str, Any] = {
        "year": 2000 + rng.randrange(30),  # always present: used with < <= > >= (also under `not`)
        "score": round(rng.uniform(-1, 1), 3),
        "source": SOURCES[i % len(SOURCES)],
        "flag": i % 3 == 0,
    }
    if i % 4:  # sometimes missing: used with == != in, not in
        md["tag"] = rng.choice(["x", "y", "z"])
    if i % 7 == 0:
        md["rank"] = i // 7
    return md


FILTERS = [
    "year >= 2015",
    "year < 2005 or year > 2025",
    "not year < 2010",
    "not (year >= 2010 and year <= 2020)",
    "score > 0",
    "score <= -0.25 and flag == True",
    'source == "café.md"',
    'source == "q\\"uote.md"',
    'source in ["a.md", "c.txt"]',
    'source not in ["a.md", "c.txt"]',
    'not source in ["b.md"]',
    "flag == False",
    "flag != True",
    'tag == "x"',
    'tag != "x"',
    'not tag == "x"',
    'tag in ["x", "y"]',
    'tag not in ["x"]',
    'not (tag == "x" or tag == "y")',
    "rank == 3",
    "rank != 3",
    "rank in [0, 2, 4, 6, 8]",
    'document_id in ["d3", "d5", "d59"]',
    'document_id != "d0"',
    'metadata["year"] == 2010 or metadata["tag"] == "z"',
    'not (year < 2012 and (tag == "y" or flag == True))',
    "year == 2003.0",
]


@pytest.fixture(scope="module")
def filter_coll(lite_index: BinaryIndex) -> tuple[BinaryIndex, str, list[tuple[str, dict[str, Any]]]]:
    name = "filters_prop"
    lite_index.create(name, 64, IndexConfig("BIN_FLAT"))
    rng = random.Random(7)
    data = [(f"d{i}", _metadata(i, rng)) for i in range(N_ROWS)]
    codes = np.random.default_rng(0).integers(0, 256, size=(N_ROWS, 8), dtype=np.uint8)
    lite_index.insert(
        name,
        [
            {"row": i, "code": codes[i].tobytes(), "doc_id": d, "metadata": md}
            for i, (d, md) in enumerate(data)
        ],
    )
    return lite_index, name, data


@pytest.mark.parametrize("text", FILTERS)
def test_milvus_rows_match_python(filter_coll: tuple[BinaryIndex, str, list], text: str) -> None:
    idx, name, data = filter_coll
    expr = to_milvus_expr(text)
    got = {r["row"] for r in idx._client.query(name, filter=expr, output_fields=["row"], limit=1000)}
    want = {i for i, (d, md) in enumerate(data) if py_eval(text, d, md)}
    assert 0 < len(want) < N_ROWS, "filter should be selective on this data"
    assert got == want, expr


@pytest.mark.parametrize("text", FILTERS[:8])
def test_milvus_search_with_filter(filter_coll: tuple[BinaryIndex, str, list], text: str) -> None:
    """The same expressions as Hamming-search filters (the path the engine uses)."""
    idx, name, data = filter_coll
    cands = idx.search(name, bytes(8), N_ROWS, to_milvus_expr(text), {})
    want = {i for i, (d, md) in enumerate(data) if py_eval(text, d, md)}
    assert set(cands.ids.tolist()) == want
