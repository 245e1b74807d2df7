"""How the server's process gives freed memory back to the OS: glibc's malloc.

glibc's malloc serves an allocation of at least its *mmap threshold* with a mapping of its own,
unmapped when it is freed; smaller ones come from its heaps, which give memory back by themselves
only from their top. The threshold starts at 128 KiB but adapts: each freed mapped block raises it
to that block's size (up to 32 MiB on 64-bit). After the first ingest batches (numpy arrays of a
few MiB) the server's large temporary arrays (ingest batches, calibration's samples, candidate
pools, exact scan blocks) come from the heaps, and what they leave there when freed stays private
memory of the process, in pieces below the top that the heap does not give back.

glibc also gives threads arenas of their own (a new thread takes a new one), up to 8 per core,
each a 64 MiB heap whose free top stays resident (`malloc_trim` gives back free pages inside an
arena but trims only the main arena's top). A service's thread pools spread its temporary arrays
over those arenas, and each keeps its high-water mark: at 300k rows, after ingest, the server held
281 MiB of private memory, 243.5 MiB of it free in malloc. `limit_arenas` (`BITRAG_MALLOC_ARENAS`,
2 by default) caps them at start-up, before the pools start: 116-163 MiB serving instead of
278-284, at equal speed.

`trim_loop` runs in `bitrag serve`: every `TRIM_INTERVAL_S` it asks glibc how much of its heaps is
free (`mallinfo2`); past `BITRAG_MALLOC_TRIM_FREE_MB` it calls `malloc_trim(0)`, which gives the
free pages back wherever they lie. The query path keeps reusing heap memory. Measured side by side
with glibc's default and with a fixed mmap threshold (`MALLOC_MMAP_THRESHOLD_`, glibc's own
setting: every large block mapped apart, so nothing large stays, but each search pays for fresh
pages) in `bench/results/heap.md`; the arena cap in `bench/results/heap_arena.md`. Both are
no-ops where the C library is not glibc.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import platform
from functools import cache

TRIM_INTERVAL_S = 10.0  # how often the trimmer asks how much of the heaps is free
M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


class MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (2.33+): byte counts as size_t."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@cache
def _libc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallinfo2"):  # glibc older than 2.33
        return None
    libc.mallinfo2.restype = MallInfo2
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def available() -> bool:
    """glibc's malloc (2.33+) is this process': the trimmer has something to ask and to trim."""
    return _libc() is not None


def free_heap_bytes() -> int | None:
    """Bytes in free chunks of glibc's heaps (resident or not); None off glibc."""
    libc = _libc()
    return None if libc is None else int(libc.mallinfo2().fordblks)


def limit_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at `arenas` (0: leave glibc's default, 8 per core). glibc fixes the
    cap when it first needs more arenas than it has started, so call this before the thread pools
    start. True when the cap was set."""
    libc = _libc()
    return libc is not None and arenas > 0 and libc.mallopt(M_ARENA_MAX, arenas) == 1


def trim_if_free(free_bytes: int) -> bool:
    """`malloc_trim(0)` when at least `free_bytes` of the heaps are free: their free pages go back
    to the OS. True when it trimmed."""
    libc = _libc()
    free = free_heap_bytes()
    if libc is None or free is None or free_bytes <= 0 or free < free_bytes:
        return False
    libc.malloc_trim(0)
    return True


async def trim_loop(free_mb: int, interval_s: float | None = None) -> None:
    """Background: every `interval_s` (default `TRIM_INTERVAL_S`), trim past `free_mb` MiB free."""
    if free_mb <= 0 or not available():
        return
    while True:
        await asyncio.sleep(TRIM_INTERVAL_S if interval_s is None else interval_s)
        await asyncio.to_thread(trim_if_free, free_mb << 20)

