"""glibc malloc settings for the threaded web workers (issue 17's RSS goal).

Why: glibc gives threads that allocate at the same time arenas of their own, up to 8 per core
(16 on this two-core box), and keeps in each what its requests freed, for the next peak of the
thread that happens to use that arena. A gunicorn worker of 8 threads grew by 60-80 MiB this way
over the soak's first minutes (10 arenas; bytes free but kept by malloc 70-80 MiB against 30 MiB in
use), then kept creeping as more arenas met their own peaks (1.5 MiB commits decoded from base64,
pack and JSON buffers), levelling off only after 20-odd minutes. Measured with bench/memprobe.py
(mallinfo2 per worker, an A/B in one run): with 2 arenas the free-but-kept bytes stayed at 8-28 MiB.

`limit_arenas` is called where config/gunicorn.conf.py is read, in the master before it forks, so
every worker inherits it (as `MALLOC_ARENA_MAX=2` would, without depending on the environment);
an explicit `MALLOC_ARENA_MAX` wins. `trim` hands free pages back to the system (malloc_trim(0):
every arena, not only the top of the main heap). Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_libc = _glibc()


def limit_arenas(arenas: int = 2) -> bool:
    """At most `arenas` malloc arenas in this process and the children it forks from now on
    (arenas that exist already stay). False where not glibc or where MALLOC_ARENA_MAX is set."""
    if _libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(_libc.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Return the free pages of every arena to the system; True if any were."""
    return bool(_libc.malloc_trim(0)) if _libc is not None else False
