"""A Milvus server with authentication and TLS: bitrag connects with a token over TLS (the server's
certificate from BITRAG_MILVUS_SERVER_PEM_PATH) and works end to end; without the token, or
without TLS, it refuses to start with a clear error instead of serving."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from servers import SMALL_IVF, ServerProc, _start_milvus

pytestmark = pytest.mark.standalone


def _certificate(d: Path) -> tuple[Path, Path]:
    key, pem = d / "server.key", d / "server.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(pem),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return pem, key


def test_token_and_tls_to_milvus(tmp_path: Path) -> None:
    pem, key = _certificate(tmp_path)
    milvus = _start_milvus(tmp_path / "milvus", tls_mode=1, authorization_enabled=True,
                           server_pem_path=str(pem), server_key_path=str(key))
    try:
        uri = f"https://localhost:{milvus.listen_port}"
        good = {"BITRAG_MILVUS_TOKEN": "root:Milvus", "BITRAG_MILVUS_SERVER_PEM_PATH": str(pem),
                "BITRAG_MILVUS_SERVER_NAME": "localhost", "BITRAG_REDIS_URL": ""}
        srv = ServerProc(tmp_path / "ok", milvus_uri=uri, env=good, ready_timeout_s=120)
        srv.start()
        try:
            with srv.client() as c:
                name = f"tls_{uuid.uuid4().hex[:8]}"
                c.create_collection(name, dimension=32, embedder="none", index=SMALL_IVF)
                x = np.random.default_rng(0).standard_normal((20, 32)).astype(np.float32)
                c.ingest_vectors(name, x, ids=[f"c{i}" for i in range(20)])
                assert c.search(name, x[7], top_k=1).hits[0].chunk_id == "c7"
        finally:
            assert srv.stop() == 0

        for label, env in (
            ("wrong token", {**good, "BITRAG_MILVUS_TOKEN": "root:wrong"}),
            ("no TLS", {k: v for k, v in good.items() if "PEM" not in k and "SERVER_NAME" not in k}),
        ):
            bad = ServerProc(tmp_path / label.replace(" ", "_"), milvus_uri=uri, env=env, ready_timeout_s=60)
            with pytest.raises(RuntimeError):  # exits before listening: never serves without Milvus
                bad.start()
            assert "Milvus" in bad.text(), (label, bad.text()[-2000:])
            bad.kill()
    finally:
        milvus.stop()
