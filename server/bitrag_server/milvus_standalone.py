"""A Milvus standalone server from the PyPI package `milvus` (2.3.x), started by the benchmarks
themselves: every port chosen by the kernel (the package's own port probing collides with other
Milvus instances on the machine, and its embedded etcd keeps fixed ports), etcd configured through
its own file, a start whose log shows a bind failure retried on new ports.

The same recipe as the test suite's `_start_milvus` (tests/conftest.py), plus what a benchmark
needs: a persistent base directory (a 10M run resumes on the data it already has), the process for
memory readings, and a readiness check through pymilvus."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 180.0
ATTEMPTS = 3


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago (all held open while choosing)."""
    socks = []
    try:
        for _ in range(n):
            sk = socket.socket()
            sk.bind(("127.0.0.1", 0))
            socks.append(sk)
        return [sk.getsockname()[1] for sk in socks]
    finally:
        for sk in socks:
            sk.close()


class MilvusStandalone:
    """`with MilvusStandalone(base_dir) as m: m.uri, m.pid`. Data lives in `base_dir/server`, so a
    second start on the same directory finds the collections of the first."""

    def __init__(self, base_dir: str | Path, *, start_timeout_s: float = START_TIMEOUT_S,
                 extra_config: dict[str, object] | None = None, mmap: bool = False) -> None:
        """`mmap`: query nodes map sealed segments' raw columns from `base_dir/mmap` instead of
        holding them in memory (`queryNode.mmapDirPath`; the index itself stays in memory)."""
        self.base = Path(base_dir).resolve()
        self.start_timeout_s = start_timeout_s
        self.extra_config = dict(extra_config or {})
        self.mmap = mmap
        self.server = None
        self.uri = ""

    @property
    def pid(self) -> int:
        proc = getattr(self.server, "server_proc", None)
        return int(proc.pid) if proc is not None else 0

    def _start_once(self):
        from milvus import MilvusServer

        self.base.mkdir(parents=True, exist_ok=True)
        s = MilvusServer(wait_for_started=False)
        keys = [k for k in s.config.configurable_items if k.endswith("_port") and k != "etcd_port"]
        peer, etcd_client, web, *free = free_ports(3 + len(keys))
        etcd_yaml = self.base / "etcd.yaml"
        etcd_yaml.write_text(
            "name: default\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\n"
            f"listen-client-urls: http://127.0.0.1:{etcd_client}\n"
            f"advertise-client-urls: http://127.0.0.1:{etcd_client}\n"
        )
        s.config.update(etcd_port=etcd_client, **dict(zip(keys, free)))
        for key, value in self.extra_config.items():  # dotted Milvus config keys, e.g. dataCoord.segment.maxSize
            s.config.set(key, value)
        s.webservice_port = web  # METRICS_PORT: /healthz
        anchor = "  use:\n    embed: true"
        if anchor not in s.config.template_text:
            raise RuntimeError("the milvus package's config template changed: update bitrag_server/milvus_standalone.py")
        s.config.template_text = s.config.template_text.replace(
            anchor, f"  config:\n    path: {etcd_yaml}\n{anchor}", 1
        )
        if self.mmap:  # not a key of the package's template: added to its text
            qn = "queryNode:\n  dataSync:"
            if qn not in s.config.template_text:
                raise RuntimeError("the milvus package's config template changed: update milvus_standalone.py (mmap)")
            (self.base / "mmap").mkdir(parents=True, exist_ok=True)
            s.config.template_text = s.config.template_text.replace(
                qn, f"queryNode:\n  mmapDirPath: {self.base / 'mmap'}\n  dataSync:", 1)
        s.set_base_dir(str(self.base / "server"))
        s.start()
        log = self.base / "server" / "logs" / "milvus-stdout.log"
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                s.wait_started(timeout=2000)  # milliseconds; returns once /healthz says OK
                return s
            except TimeoutError:
                pass
            text = log.read_text(errors="replace") if log.exists() else ""
            exited = s.server_proc is None or s.server_proc.poll() is not None
            if exited or "address already in use" in text or time.monotonic() > deadline:
                s.stop()
                raise RuntimeError(f"Milvus standalone did not start (exited={exited}); log tail:\n{text[-3000:]}")

    def start(self) -> MilvusStandalone:
        from pymilvus import MilvusClient

        errors: list[str] = []
        for _ in range(ATTEMPTS):
            try:
                s = self._start_once()
            except RuntimeError as exc:  # a port taken between choosing and binding: new ports
                errors.append(str(exc))
                continue
            self.server = s
            self.uri = f"http://127.0.0.1:{s.listen_port}"
            if not (self.extra_config.get("tls_mode") or self.extra_config.get("authorization_enabled")):
                probe = MilvusClient(uri=self.uri)  # TLS / auth need credentials: the caller probes
                probe.list_collections()
                probe.close()
            return self
        raise RuntimeError("Milvus standalone failed to start:\n" + "\n\n".join(errors))

    def stop(self) -> None:
        if self.server is not None:
            proc = self.server.server_proc
            if proc is not None and proc.poll() is None:
                # MilvusServer.stop() kills after 1 s; a graceful stop flushes (needed to resume)
                proc.terminate()
                try:
                    proc.wait(10)
                except Exception:  # noqa: BLE001 - fall through to the package's kill
                    print("milvus: no exit 10 s after SIGTERM; killing", file=sys.stderr)
            self.server.stop()
            self.server = None

    def __enter__(self) -> MilvusStandalone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- operations on a collection, from the benchmark's side ---------------------------------------


