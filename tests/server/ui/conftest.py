"""Fixtures of the UI tests: real `bitrag serve` subprocesses (the offline one is the session's
`lite_server`: no LLM key, extractive answers), one with an LLM configured (the real groq SDK in the
server, talking to the loopback chat server `tests/llm_server.py`), and a collection on each with
documents whose metadata carry pages the way readers record them (`page_label`, `page`)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import bitrag
from bitrag import Document
from bitrag_server.launch import ServerProcess
from bitrag_server.ui.launch import UIProcess
from llm_server import LLMServer

LLM_KEY = "ui-test-llm-key"
DOCS = [
    Document("codes.pdf", "Binary codes live in RAM inside the Milvus binary collection. Each code packs one "
             "sign bit per dimension, so a 384-dimensional vector takes only 48 bytes.",
             {"title": "Binary codes", "year": 2024, "page_label": "iv"}),
    Document("floats.md", "The float32 rows live on disk in one memory-mapped file per collection. They are "
             "read only to rescore the shortlist of candidates that the binary search returns.",
             {"title": "Float rows", "year": 2023, "page": 7}),
    Document("bread.md", "Sourdough bread needs flour, water, salt and a lively starter culture. The dough "
             "rises slowly overnight in a cool kitchen.", {"title": "Bread", "year": 2020}),
]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ui(target: str, **kw) -> UIProcess:
    """The Streamlit app on a free port (retried: another process may take the port first)."""
    for attempt in range(3):
        try:
            return UIProcess(target, port=free_port(), **kw).start()
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def make_collection(target: str) -> str:
    name = unique("ui")
    with bitrag.Client(target) as c:
        c.create_collection(name)
        c.ingest_documents(name, DOCS)
    return name


@pytest.fixture(scope="session")
def ui_llm() -> Iterator[LLMServer]:
    with LLMServer(api_key=LLM_KEY) as srv:
        yield srv


@pytest.fixture
def llm(ui_llm: LLMServer) -> Iterator[LLMServer]:
    ui_llm.reset()
    yield ui_llm
    ui_llm.reset()


@pytest.fixture(scope="session")
def gen_server(tmp_path_factory: pytest.TempPathFactory, ui_llm: LLMServer) -> Iterator[ServerProcess]:
    env = {
        "BITRAG_LLM_API_KEY": LLM_KEY, "BITRAG_LLM_BASE_URL": ui_llm.base_url, "BITRAG_LLM_MAX_RETRIES": "0",
        "BITRAG_LLM_TIMEOUT_S": "10", "BITRAG_REDIS_URL": "",
    }
    sp = ServerProcess(tmp_path_factory.mktemp("ui_gen"), env=env, ready_timeout_s=180)
    sp.start()
    yield sp
    sp.stop()


@pytest.fixture(scope="session")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """No LLM key anywhere (GROQ_API_KEY emptied too): extractive answers; the real Redis cache."""
    env = {"GROQ_API_KEY": "", "BITRAG_LLM_API_KEY": "", "BITRAG_REDIS_PREFIX": unique("bitrag-ui-test")}
    sp = ServerProcess(tmp_path_factory.mktemp("ui_offline"), env=env, ready_timeout_s=180)
    sp.start()
    yield sp
    sp.stop()


@pytest.fixture(scope="session")
def offline_docs(offline_server: ServerProcess) -> str:
    """A collection on the offline server."""
    return make_collection(offline_server.target)


@pytest.fixture(scope="session")
def gen_docs(gen_server: ServerProcess) -> str:
    return make_collection(gen_server.target)


@pytest.fixture
def bench_results(tmp_path: Path) -> Path:
    """A bench/results-like directory with one recall/latency plot and one other plot."""
    from PIL import Image

    for name in ("quality_scifact_minilm_lite_pool4_recall_latency.png", "scale_lite_memory_vs_n.png"):
        Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / name)
    return tmp_path
