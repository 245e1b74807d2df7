"""Build and run the grpc.aio server: bitrag service + standard health service + reflection.

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
from .service import BitragService

log = logging.getLogger("bitrag_server")
SERVICE_NAME = bitrag_pb2.DESCRIPTOR.services_by_name["BitragService"].full_name


async def build_server(
    settings: Settings, engine: Engine, asker: Asker
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    max_bytes = settings.max_message_mb * 1024 * 1024
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor()],
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    bitrag_pb2_grpc.add_BitragServiceServicer_to_server(BitragService(engine, asker), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"cannot listen on {settings.address}")
    return server, health_servicer, port


async def serve(settings: Settings) -> None:
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
    print(f"bitrag listening on {host}:{port} (milvus={settings.resolved_milvus_uri()})", flush=True)

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
