"""Generated requests against a live server (hypothesis over the proto descriptors).

Requests are built as protobuf wire bytes from each RPC's request descriptor, so they can carry
what no SDK would send: invalid UTF-8 in string fields, unknown enum numbers, NaN/inf floats and
float32 vectors full of them, extreme integers, huge strings and repeated fields, Structs nested
past protobuf's recursion limit, deep and huge filters, unknown field numbers, and plain random
bytes as the serialized message. Collection names come from a small pool (existing ones included)
so requests reach the engine, not only name validation.

`Fuzzer.run(rpc, n)` sends n requests through a raw channel (no SDK, no client-side checks) and
fails on the first status that means the server broke: INTERNAL, UNKNOWN, UNAVAILABLE (Milvus
or a backend refused what validation let through), DATA_LOSS, UNIMPLEMENTED. Acknowledged ingests
and compactions are tallied, so a caller can check afterwards that no failed request wrote rows
(float rows == rows written by OK Ingest responses). Used by tests/e2e/test_fuzz.py and bench/fuzz.py.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

import grpc
import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bitrag.v1 import bitrag_pb2 as pb

DIM = 16
SERVICE = pb.DESCRIPTOR.services_by_name["BitragService"]
BAD = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNIMPLEMENTED,
}
# collections the fuzz server holds: `fz_vec` (raw vectors, DIM), `fz_text` (an embedder); create
# and drop churn through CHURN only, so the two stay for every RPC's requests
STABLE = ("fz_vec", "fz_text")
CHURN = ("fz_a", "fz_b")

# ---- wire format -------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message)."""
    return tag(number, 2) + varint(len(payload)) + payload


T = FieldDescriptor
VARINT_TYPES = {T.TYPE_INT32, T.TYPE_INT64, T.TYPE_UINT32, T.TYPE_UINT64, T.TYPE_BOOL, T.TYPE_ENUM}
EXTREME_INTS = [
    0,
    1,
    2,
    7,
    8,
    16,
    20,
    1000,
    1001,
    5000,
    5001,
    16384,
    32768,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**63 - 1,
    -1,
    -(2**31),
    -(2**63),
]
SPECIAL_FLOATS = [
    0.0,
    -0.0,
    0.5,
    1.0,
    1.5,
    -1.0,
    2.0,
    1e-45,
    3.4e38,
    float("nan"),
    float("inf"),
    float("-inf"),
]

ints = st.one_of(st.sampled_from(EXTREME_INTS), st.integers(-(2**63), 2**64 - 1), st.integers(0, 64))
floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(width=32, allow_nan=True, allow_infinity=True))
doubles = st.one_of(st.sampled_from(SPECIAL_FLOATS + [1e308, 2**53 + 1.0]), st.floats(allow_nan=True))
invalid_utf8 = st.sampled_from(
    [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"a\x80b", b"\xf8\x88\x80\x80\x80", b"\x00"]
)
texts = st.one_of(
    st.text(max_size=40).map(str.encode),
    st.tuples(st.text(max_size=10), invalid_utf8, st.text(max_size=10)).map(
        lambda t: t[0].encode() + t[1] + t[2].encode()
    ),
    st.sampled_from([1000, 70000, 300000]).map(lambda n: b"x" * n),
    st.binary(max_size=64),
)
names = st.one_of(
    st.sampled_from([*STABLE, *CHURN, "", "fz_missing", "9bad", "a" * 64, "x-y", "fz_vec\n"]).map(str.encode),
    texts,
)
churn_names = st.one_of(st.sampled_from([*CHURN, "", "fz_c", "9bad", "a" * 64]).map(str.encode), texts)


