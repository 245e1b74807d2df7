"""The bitrag web UI (`bitrag ui`): a Streamlit script that talks to a bitrag server only through the
Python SDK. Sidebar: server, collection (choose or create), upload + ingest with progress, the
collection's memory panel. Tabs: Ask (streamed answer, [n] citations linked to the sources,
diagnostics), Search (search only, with mode and filter), Benchmarks (recall/latency plots).

Streamlit runs this file top to bottom on every interaction; results worth keeping across reruns
live in `st.session_state`. Elements the browser test finds carry keys (CSS class `st-key-<key>`)."""

from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st

from bitrag import AskSummary, BitragError, Client, CollectionInfo, SearchDiagnostics, SearchResult
from bitrag_server.ui import model

MODES = ["AUTO", "RESCORED", "BINARY_ONLY", "EXACT"]
CLIENT_TIMEOUT_S = 600.0  # ingest of large files


@st.cache_resource
def client_for(target: str) -> Client:
    """One SDK client (one gRPC channel, thread-safe) per server address, shared by sessions."""
    return Client(target, timeout=CLIENT_TIMEOUT_S)


def error_text(exc: BitragError, what: str) -> str:
    field = f" (field `{exc.field}`)" if exc.field else ""
    retry = f"; retry after {exc.retry_after:g} s" if exc.retry_after is not None else ""
    return f"{what} failed: {exc.code.name}{field}: {exc.message}{retry}"


def show_error(exc: BitragError, what: str) -> None:
    st.error(error_text(exc, what))


def query_inputs(kind: str, label: str, placeholder: str, k_label: str, k_max: int, k_default: int,
                 filter_hint: str) -> tuple[str, int, str, str]:
    """The fields Ask and Search share (inside their form): text, how many, mode, filter; widget
    keys are prefixed with `kind`."""
    text = st.text_input(label, key="question" if kind == "ask" else "query", placeholder=placeholder)
    c1, c2, c3 = st.columns([1, 1, 2])
    top_k = c1.number_input(k_label, 1, k_max, k_default, key=f"{kind}_k")
    mode = c2.selectbox("Mode", MODES, key=f"{kind}_mode")
    filt = c3.text_input("Filter", key=f"{kind}_filter", placeholder=filter_hint)
    return text.strip(), int(top_k), str(mode), filt


# ---- sidebar: server, collection, upload, memory -------------------------------------------------


def sidebar() -> tuple[Client, CollectionInfo | None]:
    st.sidebar.title("bitrag")
    target = st.sidebar.text_input(
        "Server", value=os.environ.get(model.TARGET_ENV, "127.0.0.1:50051"), key="target",
        help="host:port of `bitrag serve`",
    )
    client = client_for(target)
    try:
        collections = client.list_collections()
    except BitragError as exc:
        st.sidebar.error(f"cannot reach {target}: {exc.code.name}: {exc.message}")
        return client, None
    names = [c.name for c in collections]
    pending = st.session_state.pop("select_collection", None)  # set after a create
    if pending in names:
        st.session_state["collection"] = pending
    elif st.session_state.get("collection") not in names:
        st.session_state["collection"] = names[0] if names else None  # first visit, or it was dropped
    chosen = st.sidebar.selectbox(
        "Collection", names, key="collection", placeholder="no collections yet: create one",
    )
    create_form(client)
    info = next((c for c in collections if c.name == chosen), None)
    if info is not None:
        upload_form(client, info)
        memory_panel(info)
    return client, info


def create_form(client: Client) -> None:
    with st.sidebar.expander("Create a collection", expanded=False):
        with st.form("create_form", clear_on_submit=True):
            name = st.text_input("Name", key="new_name", placeholder="docs")
            embedder = st.text_input("Embedder", key="new_embedder", placeholder="server default (local)")
            description = st.text_input("Description", key="new_description")
            if st.form_submit_button("Create", key="create"):
                try:
                    client.create_collection(name.strip(), embedder=embedder.strip(), description=description)
                except BitragError as exc:
                    show_error(exc, "create")
                else:
                    st.session_state["select_collection"] = name.strip()
                    st.rerun()


