"""A loopback OpenAI-compatible `/v1/embeddings` endpoint: each text's vector is a fixed function
of the text (a seeded normal vector), so a document chunk and a query with the same text embed
identically. Lets crash tests ingest documents through the real `openai` SDK without loading a
model at every one of many restarts (the OpenAI service itself cannot be reached from here)."""

from __future__ import annotations

import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


def embed_text(text: str, dim: int) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class EmbedServer:
    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body: dict[str, Any] = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                dim = int(body.get("dimensions") or outer.dim)
                outer.requests += 1
                data = [
                    {"object": "embedding", "index": i, "embedding": embed_text(t, dim).tolist()}
                    for i, t in enumerate(texts)
                ]
                out = json.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": body.get("model", ""),
                        "usage": {"prompt_tokens": 0, "total_tokens": 0},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def server_env(self) -> dict[str, str]:
        """`bitrag serve` environment for an `openai` embedder on this endpoint."""
        return {
            "BITRAG_EMBEDDER": "openai",
            "BITRAG_OPENAI_BASE_URL": self.base_url,
            "BITRAG_OPENAI_API_KEY": "test",
            "BITRAG_OPENAI_MODEL": "loopback",
            "BITRAG_OPENAI_DIMENSIONS": str(self.dim),
        }

    def start(self) -> EmbedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EmbedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
