"""embed.py: the local embedder (offline weights) and the OpenAI embedder against a loopback
OpenAI-compatible HTTP server driven through the real `openai` SDK; plus one end-to-end run of the
real server subprocess using that loopback endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bitrag_server.config import Settings
from bitrag_server.embed import Embedders, LocalEmbedder, OpenAIEmbedder
from bitrag_server.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, Unavailable

DEFAULT_DIM = 48


def fake_vector(text: str, dim: int) -> np.ndarray:
    """Deterministic, NOT normalised (norm ~ 3*sqrt(dim)): the embedder must normalise."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (3.0 * np.random.default_rng(seed).standard_normal(dim)).astype(np.float32)


class FakeOpenAI:
    """A loopback `/v1/embeddings` endpoint speaking the OpenAI protocol."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.fail_status = 0  # answer every request with this HTTP status when set
        self.shuffle = False  # return `data` out of order (clients must sort by index)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.auth.append(self.headers.get("Authorization", ""))
                if self.path != "/v1/embeddings":
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                if outer.fail_status:
                    self._send(
                        outer.fail_status,
                        {"error": {"message": f"fake failure {outer.fail_status}", "type": "server_error",
                                   "code": None, "param": None}},
                        {"retry-after-ms": "5"},  # keep the SDK's retries fast
                    )
                    return
                inputs = body["input"]
                inputs = [inputs] if isinstance(inputs, str) else inputs
                dim = int(body.get("dimensions") or DEFAULT_DIM)
                data = []
                for i, text in enumerate(inputs):
                    v = fake_vector(text, dim)
                    emb: Any = (
                        base64.b64encode(v.astype("<f4").tobytes()).decode()
                        if body.get("encoding_format") == "base64"
                        else v.tolist()
                    )
                    data.append({"object": "embedding", "index": i, "embedding": emb})
                if outer.shuffle:
                    data.reverse()
                n_tok = sum(len(t.split()) for t in inputs)
                self._send(200, {"object": "list", "data": data, "model": body["model"],
                                 "usage": {"prompt_tokens": n_tok, "total_tokens": n_tok}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def inputs(self) -> list[str]:
        out: list[str] = []
        for r in self.requests:
            out.extend(r["input"] if isinstance(r["input"], list) else [r["input"]])
        return out

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI()
    yield srv
    srv.close()


def _emb(srv: FakeOpenAI, **kw: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(base_url=srv.base_url, api_key="sk-test", model=kw.pop("model", "fake-embed"), **kw)


# ---- local ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def test_local_embedder_unit_vectors(local: LocalEmbedder) -> None:
    assert local.spec == "local:all-MiniLM-L6-v2"
    assert local.dimension == 384
    v = local.embed(["The cat sits on the mat.", "Stock markets fell sharply today.", "x"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert local.embed([]).shape[0] == 0


def test_local_embedder_similarity(local: LocalEmbedder) -> None:
    a, b, c, d = local.embed([
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "The central bank raised interest rates.",
        "Interest rates were increased by the central bank.",
    ])
    assert a @ b > a @ c + 0.2
    assert c @ d > c @ b + 0.2
    # deterministic
    again = local.embed(["A cat is sleeping on the sofa."])[0]
    assert np.allclose(a, again, atol=1e-5)


def test_local_embedder_via_embedders(local: LocalEmbedder, tmp_path: Path) -> None:
    e = Embedders(Settings(data_dir=tmp_path, _env_file=None))
    assert e.resolve("") == "local:all-MiniLM-L6-v2"
    assert e.resolve("local:all-MiniLM-L6-v2") == "local:all-MiniLM-L6-v2"
    with pytest.raises(InvalidArgument) as ei:
        e.resolve("local:other-model")
    assert ei.value.field == "embedder"


def test_default_chunks_fit_the_local_models_window(local: LocalEmbedder, tmp_path: Path) -> None:
    """The model reads 256 wordpieces ([CLS] + 254 + [SEP]) and drops the rest. The server's
    default chunking for it is sized in those wordpieces: every chunk of a long text and of a long
    Markdown section fits whole, and the chunks hold every sentence. The old default (512 tiktoken
    tokens) made chunks the model saw barely half of."""
    from bitrag_server import ingest_pipeline as ip
    from bitrag_server.domain import DocumentIn
    from bitrag_server.ingest import split_document

    sentences = [f"Sentence {i} says that the {w} sample number {i * 7} was measured twice." for i, w in
                 enumerate(["copper", "zinc", "tin", "lead", "nickel", "cobalt"] * 40)]
    text = " ".join(sentences)
    window = local.window()
    assert window[0] == 254
    ch = ip.resolve_chunking(0, 0, Settings(data_dir=tmp_path, _env_file=None), window, local.spec)
    assert ch.size == 254 and ch.tokenizer is not None

    def wordpieces(t: str) -> int:
        return len(local._load().tokenizer(t)["input_ids"])  # with [CLS] / [SEP]

    for doc in (DocumentIn("a.txt", text), DocumentIn("a.md", "# Notes\n\n" + text, {"file_type": "text/markdown"})):
        chunks = split_document(doc, ch.size, ch.overlap, ch.tokenizer)
        assert len(chunks) > 5 and max(wordpieces(c.text) for c in chunks) <= 256
        assert all(any(sent in c.text for c in chunks) for sent in sentences)
    old = split_document(DocumentIn("a.txt", text), 512, 64)
    assert min(wordpieces(c.text) for c in old[:-1]) > 256  # what the old default gave this model


# ---- openai (loopback) ---------------------------------------------------------------------------


def test_openai_vectors_normalised_in_order(fake_openai: FakeOpenAI) -> None:
    emb = _emb(fake_openai)
    texts = ["alpha", "beta", "gamma", "alpha"]
    v = emb.embed(texts)
    assert v.shape == (4, DEFAULT_DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    for i, t in enumerate(texts):
        want = fake_vector(t, DEFAULT_DIM)
        assert np.allclose(v[i], want / np.linalg.norm(want), atol=1e-6)
    assert np.array_equal(v[0], v[3])
    (req,) = fake_openai.requests
    assert req["model"] == "fake-embed" and req["input"] == texts and "dimensions" not in req
    assert fake_openai.auth == ["Bearer sk-test"]
    assert emb.spec == "openai:fake-embed"


def test_openai_out_of_order_data_is_sorted(fake_openai: FakeOpenAI) -> None:
    fake_openai.shuffle = True
    v = _emb(fake_openai).embed(["one", "two", "three"])
    for i, t in enumerate(["one", "two", "three"]):
        w = fake_vector(t, DEFAULT_DIM)
        assert np.allclose(v[i], w / np.linalg.norm(w), atol=1e-6)


def test_openai_batches(fake_openai: FakeOpenAI) -> None:
    emb = _emb(fake_openai, batch_size=4)
    texts = [f"text number {i}" for i in range(10)]
    v = emb.embed(texts)
    assert [len(r["input"]) for r in fake_openai.requests] == [4, 4, 2]
    assert fake_openai.inputs() == texts
    w = np.stack([fake_vector(t, DEFAULT_DIM) for t in texts])
    assert np.allclose(v, w / np.linalg.norm(w, axis=1, keepdims=True), atol=1e-6)


def test_openai_dimensions(fake_openai: FakeOpenAI) -> None:
    emb = _emb(fake_openai, dimensions=16)
    assert emb.dimension == 16
    assert fake_openai.requests == []  # configured: no probe
    v = emb.embed(["x", "y"])
    assert v.shape == (2, 16)
    assert fake_openai.requests[0]["dimensions"] == 16
    assert emb.embed([]).shape == (0, 16)


def test_openai_dimension_probe(fake_openai: FakeOpenAI) -> None:
    emb = _emb(fake_openai)
    assert emb.dimension == DEFAULT_DIM
    assert emb.dimension == DEFAULT_DIM
    assert len(fake_openai.requests) == 1  # probed once


@pytest.mark.parametrize(
    ("status", "exc", "attempts"),
    [
        (429, ResourceExhausted, 3),  # retried by the SDK (max_retries=2), then mapped
        (500, Unavailable, 3),
        (503, Unavailable, 3),
        (401, FailedPrecondition, 1),  # not retried
        (400, FailedPrecondition, 1),
    ],
)
def test_openai_errors(fake_openai: FakeOpenAI, status: int, exc: type, attempts: int) -> None:
    fake_openai.fail_status = status
    with pytest.raises(exc) as ei:
        _emb(fake_openai).embed(["x"])
    assert len(fake_openai.requests) == attempts
    if status in (401, 400):
        assert f"({status})" in str(ei.value)


def test_openai_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAIEmbedder(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", model="m", timeout_s=2)
    with pytest.raises(Unavailable):
        emb.embed(["x"])


def test_embedders_openai_from_settings(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path, embedder="openai", openai_base_url=fake_openai.base_url, openai_api_key="sk-x",
        openai_model="fake-embed", openai_dimensions=24, _env_file=None,
    )
    e = Embedders(s)
    assert e.resolve("") == "openai:fake-embed"
    assert e.resolve("openai:other") == "openai:other"
    assert e.resolve("none") == "none"
    emb = e.get("openai:fake-embed")
    assert e.get("openai:fake-embed") is emb
    assert emb.dimension == 24
    assert emb.embed(["q"]).shape == (1, 24)
    assert fake_openai.requests[-1]["dimensions"] == 24 and fake_openai.auth[-1] == "Bearer sk-x"
    with pytest.raises(FailedPrecondition):
        e.get("none")
    with pytest.raises(InvalidArgument):
        e.resolve("cohere")


def test_settings_openai_dimensions_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BITRAG_OPENAI_DIMENSIONS", "32")
    monkeypatch.setenv("BITRAG_OPENAI_API_KEY", "env-key")
    s = Settings(data_dir=tmp_path, _env_file=None)
    assert s.openai_dimensions == 32 and s.openai_api_key == "env-key"
    from bitrag_server.cli import settings_from_args
    from bitrag.cli import build_parser

    args = build_parser().parse_args(
        ["serve", "--data-dir", str(tmp_path), "--embedder", "openai", "--openai-dimensions", "64",
         "--openai-model", "m", "--openai-base-url", "http://x/v1"]
    )
    s = settings_from_args(args)
    got = (s.openai_dimensions, s.openai_model, s.openai_base_url, s.embedder)
    assert got == (64, "m", "http://x/v1", "openai")
    assert s.openai_api_key == "env-key"  # flags win, env fills the rest
    assert s.data_dir == tmp_path


# ---- end to end: the real server subprocess with the loopback embedder --------------------------


@pytest.mark.timeout(180)
def test_server_end_to_end_with_openai_embedder(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    import bitrag

    from bitrag_server.launch import ServerProcess

    srv = ServerProcess(
        tmp_path / "data",
        extra_args=["--embedder", "openai", "--openai-base-url", fake_openai.base_url,
                    "--openai-model", "fake-embed", "--openai-dimensions", "32"],
        env={"BITRAG_OPENAI_API_KEY": "test"},
        ready_timeout_s=120,
    ).start()
    try:
        docs = [
            bitrag.Document("a.md", "Binary codes live in RAM.", {"lang": "en"}),
            bitrag.Document("b.md", "Float rows are stored on disk.", {"lang": "en"}),
            bitrag.Document("c.md", "Queries are rescored exactly.", {"lang": "de"}),
        ]
        with bitrag.Client(srv.target, timeout=60) as c:
            info = c.create_collection("docs")
            assert (info.embedder, info.dimension) == ("openai:fake-embed", 32)
            res = c.ingest_documents("docs", docs)
            assert (res.documents_added, res.chunks_written) == (3, 3)
            n_requests = len(fake_openai.requests)
            assert n_requests >= 1
            assert set(fake_openai.inputs()) >= {d.text for d in docs}
            assert all(r["model"] == "fake-embed" and r["dimensions"] == 32 for r in fake_openai.requests)
            assert set(fake_openai.auth) == {"Bearer test"}

            for d in docs:
                out = c.search("docs", d.text, top_k=3)
                assert out.hits[0].document_id == d.id
                assert out.hits[0].text == d.text
                assert out.hits[0].score == pytest.approx(1.0, abs=1e-5)
                assert out.hits[0].hamming_distance == 0
                assert out.hits[0].metadata == d.metadata
                assert "embed" in out.diagnostics.timings_us
            assert fake_openai.inputs()[-1] == docs[-1].text  # the query was embedded by the endpoint
            out = c.search("docs", docs[0].text, top_k=3, filter='lang == "de"')
            assert [h.document_id for h in out.hits] == ["c.md"]
            # unchanged re-ingest does not call the embedding endpoint
            before = len(fake_openai.requests)
            res = c.ingest_documents("docs", docs)
            assert res.documents_unchanged == 3 and len(fake_openai.requests) == before
            # endpoint failures reach the client as typed errors
            fake_openai.fail_status = 401
            with pytest.raises(bitrag.FailedPreconditionError):
                c.search("docs", "anything new", top_k=1)
            fake_openai.fail_status = 0
    finally:
        rc = srv.stop()
    assert rc == 0, srv.text()
