"""Cross-process write locks for a data directory shared by several bitrag replicas (a
ReadWriteMany volume), or used by one.

`FileLock` is an advisory `flock` on a lock file beside the data it guards: the collection's
`write.lock` serialises appends to its row files, Milvus writes and manifest updates; the
catalog's `.catalog.lock` serialises creating, dropping and sweeping collections. flock works
across processes on local file systems and on NFSv4 / CephFS / EFS (where it maps to byte-range
locks). It is released by the kernel when the holder dies, so a crashed replica never leaves a
collection locked. Blocking waits run in a worker thread; `timeout_s` turns a stuck holder into a
retryable error instead of a hung call."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from ..errors import Unavailable

POLL_S = 0.005


class FileLock:
    def __init__(self, path: Path, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._fd = -1
        self._local = threading.Lock()  # threads of this process; flock is per open file

    def acquire(self) -> None:
        """Block until held (call from a worker thread); Unavailable after `timeout_s`."""
        deadline = time.monotonic() + self.timeout_s
        if not self._local.acquire(timeout=self.timeout_s):
            raise Unavailable(f"{self.path.name}: held by another request for {self.timeout_s:g} s")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            delay = POLL_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise Unavailable(
                            f"{self.path}: held by another bitrag process for {self.timeout_s:g} s"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
            self._fd = fd
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._local.release()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