def _vector(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


vectors = st.one_of(
    st.lists(floats, min_size=DIM, max_size=DIM).map(_vector),
    st.lists(st.floats(-1, 1, width=32), min_size=DIM, max_size=DIM).map(_vector),
    st.just(_vector([0.0] * DIM)),
    st.lists(floats, max_size=40).map(_vector),
    st.binary(max_size=80),
    st.sampled_from([3, 1 << 16, 1 << 18]).map(lambda n: b"\x00\x00\x80\x3f" * (n // 4) + b"\x01" * (n % 4)),
)
atoms = st.one_of(
    st.sampled_from(
        ["document_id", "year", "doc", "tenant", "x", "_", "a.b", "row", "code", "__import__", "len"]
    ),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=8).map(lambda t: repr(t)),
    st.sampled_from(["True", "False", "None", "[]", "[1, 'a']", "{}"]),
)
ops = st.sampled_from(
    [
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not in",
        "and",
        "or",
        "+",
        "**",
        "(",
        ")",
        ",",
        "[",
        "]",
        "not",
        "lambda",
        ":",
        ";",
        "'",
        '"',
        "\\",
        "#",
        "json_contains",
    ]
)


@st.composite
def filters(draw: Any) -> bytes:
    kind = draw(st.integers(0, 6))
    if kind == 0:  # a well-formed comparison chain
        n = draw(st.integers(1, 6))
        parts = [
            f"{draw(atoms)} {draw(st.sampled_from(['==', '!=', '<', '>=', 'in']))} {draw(atoms)}"
            for _ in range(n)
        ]
        return " and ".join(parts).encode()
    if kind == 1:  # deep nesting
        d = draw(st.sampled_from([10, 99, 100, 101, 500, 5000, 50000]))
        inner = draw(st.sampled_from(["x == 1", "not x", "-1", "[1]"]))
        op = draw(st.sampled_from(["(", "not (", "[", "-("]))
        close = {"(": ")", "not (": ")", "[": "]", "-(": ")"}[op]
        return (op * d + inner + close * d).encode()
    if kind == 2:  # huge lists
        n = draw(st.sampled_from([1000, 20000, 200000]))
        return ("doc in [" + ",".join(str(i) for i in range(n)) + "]").encode()
    if kind == 3:  # long chains
        n = draw(st.sampled_from([100, 1000, 10000]))
        return " or ".join(f"x == {i}" for i in range(n)).encode()
    if kind == 4:  # token soup
        return " ".join(draw(st.lists(st.one_of(atoms, ops), max_size=30))).encode()
    return draw(texts)


@st.composite
def structs(draw: Any, depth: int = 0) -> bytes:
    """google.protobuf.Struct wire bytes: wide, deep (past the recursion limit), odd values."""
    kind = draw(st.integers(0, 4))
    if kind == 0 and depth == 0:  # deep: Value{struct_value: Struct{"k": ...}} nested d times
        d = draw(st.sampled_from([5, 50, 99, 100, 101, 200, 1000]))
        v = tag(2, 1) + struct.pack("<d", 1.0)  # Value{number_value: 1.0}
        for _ in range(d):
            entry = ld(1, b"k") + ld(2, v)
            v = ld(5, ld(1, entry))
        return ld(1, ld(1, b"k") + ld(2, v))
    out = b""
    for _ in range(draw(st.integers(0, 4 if depth else 8))):
        key = draw(st.one_of(st.sampled_from([b"doc", b"year", b"tenant", b"", b"a.b", b"__x"]), texts))
        which = draw(st.integers(0, 6))
        if which == 0:
            value = tag(1, 0) + varint(draw(st.integers(-1, 5)))  # null_value, incl. unknown numbers
        elif which == 1:
            value = tag(2, 1) + struct.pack("<d", draw(doubles))
        elif which == 2:
            value = ld(3, draw(texts))
        elif which == 3:
            value = tag(4, 0) + varint(draw(st.integers(0, 3)))
        elif which == 4 and depth < 3:
            value = ld(5, draw(structs(depth + 1)))
        elif which == 5 and depth < 3:
            value = ld(
                6,
                b"".join(
                    ld(1, tag(2, 1) + struct.pack("<d", draw(doubles)))
                    for _ in range(draw(st.sampled_from([0, 1, 3, 1000])))
                ),
            )
        else:
            value = b""
        out += ld(1, ld(1, key) + ld(2, value))
    return out


PLAUSIBLE_INTS = {
    "dimension": [0, 8, DIM, 64, 12],
    "top_k": [1, 3, 10, 0, 1001],
    "chunk_size": [0, 64, 128, 15],
    "chunk_overlap": [0, 8, 200],
    "samples": [0, 20, 30, 19],
    "oversample": [0, 1, 4, 65],
    "default_oversample": [0, 2, 4],
    "num_partitions": [0],
    "max_tokens": [0, 16],
    "widen_max_rows": [0, 100],
    "force": [0, 0, 0, 1],
}
PLAUSIBLE_STRINGS = {
    "embedder": ["", "none", "openai"],
    "fallback": ["widen", "exact"],
    "type": ["", "BIN_FLAT"],
    "consistency_level": ["", "Session", "Strong"],
    "partition_key": [""],
    "model": [""],
    "fallback_collection": [""],
    "fallback_vector_field": [""],
}
# Compact (and Calibrate) of a real collection costs a new Milvus collection (a fit): their
# plausible requests name the stable collections less often
POOLS = {
    "Compact": [*STABLE, *CHURN, "fz_missing", "fz_missing"],
    "Calibrate": [*STABLE, *CHURN, "fz_missing"],
}


def _plausible(f: FieldDescriptor, depth: int, pool: list[str]) -> st.SearchStrategy[bytes] | None:
    """A value a careless but honest client might send: valid UTF-8, known enums, small numbers,
    vectors of the collections' dimension, well-formed filters. Requests made of these get past
    validation and exercise the engine (None: no plausible form, use the wild one)."""
    n = f.number
    if f.type == T.TYPE_ENUM:
        return st.sampled_from([v.number for v in f.enum_type.values]).map(lambda v: tag(n, 0) + varint(v))
    if f.name in PLAUSIBLE_INTS:
        return st.sampled_from(PLAUSIBLE_INTS[f.name]).map(lambda v: tag(n, 0) + varint(v))
    if f.type in VARINT_TYPES:
        return st.integers(0, 40).map(lambda v: tag(n, 0) + varint(v))
    if f.type == T.TYPE_FLOAT:
        return st.floats(0, 1, width=32).map(lambda v: tag(n, 5) + struct.pack("<f", v))
    if f.type == T.TYPE_BYTES:
        return st.lists(st.floats(-1, 1, width=32), min_size=DIM, max_size=DIM).map(
            lambda v: ld(n, _vector(v))
        )
    if f.type == T.TYPE_STRING:
        if f.name in ("collection", "name"):
            return st.sampled_from(pool).map(lambda v: ld(n, v.encode()))
        if f.name == "filter":
            return st.one_of(
                st.just(b""),
                st.sampled_from(
                    [
                        "doc >= 3",
                        "year in [2001, 2003]",
                        'document_id == "d1"',
                        "not (doc < 10) and year != 2002",
                        'x == "y"',
                    ]
                ).map(str.encode),
            ).map(lambda v: ld(n, v))
        if f.name in PLAUSIBLE_STRINGS:
            return st.sampled_from(PLAUSIBLE_STRINGS[f.name]).map(lambda v: ld(n, v.encode()))
        return st.text(min_size=1, max_size=200).map(lambda v: ld(n, v.encode()))
    if f.type == T.TYPE_MESSAGE and f.message_type.full_name == "google.protobuf.Struct":
        return st.dictionaries(
            st.sampled_from(["doc", "year", "tenant", "k"]),
            st.one_of(st.integers(0, 10), st.text(max_size=10)),
            max_size=3,
        ).map(lambda d: ld(n, _struct_pb(d)))
    return None


def _struct_pb(d: dict[str, Any]) -> bytes:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(d)
    return s.SerializeToString()


def _field_strategy(
    f: FieldDescriptor, depth: int, plausible: bool = False, pool: list[str] | None = None
) -> st.SearchStrategy[bytes]:
    """One field's occurrence (tag + value) as wire bytes."""
    n = f.number
    if plausible and (p := _plausible(f, depth, pool or [*STABLE, *STABLE, *CHURN])) is not None:
        return p
    if f.type in VARINT_TYPES:
        if f.type == T.TYPE_ENUM:
            nums = [v.number for v in f.enum_type.values]
            return st.one_of(st.sampled_from(nums), st.integers(-5, 2**31 - 1)).map(
                lambda v: tag(n, 0) + varint(v)
            )
        if f.type == T.TYPE_BOOL:
            return st.integers(0, 3).map(lambda v: tag(n, 0) + varint(v))
        return ints.map(lambda v: tag(n, 0) + varint(v))
    if f.type == T.TYPE_FLOAT:
        return floats.map(lambda v: tag(n, 5) + struct.pack("<f", v))
    if f.type == T.TYPE_DOUBLE:
        return doubles.map(lambda v: tag(n, 1) + struct.pack("<d", v))
    if f.type == T.TYPE_BYTES:
        return vectors.map(lambda v: ld(n, v))
    if f.type == T.TYPE_STRING:
        if f.name in ("collection", "name"):
            return names.map(lambda v: ld(n, v))
        if f.name == "filter":
            return filters().map(lambda v: ld(n, v))
        if f.name in ("embedder",):
            return st.one_of(
                st.sampled_from([b"", b"none", b"openai", b"openai:loopback", b"bogus:x"]), texts
            ).map(lambda v: ld(n, v))
        if f.name == "fallback":
            return st.one_of(st.sampled_from([b"widen", b"exact", b"collection", b""]), texts).map(
                lambda v: ld(n, v)
            )
        return texts.map(lambda v: ld(n, v))
    if f.type == T.TYPE_MESSAGE:
        if f.message_type.full_name == "google.protobuf.Struct":
            return structs().map(lambda v: ld(n, v))
        if depth <= 0:
            return st.just(ld(n, b""))
        return message(f.message_type, depth - 1, plausible, pool).map(lambda v: ld(n, v))
    return st.binary(max_size=16).map(lambda v: ld(n, v))


@st.composite
def message(
    draw: Any, desc: Descriptor, depth: int = 3, plausible: bool | None = None, pool: list[str] | None = None
) -> bytes:
    """A message's wire bytes: each field present or not; a plausible message (60%) has honest
    values, a wild one anything the wire format can carry."""
    if plausible is None:
        plausible = draw(st.integers(0, 9)) < 6
    out = b""
    for f in desc.fields:
        if draw(st.integers(0, 19)) >= (18 if plausible else 10):  # present: 90% plausible, 50% wild
            continue
        if f.is_repeated:
            count = draw(st.one_of(st.integers(1, 4), st.sampled_from([0, 50])))
            strat = _field_strategy(f, depth, plausible, pool)
            out += b"".join(draw(strat) for _ in range(min(count, 4))) * max(1, count // 4)
        else:
            out += draw(_field_strategy(f, depth, plausible, pool))
    if not plausible and draw(st.integers(0, 15)) == 0:  # an unknown field number
        out += tag(draw(st.integers(200, 2**29 - 1)), 0) + varint(draw(ints))
    return out


def requests(method_name: str) -> st.SearchStrategy[bytes]:
    desc = SERVICE.methods_by_name[method_name].input_type
    structured = message(desc, pool=POOLS.get(method_name))
    if method_name in ("CreateCollection", "DropCollection"):  # names from the churn pool only
        structured = st.tuples(message(desc), churn_names).map(lambda t: t[0] + ld(1, t[1]))
    return st.one_of(structured, structured, structured, st.binary(max_size=256))


# ---- running -----------------------------------------------------------------------------------


class Fuzzer:
    def __init__(self, target: str, *, timeout_s: float = 60.0) -> None:
        self.channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", 256 << 20),
                ("grpc.max_receive_message_length", 256 << 20),
            ],
        )
        self.timeout_s = timeout_s
        self.sent: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = {}
        # float rows expected in STABLE collections from acknowledged writes (see module docstring)
        self.expected_rows: dict[str, int] = {}

    def close(self) -> None:
        self.channel.close()

    def send(self, method_name: str, raw: bytes) -> grpc.StatusCode:
        path = f"/{SERVICE.full_name}/{method_name}"
        m = SERVICE.methods_by_name[method_name]
        code = grpc.StatusCode.OK
        response = b""
        try:
            if m.server_streaming:
                call = self.channel.unary_stream(path, request_serializer=None, response_deserializer=None)
                for _response in call(raw, timeout=self.timeout_s):
                    pass
            else:
                call = self.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
                response = call(raw, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            code = exc.code()
            if code in BAD:
                raise AssertionError(
                    f"{method_name}: {code.name}: {exc.details()}; request[:300]={raw[:300]!r}"
                ) from None
        self.sent[method_name] += 1
        self.statuses.setdefault(method_name, Counter())[code.name] += 1
        if code == grpc.StatusCode.OK and method_name in ("Ingest", "Compact"):
            self._tally(method_name, raw, response)
        return code

    def _tally(self, method_name: str, raw: bytes, response: bytes) -> None:
        if method_name == "Ingest":
            req, resp = pb.IngestRequest.FromString(raw), pb.IngestResponse.FromString(response)
            if req.collection in self.expected_rows:
                self.expected_rows[req.collection] += resp.chunks_written
        else:
            req2, resp2 = pb.CompactRequest.FromString(raw), pb.CompactResponse.FromString(response)
            if req2.collection in self.expected_rows and resp2.compacted:
                self.expected_rows[req2.collection] = resp2.rows_after

    def run(self, method_name: str, n: int, *, seed: int | None = None) -> int:
        """Send `n` generated requests to `method_name`; returns how many were sent."""
        before = self.sent[method_name]

        @settings(
            max_examples=n,
            deadline=None,
            phases=[Phase.generate],
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=seed is not None,
        )
        @given(requests(method_name))
        def one(raw: bytes) -> None:
            self.send(method_name, raw)

        one()
        return self.sent[method_name] - before


def methods() -> list[str]:
    return [m.name for m in SERVICE.methods]


# ---- a fuzz session: the server, its collections, the checks after -------------------------------


def fuzz_env(embed: Any) -> dict[str, str]:  # embed: embed_server.EmbedServer
    """A server for fuzzing: raw-vector default, an OpenAI-compatible loopback embedder, no cache,
    no background calibration or compaction, a queue that never refuses the (sequential) fuzzer."""
    return {
        **embed.server_env(),
        "BITRAG_EMBEDDER": "none",
        "BITRAG_REDIS_URL": "",
        "BITRAG_CALIBRATION_QUERY_RATE": "0",
        "BITRAG_CALIBRATION_MIN_ROWS": "1000000",
        "BITRAG_COMPACT_DEAD_SHARE": "0",
        "BITRAG_MAX_QUEUED_RPCS": "100000",
    }


def start_session(data: Any, embed: Any) -> tuple[Any, Fuzzer]:
    """`bitrag serve` for fuzzing with the STABLE collections seeded; (server, fuzzer)."""
    import bitrag
    from servers import ServerProc

    sp = ServerProc(data, env=fuzz_env(embed)).start()
    with sp.client() as c:
        c.create_collection("fz_vec", embedder="none", dimension=DIM)
        v = np.random.default_rng(0).standard_normal((40, DIM)).astype(np.float32)
        c.ingest_vectors(
            "fz_vec",
            v,
            document_ids=[f"d{i // 2}" for i in range(40)],
            metadata=[{"doc": i, "year": 2000 + i % 5} for i in range(40)],
        )
        c.create_collection("fz_text", embedder="openai")
        c.ingest_documents(
            "fz_text", [bitrag.Document(f"t{i}", f"Document {i} about binary codes.") for i in range(5)]
        )
        fz = Fuzzer(sp.target)
        fz.expected_rows = {n: c.describe_collection(n).float_rows for n in STABLE}
    return sp, fz


def after_checks(sp: Any, fz: Fuzzer) -> dict[str, Any]:
    """What must hold once the fuzzing is over: the process alive, SERVING, float rows equal to the
    rows of acknowledged ingests (no partial write), both collections still searchable."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    alive = sp.proc is not None and sp.proc.poll() is None
    with grpc.insecure_channel(sp.target) as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10).status
    with sp.client() as c:
        rows = {n: (c.describe_collection(n).float_rows, fz.expected_rows[n]) for n in STABLE}
        hits = {
            n: len(c.search(n, np.ones(DIM if n == "fz_vec" else 64), top_k=3, mode="EXACT").hits)
            for n in STABLE
        }
    return {
        "alive": alive,
        "health": health_pb2.HealthCheckResponse.ServingStatus.Name(status),
        "float_rows_vs_acknowledged": rows,
        "search_hits": hits,
    }