def upload_form(client: Client, info: CollectionInfo) -> None:
    with st.sidebar.form("upload_form", clear_on_submit=True):
        files = st.file_uploader(
            f"Add files to {info.name}", type=model.UPLOAD_TYPES, accept_multiple_files=True, key="upload",
        )
        if st.form_submit_button("Ingest", key="ingest") and files:
            bar = st.progress(0.0, text=f"reading {len(files)} file(s) ...")

            def progress(done: int, total: int) -> None:
                bar.progress(done / total, text=f"ingested {done}/{total} documents")

            try:
                uploads = [(f.name, f.getvalue()) for f in files]
                res, n = model.ingest_uploads(client, info.name, uploads, progress)
            except BitragError as exc:
                show_error(exc, "ingest")
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.session_state["ingested"] = (client.target, info.name), (
                    f"{n} document(s): {res.documents_added} added, {res.documents_replaced} replaced, "
                    f"{res.documents_unchanged} unchanged; {res.chunks_written} chunks written"
                    + ("" if n == len(files) else f"; {len(files) - n} file(s) had no text")
                )
                st.rerun()  # the memory panel shows the new rows
    kept = st.session_state.get("ingested")
    if kept and kept[0] == (client.target, info.name):
        st.sidebar.success(kept[1])


def memory_panel(info: CollectionInfo) -> None:
    m = model.memory(info)
    ratio = f"**{m.ratio:.0f}×** less RAM than a float32 index" if m.ratio else "empty collection"
    with st.sidebar.container(key="memory", border=True):
        st.markdown(f"**{info.name}** · {info.embedder} · {m.dimension} dims · {info.index.type}")
        st.markdown(
            f"rows: **{m.rows:,}**  \n"
            f"codes in RAM: **{model.format_bytes(m.codes_in_ram)}**  \n"
            f"float32 on disk: **{model.format_bytes(m.floats_on_disk)}**  \n"
            f"a float32 index of these rows: **{model.format_bytes(m.float32_index)}**"
        )
        st.markdown(ratio, help=f"{m.rows:,} rows × {m.dimension} dims × 4 B of float32 against "
                    f"{m.dimension} bits per row of codes")


# ---- diagnostics ---------------------------------------------------------------------------------


def diagnostics_panel(key: str, diag: SearchDiagnostics | None, extra: dict[str, str] | None = None) -> None:
    with st.container(key=key, border=True):
        st.markdown("**Diagnostics**")
        if diag is None:
            st.caption("served from the answer cache: no retrieval ran")
        else:
            side = "≥" if diag.confidence >= diag.threshold else "<"
            st.markdown(
                "| path | confidence vs threshold | float rows read | server time |\n|---|---|---|---|\n"
                f"| {diag.path} | {diag.confidence:.3f} {side} {diag.threshold:.3f} | "
                f"{diag.candidates_examined:,} | {diag.total_us / 1000:.1f} ms |"
            )
            st.caption(
                f"{model.gate_verdict(diag)} · mode {diag.mode} · Hamming pools {diag.pools} · "
                f"oversample {diag.oversample}" + ("" if diag.calibrated else " · gate not calibrated")
            )
            rows = model.stage_timings(diag)
            if rows:
                st.vega_lite_chart(
                    rows,
                    {
                        "mark": {"type": "bar", "tooltip": True},
                        "encoding": {
                            "y": {"field": "stage", "type": "nominal", "sort": {"field": "order"},
                                  "title": None, "axis": {"labelLimit": 200}},
                            "x": {"field": "ms", "type": "quantitative", "title": "per-stage time (ms)"},
                        },
                        "height": {"step": 26},
                    },
                )
        if extra:
            st.caption(" · ".join(f"{k} {v}" for k, v in extra.items()))


# ---- ask -----------------------------------------------------------------------------------------


def sources_list(summary: AskSummary) -> None:
    with st.container(key="sources"):
        st.markdown(f"**Sources** ({len(summary.sources)})")
        for s in summary.sources:
            page = model.source_page(s.metadata)
            cited = "cited" if s.number in summary.cited else "not cited"
            with st.container(border=True, key=f"source_{s.number}"):
                st.markdown(
                    f'<span id="{model.anchor(s.number)}"></span>**[{s.number}] {s.document_id}**'
                    + (f" · page {page}" if page else "") + f" · score {s.score:.3f} · {cited}",
                    unsafe_allow_html=True,
                )
                st.caption(model.plain(s.snippet))


def render_answer(result: dict[str, Any]) -> None:
    summary: AskSummary | None = result["summary"]
    with st.container(key="answer"):
        st.markdown(f"**Q:** {model.plain(result['question'])}")
        if summary is None:
            st.markdown(result["text"])
        else:
            if not summary.generated:
                st.info("Extractive answer, not generated: the server has no LLM key.", icon="ℹ️")
            st.markdown(model.link_citations(summary.answer, [s.number for s in summary.sources]))
            st.caption(f"model {summary.model} · cache {summary.cache}"
                       + (f" · {summary.usage.total_tokens} tokens" if summary.usage.total_tokens else ""))
    if result.get("error"):
        st.error(result["error"])
    if summary is None:
        return
    sources_list(summary)
    t = summary.timings
    diagnostics_panel("ask_diagnostics", summary.retrieval, {
        "retrieval": f"{t.retrieval_us / 1000:.1f} ms", "first token": f"{t.first_token_us / 1000:.1f} ms",
        "answer": f"{t.total_us / 1000:.1f} ms", "round trip": f"{result['seconds'] * 1000:.0f} ms",
    })


