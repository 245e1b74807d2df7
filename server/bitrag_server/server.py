"""Build and run the grpc.aio server: bitrag service + standard health service + reflection
(`BITRAG_REFLECTION`), on a TLS port when a certificate is configured (mTLS with a client CA),
behind `guard.GuardInterceptor` (bearer tokens, admission, parsing, permissions).

Start-up (`serve`): the port is bound first, then the data directory locked (Milvus Lite) and the
stores opened; the server listens with health NOT_SERVING while the embedding model loads, then
reports SERVING and prints `bitrag ready`. Any failure on the way is one line (`startup.py`).

SIGTERM / SIGINT: health flips to NOT_SERVING, the server stops accepting calls, in-flight calls
get `shutdown_grace_s` to finish, then the engine closes its stores (float files, Milvus client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from bitrag.v1 import bitrag_pb2, bitrag_pb2_grpc

from . import heap, startup
from .answer.asker import Asker
from .config import Settings
from .engine import Engine
from .errors import BitragError, ErrorInterceptor
from .guard import Admission, GuardInterceptor, TokenFile, server_credentials
from .service import BitragService
from .startup import StartupError

log = logging.getLogger("bitrag_server")
SERVICE_NAME = bitrag_pb2.DESCRIPTOR.services_by_name["BitragService"].full_name


def build_server(settings: Settings) -> tuple[grpc.aio.Server, int]:
    """The gRPC server bound to its port, services not added yet: the port is taken before the
    data directory is touched, so a port in use leaves nothing behind (`startup.py`)."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise StartupError("TLS needs both a certificate and a key",
                           "pass --tls-cert and --tls-key (BITRAG_TLS_CERT, BITRAG_TLS_KEY), or neither")
    if settings.tls_client_ca and not settings.tls_cert:
        raise StartupError("mTLS (--tls-client-ca) needs TLS", "pass --tls-cert and --tls-key as well")
    startup.check_port(settings.address)
    max_bytes = settings.max_message_mb * 1024 * 1024
    try:
        tokens = TokenFile(settings.auth_tokens_file) if settings.auth_tokens_file else None
        creds = (server_credentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
                 if settings.tls_cert else None)
    except (OSError, ValueError) as exc:
        what = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else _one_line(exc)
        raise StartupError(f"cannot read {what}",
                           "check --tls-cert / --tls-key / --tls-client-ca / --auth-tokens-file") from None
    admission = Admission(settings.max_concurrent_rpcs, settings.max_queued_rpcs)
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(), GuardInterceptor(tokens, admission)],
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    try:
        port = server.add_secure_port(settings.address, creds) if creds else server.add_insecure_port(settings.address)
    except RuntimeError:  # grpc: "Failed to bind to address ..." (taken since check_port)
        raise startup.listen_failed(settings.address) from None
    if port == 0:
        raise startup.listen_failed(settings.address)
    return server, port


async def add_services(
    server: grpc.aio.Server, settings: Settings, engine: Engine, asker: Asker
) -> health.aio.HealthServicer:
    """bitrag, health (NOT_SERVING until `serve` flips it) and reflection."""
    bitrag_pb2_grpc.add_BitragServiceServicer_to_server(BitragService(engine, asker), server)
    health_servicer = health.aio.HealthServicer()
    for name in ("", SERVICE_NAME):  # the servicer starts with "" SERVING: not before the model is in
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
    return health_servicer


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _DirectRootRecords(logging.Filter):
    """Drops records logged on the root logger itself (milvus-lite logs its open failures there);
    records of named loggers (ours) that propagate to the root's handlers are not filtered."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet_milvus_connect() -> Iterator[None]:
    """pymilvus and milvus-lite log a failed connect as ERROR lines of their own before raising;
    the raise becomes the one start-up line, so their lines are held back while the stores open."""
    # pymilvus configures these two with handlers and levels of their own (pymilvus/settings.py)
    loggers = [logging.getLogger(n) for n in ("pymilvus", "pymilvus.milvus_client")]
    levels, root_filter = [lg.level for lg in loggers], _DirectRootRecords()
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    logging.getLogger().addFilter(root_filter)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        logging.getLogger().removeFilter(root_filter)


async def _start_engine(settings: Settings) -> Engine:
    engine = Engine(settings)
    try:
        with _quiet_milvus_connect():
            await engine.start()
    except BitragError as exc:  # Milvus did not open / answer
        if settings.is_milvus_lite:
            raise StartupError(f"Milvus Lite could not open {settings.resolved_milvus_uri()}: {exc.message}",
                               "is another program using the file? stop it, or pass another --data-dir") from None
        raise StartupError(f"Milvus at {settings.resolved_milvus_uri()} did not answer: {exc.message}",
                           "check that it runs and --milvus-uri / --milvus-token (BITRAG_MILVUS_URI)") from None
    except OSError as exc:
        raise StartupError(f"cannot open the data directory {settings.data_dir}: {_one_line(exc)}",
                           "pass a writable --data-dir (BITRAG_DATA_DIR)") from None
    return engine


def _load_models(engine: Engine) -> list[str]:
    model = engine.settings.local_model
    if model and engine.settings.embedder == "local" and not Path(model).is_dir():
        raise StartupError(f"the local model directory {model} does not exist",
                           "pass a sentence-transformers model directory as --local-model (BITRAG_LOCAL_MODEL), "
                           "or leave it empty for the packaged all-MiniLM-L6-v2")
    try:
        return engine.embedders.preload(engine.embedders_in_use())
    except Exception as exc:  # noqa: BLE001 - whatever stops the model loading stops the start
        raise StartupError(
            f"cannot load the embedding model: {_one_line(exc)}",
            "install it (pip install 'bitrag[local]'), check --local-model (BITRAG_LOCAL_MODEL), "
            "or start with --embedder none / openai",
        ) from None


def single_threaded_blas() -> None:
    """numpy's BLAS runs one thread per call in the server: every search already runs in its own
    worker thread, the calls of the query path are small (40 float rows), and BLAS' idle worker
    threads spin after each call, which took the cores from the RAM scan's shards (1M x 768 on
    Milvus standalone, AUTO over gRPC: p50 36.0 ms, 25.8 ms with one BLAS thread; candidates stage
    17.3 -> 9.6 ms; `bench/auto_profile.py --env OPENBLAS_NUM_THREADS=1`). The exact scan splits its
    blocks over the cores itself (retrieve/exact.py)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1, user_api="blas")


