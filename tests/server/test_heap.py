"""heap.py on glibc (the C library of the server's Linux images and of CI): the trimmer gives back
free heap memory below the heap's top, which glibc keeps by itself; the arena cap holds. Each case runs in a fresh
interpreter: malloc's state is process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bitrag_server.config import Settings

# 1,536 blocks of 64 KiB (below the mmap threshold: from the heap), each followed by a small one
# that stays: freeing the large ones leaves ~96 MiB free in the middle of the heap, resident.
# Then the step under test (argv[1]) with its argument (argv[2]).
HOLES = r"""
import asyncio, ctypes, json, sys
from bitrag_server import heap

def private_kib():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
big, small = [], []
for _ in range(1536):
    b = libc.malloc(64 << 10)
    ctypes.memset(b, 1, 64 << 10)
    big.append(b)
    small.append(libc.malloc(64))
for b in big:
    libc.free(b)
out = {"available": heap.available(), "held_kib": private_kib(), "free": heap.free_heap_bytes()}
step, arg = sys.argv[1], int(sys.argv[2])
if step == "trim":
    out["trimmed"] = heap.trim_if_free(arg << 20)
else:  # the server's loop, asked every 50 ms, for half a second
    async def loop():
        try:
            await asyncio.wait_for(heap.trim_loop(arg, interval_s=0.05), 0.5)
            out["returned"] = True  # the loop gave up at once (free_mb 0)
        except asyncio.TimeoutError:
            out["returned"] = False
    asyncio.run(loop())
out["after_kib"] = private_kib()
print(json.dumps(out))
"""


# argv[1] arenas for limit_arenas (0: glibc's default), then 6 threads malloc at once: how many
# arenas glibc has then (malloc_info writes one <heap nr=...> per arena).
ARENAS = r"""
import ctypes, json, re, sys, tempfile, threading
from bitrag_server import heap

limited = heap.limit_arenas(int(sys.argv[1]))
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
all_in = threading.Barrier(7)
blocks = []

def work():
    blocks.append(libc.malloc(64 << 10))  # a thread's first malloc picks its arena
    all_in.wait()
    all_in.wait()

threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
all_in.wait()
with tempfile.NamedTemporaryFile(suffix=".xml") as f:
    fp = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    arenas = len(re.findall(r"<heap nr=", open(f.name).read()))
all_in.wait()
for t in threads:
    t.join()
print(json.dumps({"limited": limited, "arenas": arenas}))
"""


def run(probe: str, *args: object) -> dict:
    """`probe` in a fresh interpreter (no MALLOC_* tunables from this one) with `args`: its JSON line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", probe, *map(str, args)], env=clean, capture_output=True,
                         text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_past_the_free_size_the_trim_gives_back_what_the_heap_keeps_by_itself() -> None:
    r = run(HOLES, "trim", 32)
    assert r["available"] is True
    assert r["free"] >= 64 << 20  # the freed blocks are free chunks of the heap ...
    assert r["trimmed"] is True
    assert r["after_kib"] < r["held_kib"] - 64 * 1024  # ... and most of their 96 MiB went back


def test_below_the_free_size_nothing_is_trimmed() -> None:
    r = run(HOLES, "trim", 1024)  # 1 GiB free asked for: not reached
    assert r["trimmed"] is False
    assert r["after_kib"] > r["held_kib"] - 8 * 1024  # the free chunks stay resident


def test_the_servers_loop_trims_on_its_own() -> None:
    r = run(HOLES, "loop", 32)
    assert r["returned"] is False  # it keeps running until cancelled
    assert r["after_kib"] < r["held_kib"] - 64 * 1024


def test_the_loop_is_off_at_zero() -> None:
    r = run(HOLES, "loop", 0)
    assert r["returned"] is True
    assert r["after_kib"] > r["held_kib"] - 8 * 1024


def test_glibc_gives_threads_arenas_of_their_own_unless_capped() -> None:
    free_for_all = run(ARENAS, 0)
    assert free_for_all["limited"] is False
    assert free_for_all["arenas"] >= 3  # 6 threads at once: up to 8 per core
    assert run(ARENAS, 1) == {"limited": True, "arenas": 1}
    assert run(ARENAS, 2) == {"limited": True, "arenas": 2}


def test_the_settings_are_bounded() -> None:
    assert Settings().malloc_trim_free_mb == 32
    assert Settings().malloc_arenas == 2
    with pytest.raises(ValueError, match="malloc_trim_free_mb"):
        Settings(malloc_trim_free_mb=-1)
    with pytest.raises(ValueError, match="malloc_arenas"):
        Settings(malloc_arenas=-1)
