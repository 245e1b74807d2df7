"""Fixed-width rows on disk, memory-mapped for reads. Row number == the Milvus primary key.

`FloatStore`: the float32 vectors (`vectors.f32`, on disk, read per query for rescoring).
`CodeStore`: the packed sign codes (`codes.u8`, 1/32 of the floats, hot in the page cache) for
the in-RAM asymmetric stage and exact Hamming work without a Milvus round trip.

Append-only: `append` writes rows at the end and fsyncs before returning, so a row id is never
handed to Milvus before its vector is durable. A crash mid-append leaves a partial trailing row,
which the next writer (`repair`, under the collection's write lock) truncates away; rows written
but never inserted into Milvus are unreachable (nothing points at them) and cost only disk.
Deleted rows stay in the file until a compaction (`compact.py`: `copy_rows` writes the rows that
stay to a new file, renamed over this one at commit; readers map through their descriptor, so a
search in flight keeps reading the file it started on).

Several processes (bitrag replicas on a shared volume) may share the files: writers serialise on
the collection's write lock (an flock, see `stores/shared.py`), append at the file's true end, and
readers `refresh` when Milvus hands them a row id past what they have mapped.
"""

from __future__ import annotations

import copy
import mmap
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of `data` at `offset` (pwrite may write less than asked)."""
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)


PAGE = mmap.PAGESIZE
# A read fault on a file mapping maps the cached pages around it too (Linux fault-around,
# 64 KiB by default): what a gathered row leaves mapped is up to this much, not its own pages.
FAULT_AROUND = 64 << 10


def _advise(mm: np.memmap, advice: str, spans) -> None:
    """`madvise(advice)` on each `(start, end)` byte span of `mm`'s file mapping, widened to whole
    pages and clipped to the mapping. Advisory: a platform without it, or a refusal, changes
    nothing but speed and residency."""
    m = getattr(mm, "_mmap", None)
    flag = getattr(mmap, advice, None)
    if m is None or flag is None:
        return
    size = len(m)
    try:
        for start, end in spans:
            a = start - start % PAGE
            if min(end, size) > a:
                m.madvise(flag, a, min(end, size) - a)
    except (OSError, ValueError):
        pass


class RowFile:
    """One file of `[n, width]` rows of `dtype`.

    `map_budget`: bytes of mapped pages a reader may leave in this process before they are
    unmapped (`madvise(MADV_DONTNEED)`: the pages stay in the kernel's page cache, shared and
    reclaimable, but stop counting in the process's resident memory). None keeps them mapped (the
    codes, meant to be in RAM). Exact scans unmap each block once it is consumed, whatever the budget.
    """

    dtype: str = "<f4"
    map_budget: int | None = None
    prefetch: bool = False  # gathers ask the kernel for every row's pages at once (see `_prefetch`)
    # The file is meant to stay in RAM (codes, tier codes, live flags): a gather copies the rows in
    # the caller's order at once, with no sort into file order (that is for reads from disk).
    resident: bool = False

    def __init__(self, path: Path, width: int) -> None:
        self.path = Path(path)
        self.dim = width
        self.row_bytes = width * np.dtype(self.dtype).itemsize
        self._open()

    def reopen(self) -> RowFile:
        """The same store opened again at its path (a new file renamed there by a compaction)."""
        new = copy.copy(self)
        new._open()
        return new

    def _open(self) -> None:
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if created:
            fsync_dir(self.path.parent)
        self._rows = os.fstat(self._fd).st_size // self.row_bytes  # a partial tail is not a row
        self._mm: np.memmap | None = None
        self._mm_rows = 0
        self._touched = 0  # bytes of pages mapped in by gathers since the last unmap (an upper bound)
        self._lock = threading.Lock()  # appends and remaps

    def repair(self) -> None:
        """Cut a partial trailing row (a crash mid-append: never acknowledged). Only a writer may
        call this: with several processes sharing the file, the caller holds the collection's
        write lock, so the partial row is not another writer's append in progress."""
        with self._lock:
            size = os.fstat(self._fd).st_size
            if size % self.row_bytes:
                size -= size % self.row_bytes
                os.ftruncate(self._fd, size)
                os.fsync(self._fd)
            self._rows = size // self.row_bytes

    def refresh(self) -> int:
        """Pick up rows appended by another process sharing the file; returns the row count."""
        rows = os.fstat(self._fd).st_size // self.row_bytes
        if rows != self._rows:
            with self._lock:
                self._rows = rows
                if rows < self._mm_rows:  # truncated elsewhere (repair): remap
                    self._mm = None
                    self._mm_rows = 0
        return self._rows

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def bytes_on_disk(self) -> int:
        return self._rows * self.row_bytes

    def truncate(self, rows: int) -> None:
        """Drop rows past `rows` (never acknowledged: a crash between two files' appends)."""
        with self._lock:
            if rows < self._rows:
                os.ftruncate(self._fd, rows * self.row_bytes)
                os.fsync(self._fd)
                self._rows = rows
                self._mm = None
                self._mm_rows = 0

    def append(self, vectors: np.ndarray) -> int:
        """Append `[n, width]` rows durably (fsync); returns the row id of the first."""
        v = np.ascontiguousarray(vectors, dtype=self.dtype)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValueError(f"expected [n, {self.dim}] rows, got {v.shape}")
        self.repair()  # the true end: rows other processes appended, minus a crashed partial row
        with self._lock:
            start = self._rows
            pwrite_all(self._fd, v.tobytes(), start * self.row_bytes)
            os.fsync(self._fd)
            self._rows = start + len(v)
            return start

    def _view(self, need_rows: int) -> np.memmap:
        mm = self._mm
        if mm is None or self._mm_rows < need_rows:
            with self._lock:
                if self._mm is None or self._mm_rows < need_rows:
                    n = self._rows
                    # Mapped through our descriptor, not the path: a compaction renames a new
                    # file over the path while searches still read this one.
                    with open(self._fd, "rb", buffering=0, closefd=False) as f:
                        self._mm = np.memmap(f, dtype=self.dtype, mode="r", shape=(n, self.dim))
                    self._mm_rows = n
                mm = self._mm
        assert mm is not None
        return mm

    def gather(self, ids: np.ndarray) -> np.ndarray:
        """Rows for `ids` (`[C]` int64, any order) -> `[C, width]` in the order of `ids`.

        A file on disk is read in sorted id order (one pass over the file), then the caller's order
        is restored; a `resident` one is copied in the caller's order at once. Both index a plain
        ndarray over the map, not numpy's memmap subclass, whose per-call cost showed among the
        server's top frames (bench/results/profile_cpu.md): on 100k-row files, 640 tier rows took
        156 us through the memmap in file order and 20 us this way, the live flags of 2,000 rows
        96 and 11 us.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return np.empty((0, self.dim), dtype=self.dtype)
        hi = int(ids.max())
        if hi >= self._rows:
            self.refresh()  # appended by another process since we last looked
        if hi >= self._rows or int(ids.min()) < 0:
            raise IndexError(f"row id out of range [0, {self._rows})")
        mm = self._view(hi + 1)
        arr = mm.view(np.ndarray)
        if self.resident:
            return np.take(arr, ids, axis=0)  # [C, width]
        order = np.argsort(ids, kind="stable")
        if self.prefetch:
            self._prefetch(mm, ids[order])
        rows = np.empty((ids.size, self.dim), dtype=self.dtype)
        rows[order] = arr[ids[order]]  # [C, width]
        if self.map_budget is not None:
            self._touched += ids.size * (self.row_bytes + FAULT_AROUND)
            if self._touched > self.map_budget:
                self._touched = 0
                self._unmap(mm, 0, mm.nbytes)
        return rows

    def _prefetch(self, mm: np.memmap, sorted_ids: np.ndarray) -> None:
        """`madvise(MADV_WILLNEED)` on each row's pages before the copy: the kernel reads every
        missing row in parallel, where the copy's page faults would read them one at a time, each
        with a read-around of pages nobody asked for (`bench/results/float_fetch.md`: 4,096 random
        uncached 3 KiB rows, 39 ms instead of 241 ms on this machine's disk)."""
        starts = sorted_ids * self.row_bytes
        first = starts - starts % PAGE
        ends = starts + self.row_bytes
        keep = np.ones(first.size, bool)  # one call per run of rows that share pages
        keep[1:] = first[1:] > ends[:-1]
        runs = np.flatnonzero(keep)
        run_ends = np.maximum.reduceat(ends, runs) if runs.size else runs
        _advise(mm, "MADV_WILLNEED", zip(first[runs].tolist(), run_ends.tolist()))

    @staticmethod
    def _unmap(mm: np.memmap, start: int, length: int) -> None:
        """Drop this process's mapping of `[start, start + length)`; a later read faults the pages
        back in from the page cache or the disk."""
        _advise(mm, "MADV_DONTNEED", [(start, start + length)])

    def view(self) -> np.ndarray:
        """Every row, `[n, width]`, mapped (no copy; for files meant to stay in RAM, like the codes)."""
        n = self.refresh()
        return self._view(n)[:n] if n else np.empty((0, self.dim), self.dtype)

    def blocks(self, block_rows: int = 65536, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row id, `[b, width]` rows) over the first `rows` rows (default: the whole file,
        refreshed), for exact scans."""
        n = self.refresh() if rows is None else min(rows, self.refresh())
        if n == 0:
            return
        mm = self._view(n)
        for start in range(0, n, block_rows):
            stop = min(n, start + block_rows)
            try:
                yield start, np.asarray(mm[start:stop])
            finally:  # consumed (or the scan stopped): a scan of the whole file must not stay resident
                self._unmap(mm, start * self.row_bytes, (stop - start) * self.row_bytes)

    def paths(self) -> list[Path]:
        """The files this store consists of (compaction copies and renames each)."""
        return [self.path]

    def copy_rows(self, rows: np.ndarray, suffix: str, block_rows: int = 16384) -> None:
        """Write `rows` (ascending row ids) in that order to `<path><suffix>`, fsynced: this file
        compacted to the rows that stay (compact.py renames it over the path at commit)."""
        out = Path(str(self.path) + suffix)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            offset = 0
            for i in range(0, rows.size, block_rows):
                data = self.gather(rows[i : i + block_rows]).tobytes()
                pwrite_all(fd, data, offset)
                offset += len(data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._mm = None
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class FloatStore(RowFile):
    """`[n, dim]` float32 little-endian rows. Gathers leave at most `map_budget` bytes mapped:
    the floats live on disk (and in the kernel's page cache), not in the server's memory."""

    dtype = "<f4"
    map_budget: int | None = 256 << 20  # Settings.float_map_budget_mb, for the engine's stores
    prefetch = True

    def __init__(self, path: Path, dim: int, *, map_budget: int | None = map_budget) -> None:
        super().__init__(path, dim)
        self.map_budget = map_budget


class CodeStore(RowFile):
    """`[n, dim/8]` packed sign codes (uint8), the same bits as in Milvus."""

    dtype = "u1"
    resident = True

    def __init__(self, path: Path, dim: int) -> None:
        super().__init__(path, dim // 8)


class TierStore(RowFile):
    """`[n, row_bytes]` middle-tier codes (multi-bit scalar codes, uint8), derived from the floats
    with the collection's fitted quantizer; meant to stay in RAM like the codes."""

    dtype = "u1"
    resident = True


class LiveStore(RowFile):
    """`[n, 1]` one byte per row: 1 while Milvus holds the row (inserted and not deleted), 0 before
    its insert is acknowledged and from its delete on. It answers "is this row live?" for the paths
    that read rows from the files instead of from Milvus (the RAM pool, the exact scan) with no
    Milvus round trip: the codes and floats keep deleted rows until a compaction.

    Rows are appended as 0 with the other row files; a write marks its inserted rows 1 once Milvus
    has them and its deleted rows 0 before Milvus deletes them, then `flush`es before its journal
    is removed (`recovery.end`), so a crash at any point leaves the journal that replays the marks.
    Marks are written in place (`pwrite`): replicas sharing the file see them through their maps."""

    dtype = "u1"
    resident = True

    def __init__(self, path: Path) -> None:
        super().__init__(path, 1)
        self._counted: tuple[float, int, int] | None = None  # (monotonic time, rows, live rows)

    @classmethod
    def build(cls, path: Path, rows: int, live: np.ndarray) -> None:
        """Write the file for `rows` rows of which `live` (row ids, e.g. every row Milvus holds) are
        live, atomically (a collection opened before this file existed, or restored from a backup)."""
        flags = np.zeros(rows, np.uint8)
        live = np.asarray(live, np.int64)
        flags[live[(live >= 0) & (live < rows)]] = 1
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(flags.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    def pad_to(self, rows: int) -> None:
        """Rows up to `rows`, not live (rows whose insert no write has acknowledged)."""
        if rows > self.rows:
            self.append(np.zeros((rows - self.rows, 1), np.uint8))

    def mark(self, rows, live: bool) -> None:  # noqa: ANN001 - Sequence[int] | np.ndarray
        """Set `rows` live (1) or not (0), in place; durable at the next `flush`."""
        ids = np.unique(np.asarray(rows, np.int64))
        if ids.size == 0:
            return
        if ids.max() >= self.rows:
            self.refresh()
        if ids.min() < 0 or ids.max() >= self.rows:
            raise IndexError(f"row id out of range [0, {self.rows})")
        starts = np.flatnonzero(np.diff(ids, prepend=ids[0] - 2) != 1)  # runs of consecutive rows
        ends = np.append(starts[1:], ids.size)
        value = b"\x01" if live else b"\x00"
        with self._lock:
            for a, b in zip(ids[starts].tolist(), (ids[ends - 1] + 1).tolist()):
                pwrite_all(self._fd, value * (b - a), a)

    def flush(self) -> None:
        os.fsync(self._fd)

    def mask(self, ids: np.ndarray) -> np.ndarray:
        """`[C]` bool: which of `ids` are live (a row past the file, not yet appended here, is not)."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return np.zeros(0, bool)
        hi = int(ids.max())
        if hi < self.rows or hi < self.refresh():
            return self.gather(ids)[:, 0] == 1  # every id inside the file: no partial copy
        inside = ids < self.rows
        out = np.zeros(ids.size, bool)
        if inside.any():
            out[inside] = self.gather(ids[inside])[:, 0] == 1
        return out

    def count(self, max_age_s: float = 0.0) -> int:
        """Live rows: counted now, or, with `max_age_s`, as counted at most that long ago while the
        file has not grown since. The RAM pool asks on every query only for an estimate of the dead
        rows to skip (an under-count costs one more scan), and a count reads every row's flag: about
        0.4 ms at 10M rows."""
        rows = self.refresh()
        now = time.monotonic()
        c = self._counted
        if max_age_s > 0 and c is not None and c[1] == rows and now - c[0] <= max_age_s:
            return c[2]
        live = int(np.count_nonzero(self.view())) if rows else 0
        self._counted = (now, rows, live)
        return live
