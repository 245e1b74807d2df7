"""TLS (and mTLS) with bearer-token authentication on a real `bitrag serve`, certificates made in the
test: roles, collection scopes, the tokens file re-read on change, health open, reflection behind
the token, tokens never in the logs; both SDK clients and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import bitrag
from certs import Certs, make_certs
from servers import ServerProc

DIM = 16
WRITE, READ, SCOPED, SCOPED_READ = (f"tok-{k}-{uuid.uuid4().hex}" for k in ("w", "r", "a", "ra"))
LATE = f"tok-late-{uuid.uuid4().hex}"
COLL_A = "auth_a_" + uuid.uuid4().hex[:8]


def start(data: Path, env: dict[str, str]) -> ServerProc:
    sp = ServerProc(
        data, env={"BITRAG_LOG_LEVEL": "DEBUG", "BITRAG_EMBEDDER": "none", **env}, ready_timeout_s=120
    )
    return sp.start()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("tokens") / "tokens"
    p.write_text(
        "# bitrag tokens\n"
        f"{WRITE}   write\n"
        f"{READ} read   # dashboards\n"
        f"{SCOPED} write {COLL_A}\n"
        f"{SCOPED_READ}\tread {COLL_A},other\n"
    )
    return p


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, certs: Certs, tokens_file: Path
) -> Iterator[ServerProc]:
    sp = start(
        tmp_path_factory.mktemp("tls"),
        {
            "BITRAG_TLS_CERT": str(certs.server_cert),
            "BITRAG_TLS_KEY": str(certs.server_key),
            "BITRAG_AUTH_TOKENS_FILE": str(tokens_file),
        },
    )
    yield sp
    sp.stop()


def client(sp: ServerProc, certs: Certs, token: str | None, **kw) -> bitrag.Client:
    return bitrag.Client(sp.target, token=token, tls_ca=str(certs.ca), timeout=30, **kw)


def test_plaintext_and_untrusted_clients_cannot_connect(tls_server: ServerProc, certs: Certs) -> None:
    with (
        bitrag.Client(tls_server.target, token=WRITE, timeout=5) as c,
        pytest.raises(bitrag.UnavailableError),
    ):
        c.list_collections()
    with bitrag.Client(tls_server.target, token=WRITE, tls_ca=str(certs.other_ca), timeout=5) as c:
        with pytest.raises(bitrag.UnavailableError):
            c.list_collections()


def test_tokens_and_roles(tls_server: ServerProc, certs: Certs) -> None:
    name = "auth_" + uuid.uuid4().hex[:8]
    for token in (None, "nope", WRITE + "x", WRITE[:-1]):
        with client(tls_server, certs, token) as c:
            with pytest.raises(bitrag.UnauthenticatedError) as e:
                c.list_collections()
            assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(bitrag.UnauthenticatedError):
                c.search(name, np.ones(DIM), top_k=1)
            with pytest.raises(bitrag.UnauthenticatedError):  # the streaming RPC too
                list(c.ask(name, "anything?"))
    v = np.random.default_rng(0).standard_normal((20, DIM)).astype(np.float32)
    with client(tls_server, certs, WRITE) as w:
        w.create_collection(name, embedder="none", dimension=DIM)
        w.ingest_vectors(name, v, ids=[f"r{i}" for i in range(20)])
        assert w.search(name, v[3], top_k=1).hits[0].chunk_id == "r3"
    with client(tls_server, certs, READ) as r:
        assert r.search(name, v[4], top_k=1).hits[0].chunk_id == "r4"
        assert name in {x.name for x in r.list_collections()}
        r.describe_collection(name)
        for call in (
            lambda: r.ingest_vectors(name, v[:1], ids=["x"]),
            lambda: r.delete(name, ["r1"]),
            lambda: r.create_collection("auth_no_" + uuid.uuid4().hex[:6], embedder="none", dimension=DIM),
            lambda: r.drop_collection(name),
            lambda: r.compact(name),
            lambda: r.calibrate(name),
        ):
            with pytest.raises(bitrag.PermissionDeniedError) as e:
                call()
            assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    with client(tls_server, certs, WRITE) as w:
        d = w.describe_collection(name)
        assert (d.rows, d.float_rows) == (20, 20)  # nothing of the refused writes happened


def test_collection_scopes(tls_server: ServerProc, certs: Certs) -> None:
    other = "auth_o_" + uuid.uuid4().hex[:8]
    v = np.random.default_rng(1).standard_normal((5, DIM)).astype(np.float32)
    with client(tls_server, certs, WRITE) as w:
        w.create_collection(other, embedder="none", dimension=DIM)
    with client(tls_server, certs, SCOPED) as a:
        a.create_collection(COLL_A, embedder="none", dimension=DIM)
        a.ingest_vectors(COLL_A, v, ids=[f"a{i}" for i in range(5)])
        assert [x.name for x in a.list_collections()] == [COLL_A]
        for call in (
            lambda: a.describe_collection(other),
            lambda: a.search(other, v[0]),
            lambda: a.ingest_vectors(other, v, ids=list("abcde")),
            lambda: a.drop_collection(other),
            lambda: a.create_collection("auth_x_" + uuid.uuid4().hex[:6], embedder="none", dimension=DIM),
        ):
            with pytest.raises(bitrag.PermissionDeniedError):
                call()
    with client(tls_server, certs, SCOPED_READ) as ra:
        assert ra.search(COLL_A, v[2], top_k=1).hits[0].chunk_id == "a2"
        assert [x.name for x in ra.list_collections()] == [COLL_A]
        with pytest.raises(bitrag.PermissionDeniedError):
            ra.ingest_vectors(COLL_A, v, ids=list("abcde"))


def test_health_open_reflection_behind_token(tls_server: ServerProc, certs: Certs) -> None:
    creds = grpc.ssl_channel_credentials(certs.ca.read_bytes())
    with grpc.secure_channel(tls_server.target, creds) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as e:
            list(stub.ServerReflectionInfo(iter([req]), timeout=10))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        out = list(
            stub.ServerReflectionInfo(iter([req]), timeout=10, metadata=[("authorization", f"Bearer {READ}")])
        )
        names = {s.name for s in out[0].list_services_response.service}
        assert "bitrag.v1.BitragService" in names
    from bitrag_server.healthcheck import check

    ok, msg = check(tls_server.target, tls_ca=str(certs.ca))
    assert ok, msg
    assert not check(tls_server.target)[0]  # plaintext against a TLS port


def test_tokens_file_reread_on_change(tls_server: ServerProc, certs: Certs, tokens_file: Path) -> None:
    original = tokens_file.read_text()
    try:
        with client(tls_server, certs, LATE) as c:
            with pytest.raises(bitrag.UnauthenticatedError):
                c.list_collections()
            tokens_file.write_text(original + f"{LATE} read\n")
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.list_collections()
                    break
                except bitrag.UnauthenticatedError:
                    assert time.monotonic() < deadline, "the new token was never accepted"
                    time.sleep(0.05)
            # a file that no longer parses keeps the tokens read before (and says so in the log)
            tokens_file.write_text(original + f"{LATE} read\nbroken-line-without-role\n")
            time.sleep(0.05)
            c.list_collections()
            tokens_file.write_text(original)  # revoked
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.list_collections()
                except bitrag.UnauthenticatedError:
                    break
                assert time.monotonic() < deadline, "the removed token still works"
                time.sleep(0.05)
    finally:
        tokens_file.write_text(original)
    deadline = time.monotonic() + 5
    while "line 7: expected" not in tls_server.text():  # the bad line is named, by number
        assert time.monotonic() < deadline, tls_server.text()[-2000:]
        time.sleep(0.05)


def test_async_client_parity(tls_server: ServerProc, certs: Certs) -> None:
    async def main() -> None:
        async with bitrag.AsyncClient(tls_server.target, tls_ca=certs.ca.read_bytes(), timeout=30) as c:
            with pytest.raises(bitrag.UnauthenticatedError):
                await c.list_collections()
        async with bitrag.AsyncClient(tls_server.target, token=READ, tls_ca=str(certs.ca), timeout=30) as c:
            await c.list_collections()
            with pytest.raises(bitrag.PermissionDeniedError):
                await c.compact(COLL_A)
            with pytest.raises(bitrag.PermissionDeniedError):
                await c.create_collection("auth_y_" + uuid.uuid4().hex[:6], embedder="none", dimension=DIM)
        async with bitrag.AsyncClient(tls_server.target, token=SCOPED, tls_ca=str(certs.ca), timeout=30) as c:
            assert COLL_A in {x.name for x in await c.list_collections()}
            res = await c.compact(COLL_A, force=True)
            assert res.rows_after == (await c.describe_collection(COLL_A)).rows

    asyncio.run(main())


def test_cli_token_and_tls_ca(tls_server: ServerProc, certs: Certs) -> None:
    base = [sys.executable, "-m", "bitrag.cli", "--target", tls_server.target, "--tls-ca", str(certs.ca)]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("BITRAG_")}
    r = subprocess.run([*base, "collections", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "UNAUTHENTICATED" in r.stderr, r.stderr
    r = subprocess.run(
        [*base, "--token", READ, "collections", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert COLL_A in {c["name"] for c in json.loads(r.stdout)}
    r = subprocess.run(
        [*base, "collections", "--json"],
        capture_output=True,
        text=True,
        env={**env, "BITRAG_TOKEN": SCOPED_READ},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert [c["name"] for c in json.loads(r.stdout)] == [COLL_A]
    r = subprocess.run(
        [*base, "--token", READ, "compact", COLL_A], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 1 and "PERMISSION_DENIED" in r.stderr, r.stderr


def test_tokens_never_logged(tls_server: ServerProc) -> None:
    """Every test above ran against this server with DEBUG logging: no token ever reached its log."""
    text = tls_server.text()
    assert "tokens file" in text  # the log did run (at DEBUG), and the reload was logged
    for token in (WRITE, READ, SCOPED, SCOPED_READ, LATE):
        assert token not in text
        assert token[4:] not in text


def test_mtls(tmp_path: Path, certs: Certs, tokens_file: Path) -> None:
    sp = start(
        tmp_path / "mtls",
        {
            "BITRAG_TLS_CERT": str(certs.server_cert),
            "BITRAG_TLS_KEY": str(certs.server_key),
            "BITRAG_TLS_CLIENT_CA": str(certs.ca),
            "BITRAG_AUTH_TOKENS_FILE": str(tokens_file),
            "BITRAG_REFLECTION": "false",
        },
    )
    try:
        assert "(mTLS, tokens;" in sp.text()
        with client(sp, certs, WRITE) as c, pytest.raises(bitrag.UnavailableError):
            c.list_collections()  # no client certificate: the handshake fails
        with client(
            sp, certs, WRITE, tls_client_cert=str(certs.client_cert), tls_client_key=str(certs.client_key)
        ) as c:
            assert c.list_collections() == []
        with client(
            sp, certs, None, tls_client_cert=str(certs.client_cert), tls_client_key=str(certs.client_key)
        ) as c:
            with pytest.raises(bitrag.UnauthenticatedError):  # a certificate is not a token
                c.list_collections()
        creds = grpc.ssl_channel_credentials(
            certs.ca.read_bytes(), certs.client_key.read_bytes(), certs.client_cert.read_bytes()
        )
        with grpc.secure_channel(sp.target, creds) as ch:
            stub = reflection_pb2_grpc.ServerReflectionStub(ch)
            with pytest.raises(grpc.RpcError) as e:
                list(
                    stub.ServerReflectionInfo(
                        iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                        timeout=10,
                        metadata=[("authorization", f"Bearer {WRITE}")],
                    )
                )
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED  # BITRAG_REFLECTION=false
    finally:
        sp.stop()
