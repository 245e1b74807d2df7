"""The UI end to end in a real browser: Debian's headless Chromium (/usr/bin/chromium, installed by
`make test`; Playwright drives it through its executable path and never downloads a browser) against
`bitrag ui` and live `bitrag serve` processes on free ports.

A user creates a collection, uploads a file and watches it ingest, asks a question and sees the
answer stream in, its [n] citations linking to the sources, and the diagnostics; then switches the
UI to an offline server (extractive answers, labelled), searches with a mode and a filter, and looks
at the benchmark plots. Screenshots and the measured times (question -> first streamed token ->
full answer, as the browser saw them; reported, not asserted) are saved as test artefacts in
$BITRAG_TEST_ARTIFACTS (default: test-artifacts/ in the repository)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitrag_server.ui.launch import UIProcess
from conftest import start_ui, unique
from llm_server import LLMServer, Reply

CHROMIUM = "/usr/bin/chromium"
FLAGS = [  # what works on these machines (no network but the package registries)
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("BITRAG_TEST_ARTIFACTS", ROOT / "test-artifacts"))
WAIT_MS = 120_000
NOTE = ("The lighthouse keeper of Bitrag Point writes the tide table by hand every hour. "
        "He keeps the log book in a brass box beside the lamp, and the box is painted green.")
ANSWER = "The keeper writes the tide table by hand every hour and keeps the log in a green brass box [1]."

# Records, in the page, what the answer area shows after every DOM change: the streamed text, and
# whether the final answer and its sources are there. performance.now() is the page's clock; the
# Enter that submits the question is stamped by a capturing listener, so the times are what a user
# would see.
RECORDER = """
() => {
  window.__rec = []; window.__t0 = null;
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter' && e.target.closest('.st-key-question')) { window.__t0 = performance.now(); window.__rec = []; }
  }, true);
  const snap = () => {
    const s = document.querySelector('.st-key-answer_stream');
    const a = document.querySelector('.st-key-answer');
    window.__rec.push({t: performance.now(), stream: s ? s.innerText : '',
                       answer: a ? a.innerText : '',
                       sources: !!document.querySelector('.st-key-sources')});
  };
  new MutationObserver(snap).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: `apt-get install -y chromium` (make test does)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="bitrag-chromium-") as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1400, "height": 1900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def ui(gen_server) -> Iterator[UIProcess]:
    proc = start_ui(gen_server.target, bench_dir=ROOT / "bench" / "results")
    yield proc
    proc.stop()


