"""Memory probe of one gunicorn worker, for the soak's RSS investigation (issue 17).

Armed only by `GATEHOUSE_MEMPROBE_DIR` (config/gunicorn.conf.py's post_fork starts it): a daemon
thread writes, every `GATEHOUSE_MEMPROBE_EVERY_S` (30) seconds, one JSON line per worker to
`<dir>/<pid>.jsonl`: RSS and anonymous memory (/proc/self/smaps_rollup), glibc's own account of
its heap (mallinfo2: bytes in use, bytes free but kept, mmapped bytes), the number of malloc arenas
(their 64 MiB mappings in /proc/self/maps), gc counts, the number of objects gc tracks, and what
each core.bytecache cache holds against its bound.

`GATEHOUSE_MEMPROBE_TRACE=1`: the first worker (age 1) also runs tracemalloc and, every
`GATEHOUSE_MEMPROBE_SNAP_S` (300) seconds from its start, diffs a snapshot against the first one
(top lines, and object counts by type), to `<dir>/<pid>.diff.txt`.
`GATEHOUSE_MEMPROBE_TRIM_AT_S`: at that age (seconds), each worker calls malloc_trim(0) once and
records its RSS before and after: memory glibc kept but Python had freed.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import re
import threading
import time
import tracemalloc
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd")] + [
        (name, ctypes.c_size_t) for name in ("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _Mallinfo2


def smaps() -> dict[str, int]:
    text = Path("/proc/self/smaps_rollup").read_text()
    found = re.findall(r"^(Rss|Anonymous|Private_Dirty):\s+(\d+) kB", text, re.M)
    return {key: int(value) * 1024 for key, value in found}


def arenas() -> int:
    """Threads' malloc arenas: each reserves a 64 MiB (HEAP_MAX) region, mapped in two parts."""
    count = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) == 5:  # anonymous
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start % (64 * 1024**2) == 0 and fields[1].startswith("rw"):
                count += 1
    return count


def sample(started: float) -> dict:
    from core.bytecache import CACHES

    info = _libc.mallinfo2()
    return {
        "t": round(time.time(), 1),
        "age_s": round(time.monotonic() - started, 1),
        **smaps(),
        "malloc_in_use": info.uordblks,
        "malloc_free_kept": info.fordblks,
        "malloc_mmapped": info.hblkhd,
        "malloc_arena_bytes": info.arena,
        "arenas": arenas(),
        "threads": threading.active_count(),
        "gc_count": gc.get_count(),
        "gc_objects": len(gc.get_objects()),
        "caches": {name: [cache.currsize, cache.maxsize, len(cache)] for name, cache in CACHES.items()},
        "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None,
        "tracemalloc_own": tracemalloc.get_tracemalloc_memory() if tracemalloc.is_tracing() else None,
    }


def _type_counts() -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def _run(folder: Path, age: int, started: float) -> None:
    every = float(os.environ.get("GATEHOUSE_MEMPROBE_EVERY_S", 30))
    snap_every = float(os.environ.get("GATEHOUSE_MEMPROBE_SNAP_S", 300))
    trim_at = float(os.environ.get("GATEHOUSE_MEMPROBE_TRIM_AT_S", 0)) or None
    out = folder / f"{os.getpid()}.jsonl"
    diff_out = folder / f"{os.getpid()}.diff.txt"
    base = base_types = None
    next_snap = snap_every
    while True:
        time.sleep(every)
        record = sample(started)
        record["worker_age"] = age
        if trim_at is not None and record["age_s"] >= trim_at:
            trim_at = None
            before = smaps()["Rss"]
            _libc.malloc_trim(0)
            record["trim"] = {"rss_before": before, "rss_after": smaps()["Rss"]}
        with out.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if tracemalloc.is_tracing() and record["age_s"] >= next_snap:
            next_snap += snap_every
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            types = _type_counts()
            if base is None:
                base, base_types = snapshot, types
                continue
            with diff_out.open("a") as f:
                rss, traced = record["Rss"] / 2**20, record["traced"] / 2**20
                f.write(f"\n=== age {record['age_s']} s, RSS {rss:.1f} MiB, traced {traced:.1f} MiB\n")
                for stat in snapshot.compare_to(base, "lineno")[:25]:
                    f.write(f"{stat}\n")
                f.write("-- object counts by type, change since the first snapshot\n")
                change = types.copy()
                change.subtract(base_types)
                for name, n in change.most_common(15):
                    f.write(f"{name}: {n:+d} (now {types[name]})\n")


def start(age: int) -> None:
    folder = Path(os.environ["GATEHOUSE_MEMPROBE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get("GATEHOUSE_MEMPROBE_TRACE") == "1" and age == 1:
        tracemalloc.start(1)
    threading.Thread(target=_run, args=(folder, age, time.monotonic()), name="memprobe", daemon=True).start()