async def serve(settings: Settings) -> None:
    """Bind, lock the data directory, open the stores, listen with health NOT_SERVING, load the
    embedding model, then SERVING. A failure on the way is a `StartupError` (one line, exit 1)."""
    heap.limit_arenas(settings.malloc_arenas)  # before the thread pools start
    single_threaded_blas()
    if settings.worker_threads:  # blocking work (Milvus, scans, embedding) runs on this pool
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="bitrag-worker")
        )
    server, port = build_server(settings)
    lock = startup.DataDirLock(settings)
    try:
        await _serve(settings, server, port)
    finally:
        lock.release()


async def _serve(settings: Settings, server: grpc.aio.Server, port: int) -> None:
    engine = await _start_engine(settings)
    asker = Asker(engine, settings)
    trimmer = asyncio.create_task(heap.trim_loop(settings.malloc_trim_free_mb), name="heap-trim")
    if heap.available():
        trim = (f"past {settings.malloc_trim_free_mb} MiB free in the heaps (malloc_trim, checked every "
                f"{heap.TRIM_INTERVAL_S:g} s)" if settings.malloc_trim_free_mb else "only by glibc (no trimmer)")
        log.info("heap: %s malloc arenas; free pages go back to the OS %s", settings.malloc_arenas or "glibc's default", trim)
    log.info(
        "ask: %s; answer cache: %s",
        f"{settings.llm_provider} {settings.llm_model}" if asker.generator.generated else "extractive (no LLM API key)",
        settings.redis_url or "off",
    )
    health_servicer = await add_services(server, settings, engine, asker)
    await server.start()
    host = settings.address.rsplit(":", 1)[0]
    if settings.metrics_port:
        from .metrics import serve_metrics

        mport = serve_metrics(settings.metrics_port, settings.metrics_address)
        print(f"bitrag metrics on http://{settings.metrics_address}:{mport}/metrics", flush=True)
    # One parseable line: tests and scripts wait for it (launch.py), then for "bitrag ready".
    security = ("mTLS" if settings.tls_client_ca else "TLS") if settings.tls_cert else "plaintext"
    security += ", tokens" if settings.auth_tokens_file else ", no auth"
    print(f"bitrag listening on {host}:{port} ({security}; milvus={settings.resolved_milvus_uri()})", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The model loads while the port answers health checks with NOT_SERVING: probes and load
    # balancers send no traffic before it is in, and no first search pays for it.
    t0 = time.perf_counter()
    loading = asyncio.ensure_future(asyncio.to_thread(_load_models, engine))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    failed: StartupError | None = None
    if loading.done():
        try:
            loaded = loading.result()
        except StartupError as exc:
            failed = exc
        else:
            for name in ("", SERVICE_NAME):
                await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
            what = f"{', '.join(loaded)} loaded in {time.perf_counter() - t0:.1f} s" if loaded else "no model to load"
            print(f"bitrag ready: health SERVING ({what})", flush=True)
            await stop.wait()
    stopping.cancel()

    log.info("shutting down: draining in-flight calls (grace %.1fs)", settings.shutdown_grace_s)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(0 if failed else settings.shutdown_grace_s)
    trimmer.cancel()
    await asker.close()
    await engine.close()
    if failed is not None:
        raise failed
    log.info("stopped cleanly")
    print("bitrag stopped", flush=True)
