"""What every call passes before a handler runs: authentication, admission, request parsing and
permission. One interceptor (`GuardInterceptor`), inside `errors.ErrorInterceptor`, so the typed
errors raised here become statuses in the one place that maps them.

  1. bearer token   `authorization: Bearer TOKEN` against the tokens file (if one is configured):
                    UNAUTHENTICATED without a valid one. Every service but health needs it
                    (reflection too); health stays open for probes.
  2. admission      at most `max_concurrent_rpcs` bitrag calls run and `max_queued_rpcs` wait for
                    a slot; beyond, RESOURCE_EXHAUSTED with a retry hint (`bitrag-retry-after-ms`).
                    A waiting call leaves when its deadline passes.
  3. parse          the request bytes are parsed here, so a malformed message is an
                    INVALID_ARGUMENT naming `request`, not gRPC's generic deserialisation error.
  4. permission     the method's role (read or write) and the request's collection against the
                    token's: PERMISSION_DENIED.

Tokens file: one `TOKEN ROLE [COLLECTION,...]` per line, whitespace-separated; ROLE `read` or
`write` (write includes read); no collections = every collection; `#` starts a comment. It is
re-read when it changes (one stat per call); a file that no longer parses keeps the previous
tokens and logs the line at fault. Tokens are compared as SHA-256 digests with
`hmac.compare_digest` against every entry (no early exit), and never logged or echoed.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import hashlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc

from . import metrics
from .errors import DeadlineExceeded, InvalidArgument, PermissionDenied, ResourceExhausted, Unauthenticated

log = logging.getLogger(__name__)

Role = Literal["read", "write"]
ROLES: tuple[Role, ...] = ("read", "write")
BITRAG_PREFIX = "/bitrag."
HEALTH_PREFIX = "/grpc.health.v1.Health/"

# bitrag method -> (role it needs, request field naming its collection; None: no single collection)
METHODS: dict[str, tuple[Role, str | None]] = {
    "CreateCollection": ("write", "name"),
    "ListCollections": ("read", None),  # the list is filtered to the token's collections
    "DescribeCollection": ("read", "name"),
    "DropCollection": ("write", "name"),
    "Ingest": ("write", "collection"),
    "Delete": ("write", "collection"),
    "ListDocuments": ("read", "collection"),
    "Search": ("read", "collection"),
    "Ask": ("read", "collection"),
    "Calibrate": ("write", "collection"),
    "Compact": ("write", "collection"),
    "Fetch": ("read", "collection"),
    "SetLegacyStore": ("write", "collection"),
}


@dataclass(frozen=True)
class Principal:
    """Who a call runs as: a token's role and its collections (None = all of them)."""

    role: Role
    collections: frozenset[str] | None = None
    line: int = 0  # of the tokens file: how logs name a token without showing it

    def may(self, role: Role) -> bool:
        return self.role == "write" or role == "read"

    def sees(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


# The principal of the call being served (None: authentication is off). The servicer reads it to
# filter ListCollections.
current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "principal", default=None
)


def visible(collection: str) -> bool:
    """May the current call see `collection`? (Always, without authentication.)"""
    p = current_principal.get()
    return p is None or p.sees(collection)


def _digest(token: str | bytes) -> bytes:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


def parse_tokens(text: str) -> list[tuple[bytes, Principal]]:
    """The tokens file's entries as (SHA-256 of the token, principal). ValueError names the line,
    never the token."""
    out: list[tuple[bytes, Principal]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"line {n}: expected `TOKEN ROLE [COLLECTION,...]`")
        token, role, *rest = parts
        if role not in ROLES:
            raise ValueError(f"line {n}: role must be one of {list(ROLES)}, got {role[:20]!r}")
        names = [c for part in rest for c in part.split(",") if c]
        out.append((_digest(token), Principal(role, frozenset(names) if names else None, n)))  # type: ignore[arg-type]
    return out


class TokenFile:
    """The tokens file, re-read when its (mtime, size, inode) changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._sig: tuple[int, int, int] | None = None
        self._entries: list[tuple[bytes, Principal]] = []
        self.reload(strict=True)

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self, strict: bool = False) -> None:
        sig = self._signature()
        if sig == self._sig and not strict:
            return
        try:
            entries = parse_tokens(self.path.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            if strict:
                raise ValueError(f"tokens file {self.path}: {exc}") from None
            log.error(
                "tokens file %s: %s; keeping the %d tokens read before", self.path, exc, len(self._entries)
            )
            self._sig = sig  # do not re-log every call; the next change is read again
            return
        self._sig = sig
        self._entries = entries
        log.info("tokens file %s: %d tokens", self.path, len(entries))

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal, or None. Constant time in the token: every entry is compared."""
        self.reload()
        d = _digest(token)
        found: Principal | None = None
        for digest, principal in self._entries:
            if hmac.compare_digest(digest, d) and found is None:
                found = principal
        return found


