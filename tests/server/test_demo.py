"""`make demo`'s questions over its own docs/, through a real server (Milvus Lite, the real local
model, gRPC over loopback), ingested as the demo ingests them: each question's top hit is the
section that answers it, and the offline (extractive) answer quotes that hit first, with no table
rows and within the length cap."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import bitrag
import pytest
from bitrag._files import load_documents
from bitrag_server import demo
from bitrag_server.answer.extractive import MAX_ANSWER_CHARS, MAX_PASSAGE_CHARS, MAX_PASSAGES
from bitrag_server.answer.generate import EXTRACTIVE_LABEL
from bitrag_server.ingest import SECTION_KEY
from bitrag_server.launch import ServerProcess

# question -> (document file name, section path) of the chunk that answers it
EXPECTED = {
    demo.QUERIES[0]: ("operations.md", "Operating bitrag › Sizing"),
    demo.QUERIES[1]: ("operations.md", "Operating bitrag › Stopping: SIGTERM"),
    demo.QUERIES[2]: (
        "design.md", "bitrag — design notes › The search path, stage by stage › 4. Rescore the candidates until confident"
    ),
    demo.QUESTION: ("design.md", "bitrag — design notes"),
}


@pytest.fixture(scope="module")
def demo_docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[bitrag.Client, str]]:
    """An offline server (no LLM key, no answer cache) holding docs/ as the demo ingests it."""
    sp = ServerProcess(tmp_path_factory.mktemp("demo"), env={"GROQ_API_KEY": "", "BITRAG_REDIS_URL": ""})
    sp.start()
    try:
        with bitrag.Client(sp.target, timeout=600) as c:
            name = f"demo_{uuid.uuid4().hex[:8]}"
            c.create_collection(name)
            c.ingest_documents(name, load_documents(demo.DOCS_DIR), chunk_size=demo.CHUNK_SIZE,
                               chunk_overlap=demo.CHUNK_OVERLAP)
            yield c, name
    finally:
        sp.stop()


@pytest.mark.parametrize("question", list(EXPECTED))
def test_demo_question_top_hit_is_its_section(demo_docs: tuple[bitrag.Client, str], question: str) -> None:
    c, name = demo_docs
    top = c.search(name, question, top_k=3).hits[0]
    doc, section = EXPECTED[question]
    assert (top.document_id.rsplit("/", 1)[-1], top.metadata.get(SECTION_KEY)) == (doc, section), top.text[:300]
    heading = section.split(" › ", 1)[-1] if " › " in section else section
    assert top.text.lstrip("#").lstrip().startswith(heading)  # the chunk is led by its heading path


@pytest.mark.parametrize("question", list(EXPECTED))
def test_demo_extractive_answer_quotes_the_top_hit(demo_docs: tuple[bitrag.Client, str], question: str) -> None:
    c, name = demo_docs
    summary = next(ch.summary for ch in c.ask(name, question, top_k=3) if ch.summary is not None)
    assert summary.generated is False and summary.answer.startswith(EXTRACTIVE_LABEL)
    lines = [ln for ln in summary.answer.splitlines()[1:] if ln.strip()]
    assert 1 <= len(lines) <= MAX_PASSAGES
    quoted = []
    for ln in lines:
        m = re.fullmatch(r"- (.+) \[(\d)\]", ln)
        assert m, ln
        text, n = m.group(1), int(m.group(2))
        assert len(text) <= MAX_PASSAGE_CHARS
        assert "|" not in text and not text.startswith("#"), text  # no table rows, no headings
        assert len(text.split()) >= 4 and text[-1] in ".!?:;)`…*\"'", text  # sentences, not fragments
        quoted.append((n, text))
    assert sum(len(t) for _, t in quoted) <= MAX_ANSWER_CHARS
    assert quoted[0][0] == 1  # the best passage comes from the top hit
    assert summary.cited == sorted({n for n, _ in quoted})
