"""The Streamlit app's logic through Streamlit's AppTest (the script run in-process, widgets set
and clicked), against real servers: one offline (extractive answers), one with an LLM (the real groq
SDK in the server, the loopback chat server behind it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

import bitrag
from bitrag_server.ui import app as app_module
from bitrag_server.ui import model
from conftest import DOCS, unique
from llm_server import LLMServer, Reply

APP = app_module.__file__
TIMEOUT_S = 120


@pytest.fixture
def run_app(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """`run_app(target, collection=None)` -> an AppTest that ran once (collection selected)."""

    def run(target: str, collection: str | None = None) -> AppTest:
        monkeypatch.setenv(model.TARGET_ENV, target)
        at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
        at.run()
        assert not at.exception, at.exception
        if collection is not None:
            at.selectbox(key="collection").set_value(collection).run()
            assert not at.exception, at.exception
        return at

    yield run


def texts(node, kind: str) -> list[str]:
    return [str(e.value) for e in node.get(kind)]


def keyed(at: AppTest, key: str, *, present: bool = True):
    """The block (container) with `key`, searched in the whole tree (None if `present` is False)."""
    def walk(node):
        if getattr(node, "key", None) == key:
            return node
        for child in getattr(node, "children", {}).values():
            found = walk(child)
            if found is not None:
                return found
        return None

    found = walk(at._tree)
    assert (found is not None) == present, f"element with key {key!r}: {found}"
    return found


def ask(at: AppTest, question: str, **fields) -> AppTest:
    at.text_input(key="question").input(question)
    for key, value in fields.items():
        widget = at.text_input(key=key) if isinstance(value, str) else at.number_input(key=key)
        widget.set_value(value)
    at.button(key="ask").click().run()
    assert not at.exception, at.exception
    return at


def test_unreachable_server_is_reported(run_app) -> None:
    from conftest import free_port

    at = run_app(f"127.0.0.1:{free_port()}")
    assert any("cannot reach" in e for e in texts(at.sidebar, "error")), texts(at.sidebar, "error")
    assert any("Choose or create a collection" in t for t in texts(at.main, "info"))


def test_create_collection_then_memory_panel(run_app, offline_server) -> None:
    at = run_app(offline_server.target)
    name = unique("ui_new")
    at.text_input(key="new_name").input(name)
    at.button(key="create").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="collection").value == name
    panel = " ".join(texts(keyed(at, "memory"), "markdown"))
    assert f"**{name}**" in panel and "rows: **0**" in panel and "empty collection" in panel
    # a second create of the same name is an error naming the field, shown in the form
    at.text_input(key="new_name").input(name)
    at.button(key="create").click().run()
    errors = texts(at.sidebar, "error")
    assert any("ALREADY_EXISTS" in e and "`name`" in e for e in errors), errors


def test_memory_panel_shows_the_ratio(run_app, offline_server, offline_docs) -> None:
    at = run_app(offline_server.target, offline_docs)
    with bitrag.Client(offline_server.target) as c:
        info = c.describe_collection(offline_docs)
    panel = " ".join(texts(keyed(at, "memory"), "markdown"))
    assert f"rows: **{info.rows}**" in panel
    assert f"codes in RAM: **{model.format_bytes(info.bytes_in_ram)}**" in panel
    assert f"float32 on disk: **{model.format_bytes(info.bytes_on_disk)}**" in panel
    assert f"**{info.rows * info.dimension * 4 / info.bytes_in_ram:.0f}×** less RAM" in panel  # 32×


def test_ask_offline_is_extractive_and_labelled(run_app, offline_server, offline_docs) -> None:
    at = ask(run_app(offline_server.target, offline_docs), "Where do the binary codes live?", ask_k=2)
    answer = keyed(at, "answer")
    assert any("not generated" in t for t in texts(answer, "info"))
    question, body = texts(answer, "markdown")[:2]
    assert question == "**Q:** Where do the binary codes live?"
    assert "[\\[1\\]](#source-1)" in body  # citations link to the sources
    assert any("model extractive" in t for t in texts(answer, "caption"))
    sources = texts(keyed(at, "sources"), "markdown")
    assert sources[0] == "**Sources** (2)"
    first = keyed(at, "source_1")
    head = texts(first, "markdown")[0]
    assert head.startswith('<span id="source-1"></span>**[1] codes.pdf** · page iv · score ')
    assert "Binary codes live in RAM" in texts(first, "caption")[0]
    assert "· page 7 ·" in texts(keyed(at, "source_2"), "markdown")[0]  # `page` when no `page_label`
    diag = keyed(at, "ask_diagnostics")
    table = texts(diag, "markdown")[1]
    assert "| path | confidence vs threshold | float rows read | server time |" in table
    assert len(diag.get("vega_lite_chart")) == 1  # per-stage timings
    assert any(t.startswith("retrieval ") and "first token" in t for t in texts(diag, "caption"))
    # the answer belongs to its collection: another collection shows none
    other = unique("ui_other")
    with bitrag.Client(offline_server.target) as c:
        c.create_collection(other)
    at.run()  # the list now has it
    at.selectbox(key="collection").set_value(other).run()
    keyed(at, "answer", present=False)
    at.selectbox(key="collection").set_value(offline_docs).run()
    keyed(at, "answer")


def test_ask_with_llm_streams_a_generated_answer(run_app, gen_server, gen_docs, llm: LLMServer) -> None:
    llm.script(Reply.text("Binary codes live in RAM [1], float rows on disk [2]. Not [7].", chunk_chars=6))
    at = ask(run_app(gen_server.target, gen_docs), "Where do codes and floats live?", ask_k=3)
    answer = keyed(at, "answer")
    assert not texts(answer, "info")  # generated: no extractive label
    assert texts(answer, "markdown")[1] == (
        "Binary codes live in RAM [\\[1\\]](#source-1), float rows on disk [\\[2\\]](#source-2). Not [7].")
    assert any(t.startswith("model llama-3.3-70b-versatile") for t in texts(answer, "caption"))
    assert len(llm.chat_requests) == 1
    prompt = llm.chat_requests[0]["body"]["messages"][1]["content"]
    assert "Where do codes and floats live?" in prompt
    heads = [texts(keyed(at, f"source_{n}"), "markdown")[0] for n in (1, 2, 3)]
    assert [h.endswith("· cited") for h in heads] == [True, True, False]


def test_ask_failure_shows_the_error_and_keeps_the_sources(run_app, gen_server, gen_docs, llm) -> None:
    llm.script(Reply.error(429, headers={"retry-after": "4"}))
    at = ask(run_app(gen_server.target, gen_docs), "Where do the codes live (rate limited)?", ask_k=2)
    errors = texts(at.main, "error")
    assert any("RESOURCE_EXHAUSTED" in e and "429" in e for e in errors), errors
    assert texts(keyed(at, "sources"), "markdown")[0] == "**Sources** (2)"


def test_search_only_with_mode_and_filter(run_app, offline_server, offline_docs) -> None:
    at = run_app(offline_server.target, offline_docs)
    at.text_input(key="query").input("where do things live?")
    at.selectbox(key="search_mode").set_value("EXACT")
    at.text_input(key="search_filter").input("year >= 2023")
    at.button(key="search").click().run()
    assert not at.exception, at.exception
    hits = keyed(at, "hits")
    assert texts(hits, "markdown")[0] == "**2 hits**"
    table = hits.get("table")[0].value
    assert sorted(table["document"]) == ["codes.pdf", "floats.md"]  # bread.md (2020) filtered out
    assert sorted(table["page"]) == ["7", "iv"]
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    diag = texts(keyed(at, "search_diagnostics"), "markdown")[1]
    assert "| EXACT |" in diag  # the mode's path
    # a malformed filter is rejected, naming the field
    at.text_input(key="search_filter").input("year >>= 1")
    at.button(key="search").click().run()
    assert any("INVALID_ARGUMENT" in e and "`filter`" in e for e in texts(at.main, "error"))


def test_benchmarks_tab(run_app, offline_server, bench_results, monkeypatch, tmp_path_factory) -> None:
    monkeypatch.setenv(model.BENCH_DIR_ENV, str(bench_results))
    at = run_app(offline_server.target)
    images = keyed(at, "bench").get("image")
    assert len(images) == 1  # only the recall/latency plot
    monkeypatch.setenv(model.BENCH_DIR_ENV, str(tmp_path_factory.mktemp("nothing")))
    at = run_app(offline_server.target)
    assert any("No benchmark plots" in t for t in texts(at.main, "info"))


def test_docs_fixture_has_pages() -> None:
    """The fixture documents exercise both page keys the readers may set."""
    assert {k for d in DOCS for k in d.metadata} >= {"page_label", "page"}
