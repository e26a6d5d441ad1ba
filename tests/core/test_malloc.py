"""core.malloc: the web workers' malloc arena limit (inherited through fork) and trim."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import malloc

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(malloc._libc is None, reason="glibc only")

# A parent sets the limit (or not), forks as gunicorn's master does, and the child's 8 threads
# allocate at the same time; the child prints its arenas besides the main one (bench/memprobe.py).
CHILD = """
import os, sys, threading
from core import malloc
from bench.memprobe import arenas
if sys.argv[1] == "limit":
    assert malloc.limit_arenas(2)
pid = os.fork()
if pid == 0:
    def work():
        for _ in range(1500):
            held = [bytes(100_000) for _ in range(4)] + [str(i) * 50 for i in range(100)]
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(arenas(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def _child_arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def test_a_forked_child_inherits_the_arena_limit_of_its_parent():
    assert _child_arenas("limit") <= 1  # the main arena and at most one more
    assert _child_arenas("default") > 1  # the check can fail: without the limit threads get arenas


def test_an_explicit_malloc_arena_max_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert malloc.limit_arenas(2) is False


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_trim_returns_the_pages_of_holes_in_the_heap():
    held = [bytearray(64 * 1024) for _ in range(2000)]  # 128 MiB, below the mmap threshold
    del held[::2]  # 64 MiB of holes between live blocks: free() alone keeps them
    before = _rss()
    assert malloc.trim()
    assert before - _rss() > 32 * 1024**2