def stream_answer(client: Client, collection: str, question: str, **kw: Any) -> dict[str, Any]:
    """Ask, drawing the text as it streams; returns what `render_answer` shows afterwards."""
    result: dict[str, Any] = {"question": question, "text": "", "summary": None, "error": None}
    t0 = time.perf_counter()
    asked = f"**Q:** {model.plain(question)}\n\n"
    with st.container(key="answer_stream"):
        slot = st.empty()  # one element, redrawn per delta, cleared at the end
        slot.markdown(asked + "_retrieving ..._")
        try:
            for chunk in client.ask(collection, question, **kw):
                if chunk.summary is None:
                    result["text"] += chunk.text
                    slot.markdown(asked + result["text"] + " ▌")
                else:
                    result["summary"] = chunk.summary
        except BitragError as exc:
            result["error"] = error_text(exc, "ask")
        slot.empty()
    result["seconds"] = time.perf_counter() - t0
    return result


def ask_tab(client: Client, info: CollectionInfo) -> None:
    with st.form("ask_form"):
        question, top_k, mode, filt = query_inputs(
            "ask", "Question", "Ask the collection ...", "Sources", 50, 5,
            'e.g. file_type == "application/pdf"')
        cache = st.checkbox("Use the answer cache", value=True, key="ask_cache")
        submitted = st.form_submit_button("Ask", key="ask", type="primary")
    scope = (client.target, info.name)  # results belong to one server's collection
    if submitted and question:
        st.session_state["ask_result"] = scope, stream_answer(
            client, info.name, question, top_k=top_k, mode=mode, filter=filt, cache=cache,
        )
    kept = st.session_state.get("ask_result")
    if kept and kept[0] == scope:
        render_answer(kept[1])


# ---- search --------------------------------------------------------------------------------------


def hits_table(res: SearchResult) -> None:
    rows = [
        {
            "rank": i + 1, "score": round(h.score, 4), "document": h.document_id,
            "page": model.source_page(h.metadata) or "", "chunk": h.chunk_id,
            "snippet": " ".join(h.text.split())[:300],
        }
        for i, h in enumerate(res.hits)
    ]
    with st.container(key="hits"):
        st.markdown(f"**{len(rows)} hits**")
        if rows:
            st.table(rows)  # static HTML: long snippets wrap


def search_tab(client: Client, info: CollectionInfo) -> None:
    with st.form("search_form"):
        query, top_k, mode, filt = query_inputs(
            "search", "Query", "Search only: no answer is generated", "Results", 1000, 10,
            "e.g. year >= 2020")
        submitted = st.form_submit_button("Search", key="search", type="primary")
    scope = (client.target, info.name)
    if submitted and query:
        t0 = time.perf_counter()
        try:
            res = client.search(info.name, query, top_k=top_k, mode=mode, filter=filt)
        except BitragError as exc:
            st.session_state["search_result"] = None
            show_error(exc, "search")
        else:
            st.session_state["search_result"] = (scope, res, time.perf_counter() - t0)
    found = st.session_state.get("search_result")
    if found and found[0] == scope:
        _, res, seconds = found
        hits_table(res)
        diagnostics_panel("search_diagnostics", res.diagnostics, {"round trip": f"{seconds * 1000:.1f} ms"})


# ---- benchmarks ----------------------------------------------------------------------------------


def bench_tab() -> None:
    directory = model.bench_dir()
    plots = model.bench_plots(directory)
    if not plots:
        st.info(f"No benchmark plots under {directory} (run `make bench`, or point "
                "`bitrag ui --bench-dir` at them).")
        return
    st.caption(f"recall@k against latency per mode and oversample, from {directory}")
    with st.container(key="bench"):
        cols = st.columns(2)
        for i, plot in enumerate(plots):
            cols[i % 2].image(str(plot.path), caption=plot.title, width="stretch")


# ---- page ----------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="bitrag", layout="wide")
    client, info = sidebar()
    ask, search, bench = st.tabs(["Ask", "Search", "Benchmarks"])
    with bench:
        bench_tab()
    if info is None:
        for tab in (ask, search):
            tab.info("Choose or create a collection in the sidebar.")
        return
    with ask:
        ask_tab(client, info)
    with search:
        search_tab(client, info)


main()
