"""Build and run the grpc.aio server: bitrag service + standard health service + reflection
(`BITRAG_REFLECTION`), on a TLS port when a certificate is configured (mTLS with a client CA),
behind `guard.GuardInterceptor` (bearer tokens, admission, parsing, permissions).

SIGTERM / SIGINT: health flips to NOT_SERVING, the server stops accepting calls, in-flight calls
get `shutdown_grace_s` to finish, then the engine closes its stores (float files, Milvus client).
"""

from __future__ import annotations

import asyncio
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from bitrag.v1 import bitrag_pb2, bitrag_pb2_grpc

from .config import Settings
from .answer.asker import Asker
from .engine import Engine
from .errors import ErrorInterceptor
from .guard import Admission, GuardInterceptor, TokenFile, server_credentials
from .service import BitragService

log = logging.getLogger("bitrag_server")
SERVICE_NAME = bitrag_pb2.DESCRIPTOR.services_by_name["BitragService"].full_name


async def build_server(
    settings: Settings, engine: Engine, asker: Asker
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    max_bytes = settings.max_message_mb * 1024 * 1024
    tokens = TokenFile(settings.auth_tokens_file) if settings.auth_tokens_file else None
    admission = Admission(settings.max_concurrent_rpcs, settings.max_queued_rpcs)
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(), GuardInterceptor(tokens, admission)],
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    bitrag_pb2_grpc.add_BitragServiceServicer_to_server(BitragService(engine, asker), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValueError("TLS needs both BITRAG_TLS_CERT and BITRAG_TLS_KEY")
    if settings.tls_client_ca and not settings.tls_cert:
        raise ValueError("BITRAG_TLS_CLIENT_CA (mTLS) needs BITRAG_TLS_CERT and BITRAG_TLS_KEY")
    if settings.tls_cert:
        creds = server_credentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
        port = server.add_secure_port(settings.address, creds)
    else:
        port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"cannot listen on {settings.address}")
    return server, health_servicer, port


async def serve(settings: Settings) -> None:
    if settings.worker_threads:  # blocking work (Milvus, scans, embedding) runs on this pool
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="bitrag-worker")
        )
    engine = Engine(settings)
    await engine.start()
    asker = Asker(engine, settings)
    log.info(
        "ask: %s; answer cache: %s",
        f"{settings.llm_provider} {settings.llm_model}" if asker.generator.generated else "extractive (no LLM API key)",
        settings.redis_url or "off",
    )
    server, health_servicer, port = await build_server(settings, engine, asker)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = settings.address.rsplit(":", 1)[0]
    if settings.metrics_port:
        from .metrics import serve_metrics

        mport = serve_metrics(settings.metrics_port, settings.metrics_address)
        print(f"bitrag metrics on http://{settings.metrics_address}:{mport}/metrics", flush=True)
    # One parseable line: tests and scripts wait for it.
    security = ("mTLS" if settings.tls_client_ca else "TLS") if settings.tls_cert else "plaintext"
    security += ", tokens" if settings.auth_tokens_file else ", no auth"
    print(f"bitrag listening on {host}:{port} ({security}; milvus={settings.resolved_milvus_uri()})", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting down: draining in-flight calls (grace %.1fs)", settings.shutdown_grace_s)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_s)
    await asker.close()
    await engine.close()
    log.info("stopped cleanly")
    print("bitrag stopped", flush=True)
