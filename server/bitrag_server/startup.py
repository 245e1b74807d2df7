"""What `bitrag serve` checks before it serves, and how it says what went wrong.

A start-up failure the operator can fix (a port in use, a data directory another server holds, a
bad setting, an unreadable TLS file, a Milvus that does not answer, a missing local model) is a
`StartupError`: `bitrag serve` prints it as one line naming the cause and the fix, exits 1, and
prints no traceback. The checks run in the order that leaves nothing behind: the listen port is
tried before the data directory is created, the data directory is locked before Milvus Lite opens
its file.
"""

from __future__ import annotations

import errno
import fcntl
import socket
from pathlib import Path
from typing import IO, Any

from .config import Settings


class StartupError(Exception):
    """`bitrag serve` cannot start: `cause` says why, `fix` what to do. `str()` is the one line."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix


ADDRESS_FIX = "stop the other server, or pass another --address (BITRAG_ADDRESS)"


def _split_address(address: str) -> tuple[str, int] | None:
    """HOST:PORT -> (host, port); None for addresses this check leaves to gRPC (unix sockets)."""
    if address.startswith(("unix:", "unix-abstract:")):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise StartupError(f"listen address {address!r} is not HOST:PORT",
                           "pass --address HOST:PORT (BITRAG_ADDRESS), e.g. 127.0.0.1:50051")
    return host.strip("[]"), int(port)


def check_port(address: str) -> None:
    """Bind the listen address once with a plain socket (as gRPC will, SO_REUSEADDR) and let it go:
    a port in use is found before anything is created on disk, and said in one line. gRPC's own
    bind failure (a race with another process) is reported by `listen_failed`."""
    parsed = _split_address(address)
    if parsed is None or parsed[1] == 0:  # port 0: the kernel picks a free one
        return
    host, port = parsed
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {address}: host {host!r} does not resolve ({exc.strerror})",
                           "pass --address with an address of this machine (BITRAG_ADDRESS)") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(sockaddr)
            except OSError as exc:
                raise _bind_error(address, exc) from None


def _bind_error(address: str, exc: OSError) -> StartupError:
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"port {address} is already in use (another bitrag server or program listens there)",
                            ADDRESS_FIX)
    if exc.errno == errno.EACCES:
        return StartupError(f"not allowed to listen on {address} (ports below 1024 need privileges)",
                            "pass --address with a port above 1023 (BITRAG_ADDRESS)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"cannot listen on {address}: not an address of this machine",
                            "pass --address with an address of this machine, e.g. 127.0.0.1 or 0.0.0.0")
    return StartupError(f"cannot listen on {address}: {exc.strerror}", "pass another --address (BITRAG_ADDRESS)")


def listen_failed(address: str) -> StartupError:
    """gRPC could not bind (after `check_port` passed: someone took the port meanwhile)."""
    return StartupError(f"cannot listen on {address} (the port is in use or the address is not this machine's)",
                        ADDRESS_FIX)


class DataDirLock:
    """An exclusive lock on a Milvus Lite file, held for the server's life. Milvus Lite opens its
    file in one process only (and a second opener's failure is buried in a long traceback); with
    a Milvus server, replicas share a data directory by design and no lock is taken. The lock file
    is never deleted: unlinking a lock file lets a third process lock a new one beside a holder."""

    def __init__(self, settings: Settings) -> None:
        self._file: IO[Any] | None = None
        if not settings.is_milvus_lite:
            return
        db = Path(settings.resolved_milvus_uri())
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            f = open(db.parent / f".{db.name}.bitrag.lock", "a")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise StartupError(f"cannot create the data directory {db.parent}: {exc.strerror}",
                               "pass a writable --data-dir (BITRAG_DATA_DIR)") from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise StartupError(
                f"the data directory {settings.data_dir.resolve()} is in use by another bitrag server "
                f"(its Milvus Lite file {db} is opened by another program)",
                "stop that server, or pass another --data-dir (BITRAG_DATA_DIR)",
            ) from None
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def flag_of(field: str, flags: set[str] | frozenset[str] = frozenset()) -> str:
    """How an operator sets `field`: its `bitrag serve` flag (when `flags` has it) and its variable."""
    env = f"BITRAG_{field.upper()}"
    return f"--{field.replace('_', '-')} / {env}" if field in flags else env


def settings_error(exc: Any, flags: set[str] | frozenset[str] = frozenset()) -> StartupError:
    """A pydantic ValidationError of `Settings` -> one line naming the setting, the value and why."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(x) for x in first.get("loc", ())) or "?"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return StartupError(
        f"bad setting {field}={first.get('input')!r} ({flag_of(field, flags)}): {first.get('msg', 'invalid')}{more}",
        "fix the flag, the environment variable or .env (`bitrag serve --help` lists the settings)",
    )
