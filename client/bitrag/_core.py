"""What the sync and async clients share: request building, batching, proto -> dataclass
conversion. The clients themselves only send."""

from __future__ import annotations

import datetime as _dt
import math
import operator
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from google.protobuf import json_format, struct_pb2

from .errors import AlreadyExistsError, InvalidArgumentError
from .types import (
    AnswerChunk,
    CompactResult,
    GenerationFailure,
    AskSummary,
    AskTimings,
    CalibrationInfo,
    CollectionInfo,
    GateConfig,
    ReliabilityBin,
    SearchPlan,
    DeleteResult,
    Document,
    DocumentInfo,
    DocumentPage,
    Hit,
    IndexSpec,
    IngestProgress,
    IngestResult,
    LegacyStore,
    Record,
    SearchDiagnostics,
    SearchResult,
    Source,
    TokenUsage,
)
from .v1 import bitrag_pb2 as pb

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_MAX_MESSAGE_MB = 64
# Keep each Ingest request well under the default 64 MiB message limit.
MAX_BATCH_BYTES = 16 * 1024 * 1024
# Text per Ingest request of documents: ~30 chunks of 512 tokens, about a second of CPU embedding,
# so progress moves about once a second; the per-request cost (a lookup, a journal) stays small.
DEFAULT_BATCH_TEXT_BYTES = 64 * 1024


def channel_options(max_message_mb: int, tls_server_name: str = "") -> list[tuple[str, Any]]:
    n = max_message_mb * 1024 * 1024
    opts: list[tuple[str, Any]] = [("grpc.max_receive_message_length", n), ("grpc.max_send_message_length", n)]
    if tls_server_name:
        opts.append(("grpc.ssl_target_name_override", tls_server_name))
    return opts


def _pem(value: str | bytes | None) -> bytes | None:
    """PEM bytes, or a path to a PEM file."""
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def channel_credentials(
    credentials: Any, tls_ca: str | bytes | None, tls_client_cert: str | bytes | None,
    tls_client_key: str | bytes | None,
) -> Any:
    """grpc.ChannelCredentials for TLS (None: plaintext). `tls_ca`: the CA that signed the server's
    certificate (path or PEM bytes; None with a client certificate = the system roots); the client
    certificate and key for mTLS. Explicit `credentials` win."""
    import grpc

    if credentials is not None:
        return credentials
    if tls_ca is None and tls_client_cert is None:
        return None
    if (tls_client_cert is None) != (tls_client_key is None):
        raise ValueError("tls_client_cert and tls_client_key go together (mTLS)")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(tls_ca), private_key=_pem(tls_client_key), certificate_chain=_pem(tls_client_cert)
    )


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """The bearer token as call metadata (`authorization: Bearer TOKEN`)."""
    if not token:
        return None
    if any(ch.isspace() for ch in token):
        raise ValueError("token: must not contain whitespace")
    return (("authorization", f"Bearer {token}"),)


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


# ---- client-side validation: mistakes raise InvalidArgumentError naming the field, before a call --


def invalid(field: str, message: str) -> InvalidArgumentError:
    """The SDK's own InvalidArgumentError, shaped as the server's (`.field`, "field: message")."""
    return InvalidArgumentError(f"{field}: {message}", field=field)


UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1