def settle(page) -> None:
    """Wait until the app's script run is over. While a run is in progress Streamlit keeps the
    previous run's elements on screen (faded) and replaces them one by one, so a page read before
    the run ends can be half old, half new: on a loaded CI machine the check after switching servers
    read the new question above the previous server's generated answer. Called after the new run's
    own output was seen (so the run has started), it waits for that run to end."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=WAIT_MS)


def shown(page, locator) -> None:
    """`locator` appears, then the run that drew it ends."""
    locator.wait_for(timeout=WAIT_MS)
    settle(page)


def submit(field) -> None:
    """Submit a form from its text field, as a user pressing Enter does. Clicking the form's button
    right after typing is not reliable: the mousedown blurs the field, Streamlit commits its value
    and redraws the form, and when the button is replaced before the mouseup the click lands on its
    parent and nothing is submitted (seen under load, as in CI: the name stayed in the field, no run
    started, no collection was made). Enter commits the value and submits in one handler."""
    field.press("Enter")


def create_collection(page, name: str) -> None:
    page.get_by_test_id("stExpander").get_by_text("Create a collection").click()
    field = page.locator(".st-key-new_name input")
    field.fill(name)
    submit(field)
    shown(page, page.locator(".st-key-memory").get_by_text(name))


def upload(page, path: Path) -> str:
    page.locator(".st-key-upload input[type=file]").set_input_files(str(path))
    shown(page, page.get_by_text(path.name).first)  # the uploader lists it
    page.locator(".st-key-ingest button").click()
    done = page.get_by_text(re.compile(r"1 document\(s\): 1 added"))
    shown(page, done)
    return done.inner_text()


def ask(page, question: str) -> dict:
    """Ask in the browser; returns what was recorded and the times, in ms after the question was submitted."""
    page.evaluate(RECORDER)
    field = page.locator(".st-key-question input")
    field.fill(question)
    submit(field)
    page.wait_for_function("q => window.__rec.some(r => r.sources && r.answer.includes(q))", arg=question,
                           timeout=WAIT_MS)
    settle(page)  # the question above is this run's; what is under it may still be the last answer
    page.locator(".st-key-ask_diagnostics [data-testid='stVegaLiteChart']").wait_for(timeout=WAIT_MS)
    final = page.locator(".st-key-answer").inner_text()
    rec = page.evaluate("window.__rec")
    t0 = page.evaluate("window.__t0")
    assert t0 is not None, "the Enter that submits the question was not seen"
    for r in rec:  # the streamed text, without the question shown above it
        r["stream"] = r["stream"].split(question, 1)[-1].strip()
    partial = [r for r in rec if r["stream"] and "retrieving" not in r["stream"]]
    # when this question's answer, as it stands at the end of the run, was first on screen with its
    # sources (the previous answer stays on screen, faded, until the new one replaces it)
    full = next((r for r in rec if r["sources"] and r["answer"] == final), None)
    assert full is not None, f"the final answer {final!r} was never recorded"
    return {
        "partials": list(dict.fromkeys(r["stream"].replace("▌", "").strip() for r in partial)),
        "first_token_ms": round(partial[0]["t"] - t0, 1) if partial else None,
        "full_answer_ms": round(full["t"] - t0, 1),
    }


def test_ui_in_chromium(browser, ui: UIProcess, gen_server, offline_server, offline_docs, llm: LLMServer,
                        tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    try:
        run_user_session(page, ui, offline_server, offline_docs, llm, tmp_path)
    except Exception as exc:
        page.screenshot(path=str(ARTIFACTS / "ui_failure.png"), full_page=True)
        # what the user saw, in the log too (the screenshot stays on the machine that ran the test)
        state = page.locator("[data-testid='stApp']").get_attribute("data-test-script-state")
        text = page.locator("[data-testid='stApp']").inner_text()
        raise AssertionError(f"{exc}\n--- the page (script {state}) ---\n{text}") from exc


def run_user_session(page, ui: UIProcess, offline_server, offline_docs: str, llm: LLMServer,
                     tmp_path: Path) -> None:
    page.goto(ui.url)
    shown(page, page.get_by_test_id("stExpander").get_by_text("Create a collection"))

    # -- create a collection, upload a file, watch it ingest ------------------------------------
    name = unique("browser")
    create_collection(page, name)
    note = tmp_path / "lighthouse.md"
    note.write_text(f"# Lighthouse\n\n{NOTE}\n")
    assert "0 replaced" in upload(page, note)
    shown(page, page.locator(".st-key-memory").get_by_text("rows: 1"))

    # -- ask with the LLM: the answer streams in, then citations link to the sources ------------
    llm.script(Reply.text(ANSWER, chunk_chars=6, delay_s=0.06))
    llm_times = ask(page, "Where does the keeper keep the log book?")
    # streamed: several growing prefixes of the answer were on screen before the whole of it
    prefixes = [p for p in llm_times["partials"] if ANSWER.startswith(p) and p != ANSWER]
    assert len(prefixes) >= 3, llm_times["partials"]
    answer = page.locator(".st-key-answer")
    assert ANSWER.replace(" [1]", "") in answer.inner_text().replace(" [1]", "").replace("[1]", "")
    link = answer.locator("a[href='#source-1']")
    assert link.inner_text() == "[1]"
    source = page.locator("#source-1")
    assert source.count() == 1
    head = page.locator(".st-key-source_1").inner_text()
    assert "[1] lighthouse.md" in head and "score" in head and "cited" in head
    assert "brass box" in head  # the snippet
    diag = page.locator(".st-key-ask_diagnostics").inner_text()
    for word in ("path", "confidence vs threshold", "float rows read", "first token"):
        assert word in diag, diag
    link.click()  # the citation scrolls to its source
    page.wait_for_function("location.hash === '#source-1'", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "ui_ask_llm.png"), full_page=True)

    # -- switch to the offline server: extractive answers, labelled ----------------------------
    target = page.locator(".st-key-target input")
    target.fill(offline_server.target)
    target.press("Enter")
    shown(page, page.locator(".st-key-memory").get_by_text(re.compile(r"\*?\*?ui_")).first)
    page.locator(".st-key-collection").click()
    page.get_by_role("option", name=offline_docs).click()
    shown(page, page.locator(".st-key-memory").get_by_text(offline_docs))
    offline_times = ask(page, "Where do the binary codes live?")
    answer_text = page.locator(".st-key-answer").inner_text()
    assert "Extractive answer, not generated" in answer_text
    assert "model extractive" in answer_text
    assert "page iv" in page.locator(".st-key-sources").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui_ask_offline.png"), full_page=True)

    # -- search only, with a mode and a filter -------------------------------------------------
    page.get_by_role("tab", name="Search").click()
    page.locator(".st-key-query input").fill("where do things live?")
    page.locator(".st-key-search_filter input").fill("year >= 2023")
    submit(page.locator(".st-key-search_filter input"))
    shown(page, page.locator(".st-key-hits").get_by_text("2 hits"))
    table = page.locator(".st-key-hits table").inner_text()
    assert "codes.pdf" in table and "floats.md" in table and "bread.md" not in table  # 2020: filtered out
    page.locator(".st-key-search_diagnostics [data-testid='stVegaLiteChart']").wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "ui_search.png"), full_page=True)

    # -- the benchmark plots of bench/results ----------------------------------------------------
    page.get_by_role("tab", name="Benchmarks").click()
    shown(page, page.locator(".st-key-bench img").first)
    assert page.locator(".st-key-bench img").count() == len(list((ROOT / "bench" / "results").glob("*recall_latency*.png")))
    page.screenshot(path=str(ARTIFACTS / "ui_bench.png"), full_page=True)

    times = {
        "llm_loopback": {k: llm_times[k] for k in ("first_token_ms", "full_answer_ms")}
        | {"stream": f"{len(ANSWER)} chars in 6-char events 60 ms apart (scripted)", "partials_seen": len(prefixes)},
        "offline_extractive": {k: offline_times[k] for k in ("first_token_ms", "full_answer_ms")},
    }
    (ARTIFACTS / "ui_timings.json").write_text(json.dumps(times, indent=2) + "\n")
    print("UI times in the browser (ms after the question was submitted):", json.dumps(times))