def bearer(metadata: Any) -> str | None:
    """The token of an `authorization: Bearer TOKEN` header, or None."""
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class Admission:
    """At most `max_active` calls run; up to `max_queued` more wait in arrival order; the rest
    are refused at once with a retry hint (the recent mean service time, scaled by the queue)."""

    def __init__(self, max_active: int, max_queued: int) -> None:
        self.max_active = max_active
        self.max_queued = max_queued
        self.active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._mean_s = 0.05  # exponentially weighted mean of a call's service time
        self.rejected = 0

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def retry_after_s(self) -> float:
        return min(30.0, max(0.05, self._mean_s * (1 + self.queued) / self.max_active))

    async def acquire(self, timeout_s: float | None) -> None:
        if self.active < self.max_active and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.max_queued:
            self.rejected += 1
            metrics.OVERLOAD_REJECTED.inc()
            raise ResourceExhausted(
                f"server overloaded: {self.active} calls running, {self.queued} waiting; retry later",
                retry_after_s=self.retry_after_s(),
            )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except BaseException as exc:
            if fut.done() and not fut.cancelled():  # the slot was handed over as we left
                self.release(0.0)
            else:
                fut.cancel()
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            if isinstance(exc, TimeoutError):
                raise DeadlineExceeded(
                    f"no free slot within the call's deadline ({timeout_s:.3f} s)"
                ) from None
            raise

    def release(self, service_s: float) -> None:
        if service_s > 0:
            self._mean_s += 0.1 * (service_s - self._mean_s)
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes to the next waiter: `active` unchanged
                return
        self.active -= 1


def _collection_of(request: Any, field: str | None) -> str | None:
    if field is not None:
        return str(getattr(request, field))
    for name in ("collection", "name"):  # a method the table does not know yet
        if hasattr(request, name):
            return str(getattr(request, name))
    return None


class GuardInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: TokenFile | None, admission: Admission) -> None:
        self.tokens = tokens
        self.admission = admission

    def _principal(self, details: grpc.HandlerCallDetails) -> Principal | None:
        """None when authentication is off; Unauthenticated without a valid token."""
        if self.tokens is None:
            return None
        token = bearer(details.invocation_metadata)
        if token is None:
            raise Unauthenticated("missing `authorization: Bearer TOKEN` metadata")
        p = self.tokens.authenticate(token)
        if p is None:
            raise Unauthenticated("invalid token")
        return p

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        if method.startswith(HEALTH_PREFIX):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return handler
        try:
            principal = self._principal(details)
            refused: Exception | None = None
        except Unauthenticated as exc:
            principal, refused = None, exc
        if not method.startswith(BITRAG_PREFIX):  # reflection: a valid token is enough
            return handler if refused is None else _refusing(handler, refused)
        rpc = method.rsplit("/", 1)[-1]
        role, field = METHODS.get(rpc, ("write", None))
        parse = handler.request_deserializer
        admission = self.admission

        async def admit(raw: bytes, context: grpc.aio.ServicerContext) -> tuple[Any, float]:
            if refused is not None:
                raise refused
            await admission.acquire(context.time_remaining())
            t0 = time.monotonic()
            try:
                try:
                    request = parse(raw) if parse is not None else raw
                except Exception as exc:  # noqa: BLE001 - any decode failure is the caller's
                    raise InvalidArgument(
                        f"not a valid message for {rpc}: {type(exc).__name__}", field="request"
                    ) from None
                if principal is not None:
                    if not principal.may(role):
                        raise PermissionDenied(f"{rpc} needs a {role} token")
                    coll = _collection_of(request, field if rpc in METHODS else None)
                    if (rpc not in METHODS and principal.collections is not None and coll is None) or (
                        coll is not None and coll != "" and not principal.sees(coll)
                    ):
                        raise PermissionDenied(f"the token does not grant collection {coll!r}")
                current_principal.set(principal)
            except BaseException:
                admission.release(0.0)
                raise
            return request, t0

        kw = dict(request_deserializer=None, response_serializer=handler.response_serializer)
        if handler.unary_unary is not None:
            inner_uu = handler.unary_unary

            async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
                request, t0 = await admit(raw, context)
                try:
                    return await inner_uu(request, context)
                finally:
                    admission.release(time.monotonic() - t0)

            return grpc.unary_unary_rpc_method_handler(unary_unary, **kw)
        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                request, t0 = await admit(raw, context)
                try:
                    async for item in inner_us(request, context):
                        yield item
                finally:
                    admission.release(time.monotonic() - t0)

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kw)
        return handler if refused is None else _refusing(handler, refused)


def _refusing(handler: grpc.RpcMethodHandler, exc: Exception) -> grpc.RpcMethodHandler:
    """A handler of the same shape that only aborts with `exc`'s status (unauthenticated calls
    to services outside bitrag's, i.e. reflection)."""
    code = getattr(exc, "code", grpc.StatusCode.UNAUTHENTICATED)
    message = getattr(exc, "message", str(exc))

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator

    kw = dict(
        request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary, **kw)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming, **kw)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary, **kw)
    return grpc.stream_stream_rpc_method_handler(streaming, **kw)


def server_credentials(cert: str, key: str, client_ca: str = "") -> grpc.ServerCredentials:
    """TLS credentials from PEM files; with `client_ca`, clients must present a certificate it signed."""
    chain = Path(cert).read_bytes()
    private = Path(key).read_bytes()
    ca = Path(client_ca).read_bytes() if client_ca else None
    return grpc.ssl_server_credentials(
        [(private, chain)], root_certificates=ca, require_client_auth=ca is not None
    )