def check_uint(value: Any, field: str, *, minimum: int = 0, maximum: int = UINT32_MAX) -> int:
    """An integer (Python or numpy) in `minimum..maximum` (a proto uint32 by default), as int."""
    if isinstance(value, (bool, np.bool_)):
        raise invalid(field, f"expected an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise invalid(field, f"expected an integer, got {type(value).__name__} {value!r}") from None
    if not minimum <= n <= maximum:
        raise invalid(field, f"{n} out of range (expected {minimum}..{maximum})")
    return n


def check_float(value: Any, field: str) -> float:
    """A finite real number (Python or numpy), as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise invalid(field, f"expected a number, got {type(value).__name__} {value!r}")
    f = float(value)
    if not math.isfinite(f):
        raise invalid(field, f"expected a finite number, got {f}")
    return f


MAX_EXACT_INT = 2**53  # a Struct number is a double: integers past this lose digits


def plain_value(value: Any, field: str) -> Any:
    """A metadata value as JSON-shaped Python (what a protobuf Struct holds): numpy scalars and
    arrays become Python numbers and lists, datetimes (pandas Timestamps too) ISO 8601 strings,
    tuples and sets lists. Anything else raises InvalidArgumentError naming `field` (the key's path)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):  # np.int64(3), np.float32(0.5), np.bool_(True), np.str_
        return plain_value(value.item(), field)
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise invalid(field, f"integer {value} does not fit a JSON number exactly (send it as a string)")
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        if value != value:  # pandas NaT
            return None
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [plain_value(v, f"{field}[{i}]") for i, v in enumerate(value.tolist())]
    if isinstance(value, Mapping):
        return plain_mapping(value, field)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [plain_value(v, f"{field}[{i}]") for i, v in enumerate(items)]
    raise invalid(field, f"unsupported metadata type {type(value).__module__}.{type(value).__qualname__} "
                         "(JSON values only: str, number, bool, None, list, dict; numpy scalars and datetimes "
                         "are converted)")


def plain_mapping(d: Mapping[Any, Any], field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(k, np.str_):
            k = str(k)
        if not isinstance(k, str):
            raise invalid(field, f"metadata keys are strings, got {type(k).__name__} {k!r}")
        out[k] = plain_value(v, f"{field}.{k}")
    return out


def to_struct(d: Mapping[str, Any] | None, field: str = "metadata") -> struct_pb2.Struct | None:
    """Metadata -> Struct; `field` names the request field in errors (e.g. "documents[3].metadata")."""
    if not d:
        return None
    if not isinstance(d, Mapping):
        raise invalid(field, f"expected a mapping, got {type(d).__name__}")
    s = struct_pb2.Struct()
    s.update(plain_mapping(d, field))
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return _ints(json_format.MessageToDict(s)) if s.fields else {}


def vector_bytes(v: Any, field: str = "query") -> bytes:
    """A vector `[d]` (or one row `[1, d]`) of floats -> float32 little-endian bytes."""
    try:
        a = np.asarray(v, dtype="<f4")
    except (TypeError, ValueError) as exc:
        raise invalid(field, f"expected a text or a vector of floats: {exc}") from None
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 1 or a.size == 0:
        raise invalid(field, f"expected a 1-D vector [d], got shape {a.shape}")
    return a.tobytes()


def check_ids(ids: Any, field: str) -> list[str]:
    """A sequence of string ids (not one string)."""
    if isinstance(ids, (str, bytes)):
        raise invalid(field, "a sequence of ids, not one string")
    try:
        out = list(ids)
    except TypeError:
        raise invalid(field, f"expected a sequence of ids, got {type(ids).__name__}") from None
    for i, x in enumerate(out):
        if isinstance(x, np.str_):
            out[i] = str(x)
        elif not isinstance(x, str):
            raise invalid(f"{field}[{i}]", f"expected a string id, got {type(x).__name__} {x!r}")
    return out


SearchModeName = Literal["AUTO", "RESCORED", "BINARY_ONLY", "EXACT"]
# The search modes by name (case-insensitive), looked up (never built by f-string).
_MODES: dict[str, pb.SearchMode] = {
    "AUTO": pb.SEARCH_MODE_AUTO,
    "RESCORED": pb.SEARCH_MODE_RESCORED,
    "BINARY_ONLY": pb.SEARCH_MODE_BINARY_ONLY,
    "EXACT": pb.SEARCH_MODE_EXACT,
}
MODES = tuple(_MODES)


def search_mode(mode: Any, field: str = "mode") -> pb.SearchMode:
    key = mode.upper() if isinstance(mode, str) else None
    if key not in _MODES:
        raise invalid(field, f"one of {', '.join(MODES)}; got {mode!r}")
    return _MODES[key]


# ---- requests ----------------------------------------------------------------------------------


def create_request(
    name: str,
    *,
    dimension: int = 0,
    embedder: str = "",
    index: IndexSpec | None = None,
    default_oversample: int = 0,
    description: str = "",
    gate: GateConfig | None = None,
    consistency_level: str = "",
    partition_key: str = "",
    num_partitions: int = 0,
    tier: str = "",
) -> pb.CreateCollectionRequest:
    ix = index or IndexSpec()
    g = gate or GateConfig()
    return pb.CreateCollectionRequest(
        gate=pb.GateConfig(
            target_recall=check_float(g.target_recall, "gate.target_recall"),
            confidence_threshold=check_float(g.confidence_threshold, "gate.confidence_threshold"),
            fallback=list(g.fallback), widen_max_rows=check_uint(g.widen_max_rows, "gate.widen_max_rows"),
            fallback_collection=g.fallback_collection, fallback_vector_field=g.fallback_vector_field,
            legacy_store=legacy_to_proto(g.legacy_store, "gate.legacy_store"),
        ),
        name=name,
        dimension=check_uint(dimension, "dimension"),
        embedder=embedder,
        index=pb.IndexSpec(type=ix.type, build_params=ix.build_params, search_params=ix.search_params),
        default_oversample=check_uint(default_oversample, "default_oversample"),
        tier=tier,
        description=description,
        consistency_level=consistency_level,
        partition_key=partition_key,
        num_partitions=check_uint(num_partitions, "num_partitions"),
    )


def existing_collection(info: CollectionInfo, *, dimension: int, embedder: str) -> CollectionInfo:
    """Get-or-create (`create_collection(..., exist_ok=True)`) found `info` under the name: return
    it when it fits the request, else raise `AlreadyExistsError` naming the field that differs.
    Compared: `dimension` (when given) and `embedder` ("local" / "openai" match any model of that
    kind, "" = the server default matches any). Other options are not compared: the existing
    collection's are kept."""
    if dimension and dimension != info.dimension:
        raise AlreadyExistsError(
            f"collection {info.name!r} exists with dimension {info.dimension}, not {dimension}", field="dimension"
        )
    want = embedder.strip()
    if want and want != info.embedder and not (":" not in want and info.embedder.split(":", 1)[0] == want):
        raise AlreadyExistsError(
            f"collection {info.name!r} exists with embedder {info.embedder!r}, not {want!r}", field="embedder"
        )
    return info


def legacy_to_proto(ls: LegacyStore, field: str = "legacy_store") -> pb.LegacyStore:
    return pb.LegacyStore(
        source=ls.source, collection=ls.collection, vector_field=ls.vector_field, text_field=ls.text_field,
        document_id_field=ls.document_id_field, id_field=ls.id_field,
        shadow_rate=check_float(ls.shadow_rate, f"{field}.shadow_rate"),
    )


def legacy_from_proto(ls: pb.LegacyStore) -> LegacyStore:
    return LegacyStore(ls.source, ls.collection, ls.vector_field, ls.text_field, ls.document_id_field, ls.id_field,
                       ls.shadow_rate)


def fetch_request(collection: str, document_ids: Sequence[str], include_vectors: bool) -> pb.FetchRequest:
    return pb.FetchRequest(collection=collection, document_ids=check_ids(document_ids, "document_ids"),
                           include_vectors=include_vectors)


def delete_request(collection: str, document_ids: Sequence[str]) -> pb.DeleteRequest:
    return pb.DeleteRequest(collection=collection, document_ids=check_ids(document_ids, "document_ids"))


def calibrate_request(collection: str, samples: int) -> pb.CalibrateRequest:
    return pb.CalibrateRequest(collection=collection, samples=check_uint(samples, "samples"))


MAX_LIST_IDS = 1000  # document_ids per ListDocuments request


def list_documents_request(
    collection: str, *, page_size: int = 0, page_token: str = "", document_ids: Sequence[str] | None = None,
    prefix: str = "",
) -> pb.ListDocumentsRequest:
    if isinstance(document_ids, str):
        raise TypeError("document_ids: a sequence of ids, not one string")
    return pb.ListDocumentsRequest(collection=collection, page_size=page_size, page_token=page_token,
                                   document_ids=list(document_ids or ()), prefix=prefix)


def document_listings(
    collection: str, *, page_size: int = 0, document_ids: Sequence[str] | None = None, prefix: str = ""
) -> Iterator[pb.ListDocumentsRequest]:
    """The first request of each listing `iter_documents` pages through: one for every document (or
    a prefix), one per MAX_LIST_IDS ids otherwise. The caller follows next_page_token."""
    if document_ids is None:
        yield list_documents_request(collection, page_size=page_size, prefix=prefix)
        return
    ids = list(dict.fromkeys(document_ids))
    for i in range(0, len(ids), MAX_LIST_IDS):
        yield list_documents_request(collection, page_size=page_size, document_ids=ids[i : i + MAX_LIST_IDS],
                                     prefix=prefix)


def set_legacy_request(collection: str, legacy: LegacyStore | None, fallback: Sequence[str]) -> pb.SetLegacyStoreRequest:
    return pb.SetLegacyStoreRequest(collection=collection, legacy_store=legacy_to_proto(legacy or LegacyStore()),
                                    fallback=list(fallback))


# A request: (IngestRequest, documents or records in it, their text or vector bytes).
Batch = tuple[pb.IngestRequest, int, int]


def flush_last(requests: Iterator[Batch], flush: bool) -> Iterator[Batch]:
    """Pass requests through, with `flush` set on the last one (seal Milvus segments once, at the end)."""
    prev = None
    for item in requests:
        if prev is not None:
            yield prev
        prev = item
    if prev is not None:
        prev[0].flush = flush
        yield prev


class ProgressMeter:
    """Sums the answered requests of one ingest into `IngestProgress` for `on_progress`."""

    def __init__(self, items_total: int, bytes_total: int, on_progress: Callable[[IngestProgress], None] | None):
        self.items_total, self.bytes_total, self.on_progress = items_total, bytes_total, on_progress
        self.chunks = self.items = self.bytes_done = 0
        self.start = time.monotonic()

    @classmethod
    def for_documents(cls, documents: Sequence[Document], on_progress: Callable[[IngestProgress], None] | None
                      ) -> ProgressMeter:
        # sizes only: the documents are checked (typed errors naming the field) as requests are built
        return cls(len(documents), sum(len(d.text.encode()) for d in documents
                                       if isinstance(d, Document) and isinstance(d.text, str)), on_progress)

    @classmethod
    def for_vectors(cls, vectors: np.ndarray, on_progress: Callable[[IngestProgress], None] | None
                    ) -> ProgressMeter:
        rows = vectors.shape[0] if vectors.ndim == 2 else (1 if vectors.ndim == 1 else 0)  # one [d] vector: one row
        return cls(rows, vectors.nbytes, on_progress)

    def answered(self, batch: Batch, result: IngestResult) -> None:
        _, items, nbytes = batch
        self.chunks += result.chunks_written
        self.items += items
        self.bytes_done += nbytes
        if self.on_progress is not None:
            self.on_progress(IngestProgress(
                chunks=self.chunks, chunks_step=result.chunks_written, items=self.items,
                items_total=self.items_total, bytes_done=self.bytes_done, bytes_total=self.bytes_total,
                elapsed_s=time.monotonic() - self.start,
            ))


def document_requests(
    collection: str, documents: Sequence[Document], *, chunk_size: int, chunk_overlap: int, batch_size: int,
    batch_bytes: int = DEFAULT_BATCH_TEXT_BYTES,
) -> Iterator[Batch]:
    """Requests of at most `batch_size` documents and `batch_bytes` of text (a larger document
    goes alone), each under the message size limit. Small requests are what make progress move:
    the server answers a request once it has embedded all of it."""
    chunk_size = check_uint(chunk_size, "chunk_size")
    chunk_overlap = check_uint(chunk_overlap, "chunk_overlap")
    batch_size = check_uint(batch_size, "batch_size", minimum=1)
    batch_bytes = check_uint(batch_bytes, "batch_bytes", minimum=1, maximum=2**62)

    def request(msgs: list[pb.Document]) -> pb.IngestRequest:
        return pb.IngestRequest(collection=collection, documents=msgs, chunk_size=chunk_size,
                                chunk_overlap=chunk_overlap)

    batch: list[pb.Document] = []
    size = text = 0
    for i, d in enumerate(documents):
        if not isinstance(d, Document):
            raise invalid(f"documents[{i}]", f"expected a bitrag.Document, got {type(d).__name__}")
        if not isinstance(d.id, str) or not isinstance(d.text, str):
            bad = "id" if not isinstance(d.id, str) else "text"
            raise invalid(f"documents[{i}].{bad}", f"expected a string, got {type(getattr(d, bad)).__name__}")
        msg = pb.Document(id=d.id, text=d.text, metadata=to_struct(d.metadata, f"documents[{i}].metadata"))
        n, t = msg.ByteSize(), len(d.text.encode())
        if batch and (len(batch) >= batch_size or size + n > MAX_BATCH_BYTES or text + t > batch_bytes):
            yield request(batch), len(batch), text
            batch, size, text = [], 0, 0
        batch.append(msg)
        size += n
        text += t
    if batch:
        yield request(batch), len(batch), text


def as_float32(vectors: Any) -> np.ndarray:
    """Array-like -> float32 little-endian ndarray (no copy if it already is one); its shape is
    checked by `vector_requests`."""
    try:
        return np.asarray(vectors, dtype="<f4")
    except (TypeError, ValueError) as exc:
        raise invalid("vectors", f"expected an array of floats [n, d]: {exc}") from None


def vector_requests(
    collection: str,
    vectors: Any,
    *,
    texts: Sequence[str] | None,
    metadata: Sequence[Mapping[str, Any]] | None,
    ids: Sequence[str] | None,
    document_ids: Sequence[str] | None,
    batch_size: int,
) -> Iterator[Batch]:
    """Raw vectors `[n, d]` -> IngestRequests of records. Records of one document stay in one
    request (a document is replaced as a whole). One vector `[d]` is taken as one row `[1, d]`."""
    v = as_float32(vectors)
    one = v.ndim == 1
    if one:
        v = v.reshape(1, -1)
    if v.ndim != 2 or v.shape[1] == 0:
        raise invalid("vectors", f"expected [n, d] (or one vector [d]), got shape {v.shape}")
    n = v.shape[0]
    batch_size = check_uint(batch_size, "batch_size", minimum=1)
    if ids is not None:
        ids = check_ids(ids, "ids")
    if document_ids is not None:
        document_ids = check_ids(document_ids, "document_ids")
    if isinstance(texts, str):
        raise invalid("texts", "a sequence of texts, one per vector, not one string")
    if metadata is not None and isinstance(metadata, Mapping):
        raise invalid("metadata", "a sequence of mappings, one per vector, not one mapping")
    for name, seq in (("texts", texts), ("metadata", metadata), ("ids", ids), ("document_ids", document_ids)):
        if seq is not None and len(seq) != n:
            hint = f" (vectors is one 1-D vector of length {v.shape[1]}; pass [n, d] for n vectors)" if one else ""
            raise invalid(name, f"{len(seq)} items for {n} vectors{hint}")
    if ids is None and document_ids is None:
        raise invalid("ids", "ids or document_ids is required (stable ids make re-ingest idempotent)")
    per = max(1, min(batch_size, MAX_BATCH_BYTES // max(1, v.shape[1] * 4 + 256)))
    order = list(range(n))
    doc_of: list[str] | None = None
    if document_ids is not None:
        # A document's records must travel in one request (an Ingest replaces a document whole),
        # so records of one document are made contiguous even when the caller interleaves them:
        # stable, by first appearance, keeping each document's chunk order.
        doc_of = [document_ids[i] or (ids[i] if ids is not None else "") for i in range(n)]
        first: dict[str, int] = {}
        for i, d in enumerate(doc_of):
            first.setdefault(d, i)
        order.sort(key=lambda i: first[doc_of[i]])
    start = 0
    while start < n:
        end = min(n, start + per)
        if doc_of is not None:  # never split a document across requests
            while end < n and doc_of[order[end]] == doc_of[order[end - 1]]:
                end += 1
        records = [
            pb.VectorRecord(
                id=ids[i] if ids is not None else "",
                document_id=document_ids[i] if document_ids is not None else "",
                vector=v[i].tobytes(),
                text=texts[i] if texts is not None else "",
                metadata=to_struct(metadata[i], f"metadata[{i}]") if metadata is not None else None,
            )
            for i in order[start:end]
        ]
        yield pb.IngestRequest(collection=collection, records=records), end - start, (end - start) * v.shape[1] * 4
        start = end



def search_request(
    collection: str, query: Any, *, top_k: int, filter: str, oversample: int, mode: str = "AUTO",
    confidence_threshold: float | None = None,
) -> pb.SearchRequest:
    req = pb.SearchRequest(
        collection=collection, top_k=check_uint(top_k, "top_k"), filter=filter,
        oversample=check_uint(oversample, "oversample"), mode=search_mode(mode),
    )
    if confidence_threshold is not None:
        req.confidence_threshold = check_float(confidence_threshold, "confidence_threshold")
    if isinstance(query, str):
        req.text = query
    elif isinstance(query, (bytes, bytearray)):
        req.vector = bytes(query)
    else:
        req.vector = vector_bytes(query, "query")
    return req


def ask_request(
    collection: str, question: str, *, top_k: int = 0, filter: str = "", oversample: int = 0,
    mode: str = "AUTO", confidence_threshold: float | None = None, model: str = "",
    temperature: float | None = None, max_tokens: int = 0, cache: bool = True,
) -> pb.AskRequest:
    if not isinstance(question, str):
        raise invalid("question", f"expected a string, got {type(question).__name__}")
    req = pb.AskRequest(
        collection=collection, question=question, top_k=check_uint(top_k, "top_k"), filter=filter,
        oversample=check_uint(oversample, "oversample"), mode=search_mode(mode),
        model=model, max_tokens=check_uint(max_tokens, "max_tokens"), no_cache=not cache,
    )
    if confidence_threshold is not None:
        req.confidence_threshold = check_float(confidence_threshold, "confidence_threshold")
    if temperature is not None:
        req.temperature = check_float(temperature, "temperature")
    return req


# ---- responses ---------------------------------------------------------------------------------


def calibration_from_proto(c: pb.CalibrationInfo) -> CalibrationInfo:
    return CalibrationInfo(
        calibrated=c.calibrated,
        threshold=c.threshold,
        target_recall=c.target_recall,
        samples=c.samples,
        source=c.source,
        rows_at_calibration=c.rows_at_calibration,
        calibrated_unix_ms=c.calibrated_unix_ms,
        reliability=[ReliabilityBin(b.lo, b.hi, b.count, b.predicted, b.measured) for b in c.reliability],
        duration_us=c.duration_us,
    )


def collection_from_proto(c: pb.CollectionInfo) -> CollectionInfo:
    return CollectionInfo(
        name=c.name,
        dimension=c.dimension,
        embedder=c.embedder,
        index=IndexSpec(c.index.type, dict(c.index.build_params), dict(c.index.search_params)),
        default_oversample=c.default_oversample,
        description=c.description,
        rows=c.rows,
        float_rows=c.float_rows,
        bytes_in_ram=c.bytes_in_ram,
        bytes_on_disk=c.bytes_on_disk,
        generation=c.generation,
        created_unix_ms=c.created_unix_ms,
        gate=GateConfig(
            c.gate.target_recall, c.gate.confidence_threshold, tuple(c.gate.fallback), c.gate.widen_max_rows,
            c.gate.fallback_collection, c.gate.fallback_vector_field, legacy_from_proto(c.gate.legacy_store),
        ),
        calibration=calibration_from_proto(c.calibration),
        consistency_level=c.consistency_level,
        partition_key=c.partition_key,
        num_partitions=c.num_partitions,
        tier=c.tier,
        bytes_tier=c.bytes_tier,
        plan=SearchPlan(
            c.plan.pool, c.plan.nprobe, c.plan.route, c.plan.candidate_recall, dict(c.plan.pool_recall),
            dict(c.plan.nprobe_recall), c.plan.exact_us, c.plan.binary_us, c.plan.scan_us, c.plan.fallback_share,
            c.plan.rows, c.plan.measured_unix_ms, c.plan.source or "milvus", c.plan.milvus_pool_us, c.plan.ram_pool_us,
        ),
        dead_rows=c.dead_rows,
        row_file_bytes=c.row_file_bytes,
        compactions=c.compactions,
    )


def ingest_from_proto(r: pb.IngestResponse) -> IngestResult:
    return IngestResult(
        documents_added=r.documents_added,
        documents_replaced=r.documents_replaced,
        documents_unchanged=r.documents_unchanged,
        chunks_written=r.chunks_written,
        chunks_deleted=r.chunks_deleted,
        generation=r.generation,
        timings_us=dict(r.timings_us),
    )


def fetch_from_proto(r: pb.FetchResponse) -> tuple[list[Record], list[str]]:
    records = [
        Record(x.id, x.document_id, np.frombuffer(x.vector, dtype="<f4").copy() if x.vector else None, x.text,
               from_struct(x.metadata))
        for x in r.records
    ]
    return records, list(r.missing)


def documents_from_proto(r: pb.ListDocumentsResponse) -> DocumentPage:
    return DocumentPage(
        [DocumentInfo(d.id, d.chunks, d.content_hash, d.ingested_unix_ms, from_struct(d.metadata))
         for d in r.documents],
        r.next_page_token,
    )


def compact_from_proto(r: pb.CompactResponse) -> CompactResult:
    return CompactResult(r.compacted, r.rows_before, r.rows_after, r.bytes_before, r.bytes_after, r.duration_us,
                         r.generation)


def delete_from_proto(r: pb.DeleteResponse) -> DeleteResult:
    return DeleteResult(r.documents_deleted, r.chunks_deleted, r.generation, tuple(r.missing))


def diagnostics_from_proto(d: pb.SearchDiagnostics) -> SearchDiagnostics:
    return SearchDiagnostics(
        path=pb.SearchPath.Name(d.path).removeprefix("SEARCH_PATH_"),
        candidates_examined=d.candidates_examined,
        oversample=d.oversample,
        timings_us={t.stage: t.micros for t in d.timings},
        total_us=d.total_us,
        mode=pb.SearchMode.Name(d.mode).removeprefix("SEARCH_MODE_"),
        confidence=d.confidence,
        threshold=d.threshold,
        pools=list(d.pools),
        calibrated=d.calibrated,
        milvus_calls=d.milvus_calls,
        tier=d.tier,
        tier_scored=d.tier_scored,
    )


def search_from_proto(r: pb.SearchResponse) -> SearchResult:
    return SearchResult(
        hits=[
            Hit(h.chunk_id, h.document_id, h.score, h.text, from_struct(h.metadata), h.hamming_distance)
            for h in r.hits
        ],
        diagnostics=diagnostics_from_proto(r.diagnostics),
    )


def answer_chunk_from_proto(r: pb.AskResponse) -> AnswerChunk:
    if r.WhichOneof("event") != "summary":
        return AnswerChunk(text=r.delta)
    a = r.summary
    return AnswerChunk(summary=AskSummary(
        answer=a.answer,
        sources=[
            Source(s.number, s.chunk_id, s.document_id, s.score, s.snippet, from_struct(s.metadata))
            for s in a.sources
        ],
        cited=list(a.cited),
        model=a.model,
        generated=a.generated,
        usage=TokenUsage(a.usage.prompt_tokens, a.usage.completion_tokens, a.usage.total_tokens),
        timings=AskTimings(a.timings.retrieval_us, a.timings.first_token_us, a.timings.total_us, a.timings.cache_us),
        cache=pb.CacheStatus.Name(a.cache).removeprefix("CACHE_STATUS_"),
        retrieval=diagnostics_from_proto(a.retrieval) if a.HasField("retrieval") else None,
        error=GenerationFailure(a.error.code, a.error.message, a.error.retry_after_s) if a.HasField("error") else None,
        shared=a.shared,
    ))