def segments(client, coll: str) -> dict:
    """Sealed/growing segment counts and rows as the query nodes and the data coordinator see them
    (Milvus server only)."""
    out: dict = {}
    conn = client._get_connection()
    try:
        q = conn.get_query_segment_info(coll)
        out["loaded"] = len(q)
        out["loaded_rows"] = [int(s.num_rows) for s in q]
        out["loaded_indexed"] = sum(1 for s in q if s.index_name)
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        out["loaded_error"] = str(exc)[:200]
    try:
        p = conn.get_persistent_segment_infos(coll)
        out["persistent"] = len(p)
        out["persistent_rows"] = [int(s.num_rows) for s in p]
    except Exception as exc:  # noqa: BLE001
        out["persistent_error"] = str(exc)[:200]
    return out


def flush_and_index(client, coll: str, index_name: str, *, timeout_s: float = 6 * 3600,
                    progress: bool = True) -> dict:
    """Flush (seal the growing segments), wait until every row is indexed, then release + load so
    the query nodes serve the indexed sealed segments. Returns seconds per step."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    client.flush(coll)
    t_flush = time.perf_counter() - t0
    deadline = time.monotonic() + timeout_s
    bar = None
    while True:
        d = client.describe_index(coll, index_name) or {}
        total, done = int(d.get("total_rows", 0)), int(d.get("indexed_rows", 0))
        pending = int(d.get("pending_index_rows", total - done))
        if progress and bar is None and total:
            bar = tqdm(total=total, initial=done, unit="row", unit_scale=True, desc=f"index {coll}", mininterval=2.0)
        if bar is not None:
            bar.update(done - bar.n)
        if total and done >= total and pending == 0:
            break
        if str(d.get("state", "")).lower() == "failed":
            raise RuntimeError(f"index build failed: {d}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"index of {coll} not built after {timeout_s:.0f}s: {d}")
        time.sleep(1.0)
    if bar is not None:
        bar.close()
    t_index = time.perf_counter() - t0 - t_flush
    t1 = time.perf_counter()
    client.release_collection(coll)
    client.load_collection(coll)
    t_load = time.perf_counter() - t1
    return {"flush_s": round(t_flush, 2), "index_wait_s": round(t_index, 2), "load_s": round(t_load, 2),
            "index": {k: v for k, v in (client.describe_index(coll, index_name) or {}).items()}}
