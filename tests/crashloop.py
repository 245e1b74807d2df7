"""A crash loop (after Qdrant's crasher): `bitrag serve` is SIGKILLed at random moments while
clients write every kind of write and another searches; after each kill the files are checked
against Milvus with the server down, and after each restart every acknowledged document is
checked present exactly once and searchable, and every write in flight at the kill wholly applied
or wholly absent. Used by tests/e2e/test_crash_loop.py (CI) and bench/crash_loop.py (long run).

Writers, each on its own client:
  vectors    Ingest of pre-embedded multi-chunk documents (1-3 per request): new, replaced, deleted
  documents  Ingest of text documents (split and embedded by the server through an OpenAI-
             compatible loopback endpoint): new, replaced with new text, deleted
  dropper    create a collection, fill it, drop it, again
  compactor  compacts the vector collection now and then (so kills also land inside compactions)
and a searcher (vector and text searches, AUTO and EXACT) that may see only UNAVAILABLE.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np

import bitrag
from bitrag_server.domain import DocumentIn
from bitrag_server.ingest import split_document
from embed_server import EmbedServer
from integrity import Docs, check_documents, check_files_agree, doc_vectors
from servers import ServerProc

VDIM = 32
CHUNK = 32  # tokens per chunk of the text documents: most split in 2-4 chunks
WORDS = (
    "binary codes live in ram while float rows stay on disk and rescoring brings precision back "
    "milvus holds hamming candidates the gate decides confidence fallback scans every row"
).split()


def text_of(doc: str, version: int) -> str:
    rng = random.Random(f"{doc}/{version}")
    sentences = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
        for _ in range(rng.randint(2, 7))
    ]
    return f"{doc} version {version}. " + " ".join(sentences)


def text_chunks(doc: str, text: str) -> dict[str, str]:
    """chunk id -> text, as the server splits it (the server's own splitter)."""
    return {ch.chunk_id: ch.text for ch in split_document(DocumentIn(doc, text, {}), CHUNK, CHUNK // 4)}


@dataclass
class Stats:
    kills: int = 0
    restart_s: list[float] = field(default_factory=list)
    acked_writes: int = 0
    in_flight_at_kill: int = 0
    applied_in_flight: int = 0  # of those, found wholly applied after the restart
    chunks_checked: int = 0
    rows_checked_offline: int = 0
    searches: int = 0
    compactions: int = 0
    writes_completed_at_open: int = 0  # a journal rolled forward (recovery.py)
    compactions_finished_at_open: int = 0
    compactions_rolled_back_at_open: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)  # failures other than UNAVAILABLE

    def summary(self) -> dict[str, Any]:
        r = sorted(self.restart_s)
        return {
            "kills": self.kills,
            "acknowledged_writes": self.acked_writes,
            "writes_in_flight_at_a_kill": self.in_flight_at_kill,
            "of_which_applied": self.applied_in_flight,
            "chunks_checked_after_restarts": self.chunks_checked,
            "rows_checked_offline": self.rows_checked_offline,
            "searches": self.searches,
            "compactions": self.compactions,
            "writes_completed_at_open": self.writes_completed_at_open,
            "compactions_finished_at_open": self.compactions_finished_at_open,
            "compactions_rolled_back_at_open": self.compactions_rolled_back_at_open,
            "errors_by_status": dict(self.errors),
            "unexpected_failures": self.bad[:20],
            "restart_s_p50": statistics.median(r) if r else 0.0,
            "restart_s_max": max(r) if r else 0.0,
        }


class CrashLoop:
    def __init__(
        self,
        data: Path,
        embed: EmbedServer,
        *,
        kills: int,
        max_run_s: float = 1.5,
        seed: int = 0,
        max_docs: int = 40,
        log: Callable[[str], None] = lambda s: None,
    ) -> None:
        self.data = data
        self.embed = embed
        self.kills = kills
        self.max_run_s = max_run_s
        self.rng = random.Random(seed)
        self.max_docs = max_docs
        self.log = log
        self.stats = Stats()
        self.up = threading.Event()
        self.stop = threading.Event()
        self.gate = threading.Lock()
        self.busy: dict[str, bool] = {}
        self.target = ""
        self.lock = threading.Lock()
        # acknowledged state and writes in flight: doc -> version (vectors), doc -> text (documents);
        # None = deleted; maybe: doc -> the versions it may be in after a kill
        self.vec: dict[str, int | None] = {}
        self.vec_maybe: dict[str, list[int | None]] = {}
        self.txt: dict[str, int | None] = {}
        self.txt_maybe: dict[str, list[int | None]] = {}
        self.tmp: dict[str, int | None] = {}  # name -> docs in it, None = dropped
        self.tmp_maybe: dict[str, list[int | None]] = {}
        self.sp: ServerProc | None = None

    # ---- server -----------------------------------------------------------------------------

    def _start(self) -> None:
        t0 = time.monotonic()
        self.sp = ServerProc(
            self.data, env={**self.embed.server_env(), "BITRAG_CALIBRATION_MIN_ROWS": "1000000"}
        )
        self.sp.start()
        self.stats.restart_s.append(time.monotonic() - t0)
        out = self.sp.text()  # what the start found (recovery.py, compact.py log it)
        self.stats.writes_completed_at_open += out.count("completed an interrupted ingest") + out.count(
            "completed an interrupted delete"
        )
        self.stats.compactions_finished_at_open += out.count("completed an interrupted compaction")
        self.stats.compactions_rolled_back_at_open += out.count("rolled back an interrupted compaction")
        self.target = self.sp.target
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(self.target) as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING

    def client(self) -> bitrag.Client:
        return bitrag.Client(self.target, timeout=30)

    # ---- workers ----------------------------------------------------------------------------

    def _worker(self, name: str, op: Callable[[random.Random], None]) -> None:
        rng = random.Random(f"{name}/{self.rng.random()}")
        self.busy[name] = False
        while not self.stop.is_set():
            if not self.up.wait(0.05):
                continue
            with self.gate:
                if not self.up.is_set():
                    continue
                self.busy[name] = True
            try:
                op(rng)
            except bitrag.UnavailableError:
                self.stats.errors["UNAVAILABLE"] = self.stats.errors.get("UNAVAILABLE", 0) + 1
                time.sleep(0.02)
            except bitrag.BitragError as exc:
                self.stats.errors[exc.code.name] = self.stats.errors.get(exc.code.name, 0) + 1
                if exc.code == grpc.StatusCode.CANCELLED and not self.up.is_set():
                    continue  # the call met the server's death in gRPC core
                self.stats.bad.append(f"{name}: {exc.code.name}: {exc.message}")
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.stats.bad.append(f"{name}: {type(exc).__name__}: {exc}")
            finally:
                self.busy[name] = False

    def _write(self, state: dict, maybe: dict, docs: dict[str, int | None], call: Callable[[], None]) -> None:
        """Mark `docs` (doc -> new version) in flight, call, then acknowledge."""
        with self.lock:
            for d, v in docs.items():
                maybe[d] = [state.get(d), v]
        call()
        with self.lock:
            for d, v in docs.items():
                state[d] = v
                maybe.pop(d, None)
            self.stats.acked_writes += 1

    def _vectors(self, rng: random.Random) -> None:
        with self.client() as c:
            pick = rng.sample(range(self.max_docs), rng.randint(1, 3))
            docs = {
                f"v{i}": None
                if (self.vec.get(f"v{i}") is not None and rng.random() < 0.25)
                else (self.vec.get(f"v{i}") or 0) + 1
                for i in pick
            }
            gone = [d for d, v in docs.items() if v is None]
            put = {d: v for d, v in docs.items() if v is not None}
            if gone:
                self._write(self.vec, self.vec_maybe, dict.fromkeys(gone), lambda: c.delete("vecs", gone))
            if put:
                vecs = {d: self._vec_version(d, v) for d, v in put.items()}
                ids = [cid for d in put for cid in vecs[d]]
                doc_ids = [d for d in put for _ in vecs[d]]
                arr = np.stack([v for d in put for v in vecs[d].values()])
                self._write(
                    self.vec,
                    self.vec_maybe,
                    put,
                    lambda: c.ingest_vectors(
                        "vecs", arr, ids=ids, document_ids=doc_ids, texts=[f"text of {i}" for i in ids]
                    ),
                )

    @staticmethod
    def _vec_version(doc: str, v: int) -> dict[str, np.ndarray]:
        return doc_vectors(doc, v, 1 + v % 3, VDIM)

    def _documents(self, rng: random.Random) -> None:
        with self.client() as c:
            i = rng.randrange(self.max_docs // 2)
            d = f"t{i}"
            cur = self.txt.get(d)
            if cur is not None and rng.random() < 0.2:
                self._write(self.txt, self.txt_maybe, {d: None}, lambda: c.delete("docs", [d]))
                return
            v = (cur or 0) + 1
            self._write(
                self.txt,
                self.txt_maybe,
                {d: v},
                lambda: c.ingest_documents(
                    "docs", [bitrag.Document(d, text_of(d, v))], chunk_size=CHUNK, chunk_overlap=CHUNK // 4
                ),
            )

    def _dropper(self, rng: random.Random) -> None:
        with self.client() as c:
            live = [n for n, v in self.tmp.items() if v is not None and n not in self.tmp_maybe]
            if live:
                name = live[0]
                self._write(self.tmp, self.tmp_maybe, {name: None}, lambda: c.drop_collection(name))
                return
            name = f"tmp{len(self.tmp)}"
            with self.lock:
                self.tmp_maybe[name] = [None, 0]
            c.create_collection(name, embedder="none", dimension=VDIM)
            with self.lock:
                self.tmp[name] = 0
                self.tmp_maybe.pop(name)
            docs = {f"x{j}": doc_vectors(f"x{j}", 0, 2, VDIM) for j in range(4)}
            arr = np.stack([v for ch in docs.values() for v in ch.values()])
            ids = [cid for ch in docs.values() for cid in ch]
            self._write(
                self.tmp,
                self.tmp_maybe,
                {name: 4},
                lambda: c.ingest_vectors(
                    name,
                    arr,
                    ids=ids,
                    document_ids=[i.split("#")[0] for i in ids],
                    texts=[f"text of {i}" for i in ids],
                ),
            )

    def _compact(self, rng: random.Random) -> None:
        time.sleep(rng.uniform(0.2, 1.0))
        if self.up.is_set():
            with self.client() as c:
                if c.compact("vecs", force=rng.random() < 0.5).compacted:  # force: even with no dead row
                    self.stats.compactions += 1

    def _search(self, rng: random.Random) -> None:
        with self.client() as c:
            for _ in range(5):
                if rng.random() < 0.5:
                    c.search(
                        "vecs",
                        np.random.default_rng(rng.randrange(1 << 30)).standard_normal(VDIM),
                        top_k=5,
                        mode=rng.choice(["AUTO", "EXACT"]),
                    )
                else:
                    c.search("docs", text_of("t0", 1)[:60], top_k=3)
                self.stats.searches += 1

    # ---- checks -----------------------------------------------------------------------------

    def _check_offline(self) -> None:
        for coll in ("vecs", "docs"):
            rows, _ = check_files_agree(self.data, coll)
            self.stats.rows_checked_offline += rows

    def _check_online(self) -> None:
        with self.client() as c:
            self._check_vectors(c, "vecs", self.vec, self.vec_maybe)
            self._check_texts(c)
            names = {x.name for x in c.list_collections()}
            for name in sorted(set(self.tmp) | set(self.tmp_maybe)):
                options = self.tmp_maybe.pop(name, None)
                if options is not None:
                    self.stats.in_flight_at_kill += 1
                    present = name in names
                    filled = present and c.describe_collection(name).rows > 0
                    found = (4 if filled else 0) if present else None
                    assert found in options or (present and options == [None, 0]), (name, options, found)
                    self.stats.applied_in_flight += found == options[-1]
                    self.tmp[name] = found
                want = self.tmp[name]
                assert (name in names) == (want is not None), (name, want, names)
                if want:
                    docs = {f"x{j}": doc_vectors(f"x{j}", 0, 2, VDIM) for j in range(4)}
                    self.stats.chunks_checked += check_documents(c, name, docs)

    def _check_vectors(self, c: bitrag.Client, coll: str, state: dict, maybe: dict) -> None:
        expect: Docs = {d: self._vec_version(d, v) if v else {} for d, v in state.items() if d not in maybe}
        options = {d: [self._vec_version(d, v) if v else {} for v in vs] for d, vs in maybe.items()}
        resolved: dict[str, dict[str, np.ndarray]] = {}
        self.stats.chunks_checked += check_documents(c, coll, expect, options, resolved)
        for d, vs in maybe.items():
            got = resolved[d]
            ver = next(
                v
                for v in vs
                if (self._vec_version(d, v) if v else {}).keys() == got.keys()
                and (not got or all(np.array_equal(self._vec_version(d, v)[k], got[k]) for k in got))
            )
            state[d] = ver
            self.stats.in_flight_at_kill += 1
            self.stats.applied_in_flight += ver == vs[-1]
        maybe.clear()

    def _check_texts(self, c: bitrag.Client) -> None:
        for d in sorted(set(self.txt) | set(self.txt_maybe)):
            options = self.txt_maybe.get(d, [self.txt.get(d)])
            res = c.search("docs", "probe", top_k=1000, filter=f'document_id == "{d}"', mode="EXACT")
            got = {h.chunk_id: h.text for h in res.hits}
            assert len(got) == len(res.hits), f"{d}: duplicated chunks"
            match = [v for v in options if (text_chunks(d, text_of(d, v)) if v else {}) == got]
            assert match, f"{d}: chunks {sorted(got)} are no acknowledged or in-flight version {options}"
            for cid, text in got.items():  # searchable by its own text
                hit = c.search("docs", text, top_k=1, mode="EXACT").hits[0]
                assert hit.chunk_id == cid and abs(hit.score - 1) < 1e-4, (cid, hit.chunk_id, hit.score)
                self.stats.chunks_checked += 1
            if d in self.txt_maybe:
                self.stats.in_flight_at_kill += 1
                self.stats.applied_in_flight += match[0] == options[-1]
                self.txt_maybe.pop(d)
            self.txt[d] = match[0]

    # ---- the loop ---------------------------------------------------------------------------

    def run(self) -> Stats:
        self._start()
        with self.client() as c:
            c.create_collection("vecs", embedder="none", dimension=VDIM)
            c.create_collection("docs", embedder="openai")
        workers = [
            threading.Thread(target=self._worker, args=(n, f), daemon=True)
            for n, f in (
                ("vectors", self._vectors),
                ("documents", self._documents),
                ("dropper", self._dropper),
                ("compactor", self._compact),
                ("searcher", self._search),
            )
        ]
        for t in workers:
            t.start()
        self.up.set()
        try:
            for k in range(self.kills):
                # the kill comes at a random moment once the writers are going again (the first
                # writes after a start also load the splitter, the embedding client, Milvus' data)
                acked, deadline = self.stats.acked_writes, time.monotonic() + 60
                while self.stats.acked_writes < acked + 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(self.rng.uniform(0.0, self.max_run_s))
                with self.gate:
                    self.up.clear()
                assert self.sp is not None and self.sp.proc is not None
                self.sp.proc.kill()  # SIGKILL
                self.sp.proc.wait(30)
                self.stats.kills += 1
                deadline = time.monotonic() + 60
                while any(self.busy.values()):
                    assert time.monotonic() < deadline, f"workers stuck: {self.busy}"
                    time.sleep(0.01)
                self.sp.stop()
                self._check_offline()
                self._start()
                self._check_online()
                self.log(
                    f"kill {k + 1}/{self.kills}: {self.stats.acked_writes} writes acknowledged, "
                    f"{self.stats.chunks_checked} chunks checked"
                )
                self.up.set()
            time.sleep(self.max_run_s)
            with self.gate:
                self.up.clear()
            while any(self.busy.values()):
                time.sleep(0.01)
            self._check_online()
        finally:
            self.stop.set()
            self.up.set()
            for t in workers:
                t.join(30)
            if self.sp is not None:
                self.sp.stop()
        # one restart more (its sweep finishes what the last kill interrupted), then: every Milvus
        # collection belongs to a collection of the catalog (no orphan from a killed create, drop
        # or compaction)
        self._start()
        assert self.sp is not None
        self.sp.stop()
        _, milvus = check_files_agree(self.data, "vecs")
        catalog = self.data / "collections"
        owned = {json.loads((p / "collection.json").read_text())["milvus_collection"]
                 for p in catalog.iterdir() if (p / "collection.json").is_file()}
        assert set(milvus) == owned, (sorted(set(milvus) - owned), sorted(owned - set(milvus)))
        return self.stats
