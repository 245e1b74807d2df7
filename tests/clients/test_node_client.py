"""The Node/TypeScript client (clients/node): its own test suite (node's test runner) against the
session's live `bitrag serve` on Milvus Lite, and the files it ships kept in step with the sources
they come from. `make test` runs `npm ci` from the committed package-lock.json first."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "clients" / "node"


def npm_ready() -> None:
    assert shutil.which("node") and shutil.which("npm"), "node and npm are needed (Node 20)"
    assert (NODE / "node_modules" / ".package-lock.json").exists(), \
        "run `npm ci` in clients/node (make test does)"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=NODE, capture_output=True, text=True, **kw)


@pytest.mark.timeout(600)
def test_node_client_suite_against_a_live_server(lite_server) -> None:
    npm_ready()
    build = run([str(NODE / "node_modules" / ".bin" / "tsc"), "-p", "."], timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr  # the client type-checks
    tests = sorted(str(p.relative_to(NODE)) for p in (NODE / "dist" / "test").glob("*.test.js"))
    assert tests == ["dist/test/auth.test.js", "dist/test/client.test.js", "dist/test/tls.test.js"]
    tests.remove("dist/test/auth.test.js")  # needs a TLS + token server: the test below
    env = {**os.environ, "BITRAG_TARGET": lite_server.target}
    res = run(["node", "--test", *tests], env=env, timeout=540)
    out = res.stdout + res.stderr
    print(out[-4000:])
    assert res.returncode == 0, out[-8000:]
    passed = int(re.search(r"^# pass (\d+)$", out, re.M).group(1))
    failed = int(re.search(r"^# fail (\d+)$", out, re.M).group(1))
    assert failed == 0 and passed >= 11, out[-3000:]


def test_shipped_bitrag_proto_is_the_source() -> None:
    shipped = (NODE / "proto/bitrag/v1/bitrag.proto").read_bytes()
    assert shipped == (ROOT / "proto/bitrag/v1/bitrag.proto").read_bytes(), \
        "clients/node/proto/bitrag/v1/bitrag.proto is stale: run `make proto`"


def test_shipped_google_rpc_protos_are_googleapis() -> None:
    import google.rpc

    src = Path(google.rpc.__path__[0])
    for name in ("status.proto", "error_details.proto"):
        assert (NODE / "proto/google/rpc" / name).read_bytes() == (src / name).read_bytes(), name


def test_shipped_health_proto_matches_the_server() -> None:
    """The health proto shipped for Node describes the service the server runs (same messages,
    fields and methods as grpcio-health-checking's descriptor)."""
    from grpc_health.v1 import health_pb2
    from grpc_tools import protoc

    out = Path(NODE / "dist")
    out.mkdir(exist_ok=True)
    desc = out / "health.desc"
    assert protoc.main(["protoc", f"-I{NODE / 'proto'}", f"--descriptor_set_out={desc}",
                        "grpc/health/v1/health.proto"]) == 0
    from google.protobuf import descriptor_pb2

    shipped = descriptor_pb2.FileDescriptorSet.FromString(desc.read_bytes()).file[0]
    for m in shipped.message_type:  # protoc records json names; the runtime descriptor does not
        for f in m.field:
            f.ClearField("json_name")
        for n in m.nested_type:
            for f in n.field:
                f.ClearField("json_name")
    server = descriptor_pb2.FileDescriptorProto()
    health_pb2.DESCRIPTOR.CopyToProto(server)
    assert shipped.package == server.package == "grpc.health.v1"
    assert list(shipped.message_type) == list(server.message_type)
    assert list(shipped.service) == list(server.service)
    assert shipped.options == server.options


@pytest.mark.timeout(300)
def test_generated_types_are_up_to_date(tmp_path: Path) -> None:
    """src/gen is what `npm run gen` makes from the shipped protos (regenerated here, compared)."""
    npm_ready()
    script = json.loads((NODE / "package.json").read_text())["scripts"]["gen"]
    args = shlex.split(script)
    assert args[0] == "proto-loader-gen-types" and "--outDir=src/gen" in args
    args = [str(NODE / "node_modules" / ".bin" / args[0])] + [
        f"--outDir={tmp_path}" if a == "--outDir=src/gen" else a for a in args[1:]]
    res = run(args, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.ts")}
    committed = {p.relative_to(NODE / "src/gen"): p.read_bytes() for p in (NODE / "src/gen").rglob("*.ts")}
    assert sorted(fresh) == sorted(committed), "clients/node/src/gen is stale: run `make proto`"
    stale = [str(k) for k in fresh if fresh[k] != committed[k]]
    assert not stale, f"clients/node/src/gen is stale ({stale[:5]}): run `make proto`"


@pytest.mark.timeout(600)
def test_node_client_against_a_tls_and_token_server(tmp_path: Path) -> None:
    """The Node client against bitrag's own TLS + bearer-token server (certificates made here,
    a tokens file with a write and a read token): test/auth.test.ts."""
    import uuid

    from certs import make_certs
    from servers import ServerProc

    npm_ready()
    build = run([str(NODE / "node_modules" / ".bin" / "tsc"), "-p", "."], timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    certs = make_certs(tmp_path / "certs")
    write, read = f"w-{uuid.uuid4().hex}", f"r-{uuid.uuid4().hex}"
    (tmp_path / "tokens").write_text(f"{write} write\n{read} read\n")
    sp = ServerProc(tmp_path / "data", env={
        "BITRAG_EMBEDDER": "none", "BITRAG_TLS_CERT": str(certs.server_cert), "BITRAG_TLS_KEY": str(certs.server_key),
        "BITRAG_AUTH_TOKENS_FILE": str(tmp_path / "tokens"),
    }).start()
    try:
        port = sp.target.rsplit(":", 1)[1]
        env = {**os.environ, "BITRAG_AUTH_TARGET": f"localhost:{port}", "BITRAG_AUTH_CA": str(certs.ca),
               "BITRAG_AUTH_WRITE": write, "BITRAG_AUTH_READ": read}
        res = run(["node", "--test", "dist/test/auth.test.js"], env=env, timeout=540)
    finally:
        sp.stop()
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    assert int(re.search(r"^# pass (\d+)$", out, re.M).group(1)) == 2, out[-3000:]
    assert int(re.search(r"^# skipped (\d+)$", out, re.M).group(1)) == 0, out[-3000:]
