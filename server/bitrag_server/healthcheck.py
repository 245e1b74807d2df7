"""`python -m bitrag_server.healthcheck`: ask a running bitrag server's standard gRPC health service
(grpc.health.v1 Health/Check) whether it is SERVING.

Exit code 0 when the answer is SERVING, 1 otherwise (NOT_SERVING, unknown service, connection
refused, deadline exceeded, bad arguments), with one line on stdout saying which. Used by the
container image's HEALTHCHECK and usable as an exec probe (Kubernetes has native gRPC probes; the
manifests in deploy/k8s use those).

The default target is derived from BITRAG_ADDRESS (the address the server in the same container
listens on): a wildcard host (0.0.0.0, [::]) becomes the loopback address, so the image's
HEALTHCHECK follows a changed listen port without being edited.

Only grpcio and grpcio-health-checking are imported: the check starts in well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}


def default_target(address: str | None = None) -> str:
    """The address to dial for a server listening on `address` (default: $BITRAG_ADDRESS)."""
    addr = (address if address is not None else os.environ.get("BITRAG_ADDRESS", "")).strip()
    if not addr:
        return DEFAULT_ADDRESS
    if addr.startswith(("unix:", "unix-abstract:")):
        return addr
    host, sep, port = addr.rpartition(":")
    if not sep:  # no port: not something the server accepts either; dial the default
        return DEFAULT_ADDRESS
    if host in _WILDCARD_HOSTS:
        host = _WILDCARD_HOSTS[host]
    return f"{host}:{port}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2; a health check is healthy or not
        self.print_usage(sys.stderr)
        print(f"UNHEALTHY: bad arguments: {message}", flush=True)
        raise SystemExit(1)


def check(target: str, service: str = "", timeout: float = 3.0, tls_ca: str = "",
          server_name: str = "") -> tuple[bool, str]:
    """One Health/Check call (over TLS when `tls_ca` names the CA that signed the server's
    certificate). Returns (serving, one-line message)."""
    label = f"{target} service={service!r}"
    try:
        if tls_ca:
            with open(tls_ca, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            opts = [("grpc.ssl_target_name_override", server_name)] if server_name else []
            channel = grpc.secure_channel(target, creds, opts)
        else:
            channel = grpc.insecure_channel(target)
        with channel:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        name = code.name if code is not None else "ERROR"
        if code is grpc.StatusCode.NOT_FOUND:
            return False, f"UNHEALTHY: {label}: service unknown to the health server"
        detail = (exc.details() if hasattr(exc, "details") else "") or ""
        detail = " ".join(detail.split())[:200]
        return False, f"UNHEALTHY: {label}: {name} {detail}".rstrip()
    except (ValueError, OSError) as exc:  # malformed target, unreadable CA file
        return False, f"UNHEALTHY: {label}: {exc}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    if resp.status == health_pb2.HealthCheckResponse.SERVING:
        return True, f"SERVING: {label}"
    return False, f"UNHEALTHY: {label}: {status}"


def main(argv: Sequence[str] | None = None) -> int:
    p = _Parser(
        prog="python -m bitrag_server.healthcheck",
        description="grpc.health.v1 Health/Check against a bitrag server: exit 0 when SERVING, 1 otherwise.",
    )
    p.add_argument(
        "--target",
        default=None,
        help="HOST:PORT to dial (default: from BITRAG_ADDRESS with a wildcard host replaced by loopback, "
        f"else {DEFAULT_ADDRESS})",
    )
    p.add_argument(
        "--service",
        default="",
        help="health service name: '' (the server as a whole, default) or bitrag.v1.BitragService",
    )
    p.add_argument("--timeout", type=float, default=3.0, help="seconds for the whole call (default 3)")
    p.add_argument("--tls-ca", default=os.environ.get("BITRAG_HEALTHCHECK_TLS_CA", ""),
                   help="CA certificate (PEM) of a TLS server (env BITRAG_HEALTHCHECK_TLS_CA; default plaintext)")
    p.add_argument("--server-name", default="", help="name in the server's certificate, if not the target's host")
    args = p.parse_args(argv)
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    ok, message = check(args.target or default_target(), args.service, args.timeout, args.tls_ca, args.server_name)
    print(message, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
