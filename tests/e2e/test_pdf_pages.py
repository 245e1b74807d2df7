"""A TeX-like PDF (tests/pdfs.py: justified text whose word gaps are kerning offsets, a running
header, "n / N" footers) through `Client.ingest_files`, search and Ask on a real server: the words
keep their spaces, the page furniture stays out of the chunks, and every chunk knows its page, which
the CLI's tables and Ask's source heads show."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

import bitrag
from bitrag_server.launch import ServerProcess
from llm_server import LLMServer, Reply
from pdfs import MANUAL_PAGES as PAGES
from pdfs import tex_pdf

KEY = "test-llm-key"
QUERIES = {  # question -> the page that answers it
    "How do I get an address lease for my network interface with DHCP?": 1,
    "How are nftables firewall chains attached to netfilter hooks?": 2,
    "How do I blacklist a kernel module so that it never loads?": 3,
    "How are nightly rsync backups with hard link snapshots made?": 4,
    "Which service keeps the print queues and converts the documents?": 5,
}


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: LLMServer) -> Iterator[ServerProcess]:
    env = {"BITRAG_LLM_API_KEY": KEY, "BITRAG_LLM_BASE_URL": llm.base_url, "BITRAG_LLM_MAX_RETRIES": "0",
           "BITRAG_REDIS_URL": ""}
    sp = ServerProcess(tmp_path_factory.mktemp("pdf_pages"), env=env, ready_timeout_s=180.0)
    sp.start()
    try:
        yield sp
    finally:
        sp.stop()


@pytest.fixture(scope="module")
def manual(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A collection holding the manual, ingested with `Client.ingest_files`."""
    root = tmp_path_factory.mktemp("manual")
    tex_pdf(root / "manual.pdf", PAGES, header="Debian Reference")
    name = f"pdf_{uuid.uuid4().hex[:12]}"
    with bitrag.Client(server.target) as c:
        c.create_collection(name)
        res = c.ingest_files(name, root, chunk_size=64, chunk_overlap=8)
    assert (res.documents_added, res.chunks_written) == (1, len(PAGES))  # a page is short: one chunk each
    return name


def bitrag_cli(target: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITRAG_")}
    env["COLUMNS"] = "250"  # rich wraps at 80 columns when not on a terminal
    return subprocess.run([sys.executable, "-m", "bitrag.cli", "--target", target, *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_search_finds_each_page_with_its_words_spaced(server: ServerProcess, manual: str) -> None:
    with bitrag.Client(server.target) as c:
        for query, page in QUERIES.items():
            top = c.search(manual, query, top_k=len(PAGES)).hits[0]
            assert top.document_id.endswith("manual.pdf")
            assert top.metadata["page"] == page, (query, top.metadata)
            assert top.metadata["pages"] == len(PAGES)
            assert squash(top.text) == PAGES[page - 1]  # spaced words; no header, no "n / 5" footer
            assert top.chunk_id == f"{top.document_id}#{page - 1}"


def test_cli_search_shows_the_page(server: ServerProcess, manual: str) -> None:
    p = bitrag_cli(server.target, "search", "nftables firewall chains and netfilter hooks", "-c", manual, "-k", "1")
    assert p.returncode == 0, p.stderr
    assert "manual.pdf#1 p.2" in p.stdout, p.stdout


def test_ask_cites_the_page(server: ServerProcess, manual: str, llm: LLMServer) -> None:
    answer = "Blacklist the module in the modprobe configuration directory [1]."
    llm.script(Reply.text(answer))
    p = bitrag_cli(server.target, "ask", "How do I blacklist a kernel module?", "-c", manual, "-k", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(answer), p.stdout
    sources = p.stdout[len(answer):]
    assert "manual.pdf#2 p.3" in sources, sources  # the sources table: the cited chunk and its page
    [req] = llm.chat_requests
    prompt = req["body"]["messages"][1]["content"]
    head = next(line for line in prompt.splitlines() if line.startswith("[1] "))
    assert head.startswith("[1] (document: ") and head.endswith("manual.pdf, page 3) manual.pdf"), head
