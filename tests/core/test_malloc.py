"""core.malloc: the web workers' malloc arena limit (inherited through fork) and trim."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from core import malloc
from tests.support.builders import make_repo
from tests.support.gunicorn import deployed_gunicorn, hub_env

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


def _gunicorn_workers() -> list[psutil.Process]:
    """This test's gunicorn workers: children of a gunicorn master that is a child of ours."""
    masters = [p for p in psutil.Process().children() if "config/gunicorn.conf.py" in p.cmdline()]
    return [worker for master in masters for worker in master.children()]


def _thread_arenas(pid: int) -> int:
    """bench/memprobe.py's count, read from outside the process."""
    count = 0
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) == 5:
            start = int(fields[0].split("-")[0], 16)
            if start % (64 * 1024**2) == 0 and fields[1].startswith("rw"):
                count += 1
    return count


@pytest.mark.django_db(transaction=True)
def test_a_deployed_web_worker_keeps_to_two_arenas_under_concurrent_requests(alice, tmp_path):
    """gunicorn as deployed (config/gunicorn.conf.py, 8 threads a worker): 16 clients at once
    download and list, and the worker still has the main arena and at most one more. (With
    MALLOC_ARENA_MAX=8 in its environment the same load gave it 7, twice out of twice.)"""
    repo = make_repo(alice, "arenas", {"config.json": b"{}", "weights.bin": os.urandom(300_000)})
    env = hub_env(tmp_path, CELERY_BROKER_URL="memory://")
    paths = [f"/{repo.repo_id}/resolve/main/weights.bin", f"/api/models/{repo.repo_id}/tree/main", "/api/models"]

    def client(n: int) -> None:
        with requests.Session() as session:
            for i in range(30):
                assert session.get(f"{base}{paths[(n + i) % 3]}", timeout=30).status_code == 200

    with deployed_gunicorn(log=tmp_path / "gunicorn.log", env=env, workers=1) as base:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(client, range(16)))
        (worker,) = _gunicorn_workers()
        assert _thread_arenas(worker.pid) <= 1
