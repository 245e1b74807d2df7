"""The filter parser fuzzed on its own (hypothesis): any text either translates to a Milvus
expression or is an InvalidArgument naming `filter`, never another exception; deep nesting, huge
lists and odd literals included. Translations of generated well-formed filters are accepted by
Milvus Lite (run against a real collection)."""

from __future__ import annotations

import json
import keyword
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrag_server.errors import InvalidArgument
from bitrag_server.filters import MAX_FILTER_CHARS, to_milvus_expr

keys = st.one_of(
    st.sampled_from(["year", "doc", "tenant", "a_b", "_x"]),
    st.text(string.ascii_letters + "_", min_size=1, max_size=8).filter(
        lambda k: not keyword.iskeyword(k) and k not in ("true", "false")
    ),
)  # `metadata["if"]` for those
LITERAL_KINDS = [
    st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr)
    ),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12).map(json.dumps),
    st.sampled_from(["true", "false", "True", "False"]),
]
literals = st.one_of(*LITERAL_KINDS)


@st.composite
def well_formed(draw, depth: int = 0) -> str:  # noqa: ANN001
    kind = draw(st.integers(0, 4 if depth < 4 else 1))
    if kind == 0:
        return f"{draw(keys)} {draw(st.sampled_from(['==', '!=', '<', '<=', '>', '>=']))} {draw(literals)}"
    if kind == 1:
        kind_of = draw(st.sampled_from(LITERAL_KINDS))  # one type per list (mixed ones are refused)
        items = ", ".join(draw(st.lists(kind_of, min_size=1, max_size=5)))
        return f"{draw(keys)} {draw(st.sampled_from(['in', 'not in']))} [{items}]"
    if kind == 2:
        return f"not ({draw(well_formed(depth + 1))})"
    op = draw(st.sampled_from([" and ", " or "]))
    return "(" + op.join(draw(st.lists(well_formed(depth + 1), min_size=2, max_size=3))) + ")"


def translate_or_reject(text: str) -> str | None:
    try:
        out = to_milvus_expr(text)
    except InvalidArgument as exc:
        assert exc.field == "filter"
        return None
    assert isinstance(out, str)
    return out


FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@FUZZ
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    translate_or_reject(text)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "(",
                    ")",
                    "[",
                    "]",
                    "not",
                    "and",
                    "or",
                    "in",
                    "==",
                    "<",
                    "-",
                    ",",
                    "'",
                    '"',
                    "x",
                    "1",
                    "1e999",
                    "metadata",
                    "__class__",
                    "lambda",
                    "\x00",
                    "\\",
                ]
            ),
            literals,
            keys,
        ),
        max_size=40,
    ).map(" ".join)
)
def test_token_soup(text: str) -> None:
    translate_or_reject(text)


@pytest.mark.parametrize(
    "text",
    [
        "not " * 1000 + "x == 1",
        "-" * 4000 + "1",
        "x == " + "-" * 2000 + "1",
        "(" * 199 + "x == 1" + ")" * 199,
        "(" * 1000 + "x == 1" + ")" * 1000,
        "x in [" + ",".join(["1"] * 1300) + "]",
        "x == 1" + " and x == 1" * 400,
        "x == 1e999",
        "x == 10**1000",
        "x == " + "9" * 4000,
        "x == 1 and \x00",
        "x == 9223372036854775808",
        "x" * (MAX_FILTER_CHARS + 1),
        'x == "\\ud800"',
        "x == '\\udfff' or y == 1",
        "metadata['a'] == 1",
        "metadata[0] == 1",
        "x.__class__ == 1",
        "f(x) == 1",
    ],
)
def test_extremes(text: str) -> None:
    translate_or_reject(text)


def test_document_id_takes_strings() -> None:
    """doc_id is a VARCHAR: Milvus asserts (an INTERNAL) on other literals; found by fuzzing."""
    assert translate_or_reject('document_id in ["a", "b"]') == '(doc_id in ["a", "b"])'
    for bad in ("document_id == 1", "document_id in [true]", "document_id < 2.5"):
        assert translate_or_reject(bad) is None


def test_lone_surrogates_are_rejected() -> None:
    assert translate_or_reject('x == "\\ud800"') is None  # Milvus' client cannot encode it: not INTERNAL


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(well_formed())
def test_well_formed_filters_translate(text: str) -> None:
    if len(text) <= MAX_FILTER_CHARS:
        out = to_milvus_expr(text)
        assert out.startswith("(") and out.endswith(")")


def test_translations_are_valid_milvus(tmp_path) -> None:  # noqa: ANN001
    """Milvus Lite parses what the translator emits (generated filters, one real collection)."""
    from hypothesis import find  # noqa: F401 - keeps hypothesis' import cost in one place

    from bitrag_server.stores.binary_index import BinaryIndex
    from bitrag_server.stores.catalog import IndexConfig

    idx = BinaryIndex(str(tmp_path / "m.db"), lite=True)
    try:
        idx.create("f", 8, IndexConfig("BIN_FLAT"))
        idx.insert("f", [{"row": 0, "code": b"\x00", "doc_id": "d", "metadata": {"year": 1, "doc": "x"}}])
        checked = 0

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(well_formed())
        def milvus_accepts(text: str) -> None:
            nonlocal checked
            expr = to_milvus_expr(text)
            idx.matching_rows("f", expr)  # raises InvalidArgument/Internal if Milvus rejects it
            checked += 1

        milvus_accepts()
        assert checked == 150
    finally:
        idx.close()
