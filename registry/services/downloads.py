"""Download counts, batched: a tally in each process, written as one UPDATE per repo every few seconds.

Counting a download used to be an UPDATE in the download's own request. Under `make soak` on
SQLite, where one writer holds the database at a time, those writes queued behind commits until
the busy timeout ran out, and downloads failed with 503 "database is locked". Now a download adds 1
to this process's tally (`repo_downloads_increment`, a dict under a lock, no query), and
`repo_downloads_flush` writes the tally: one transaction, one `UPDATE ... SET downloads =
downloads + n` per repo. It runs

- every `GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS` (5) in a daemon thread of the process, started by
  the process's first download;
- at once when the process is told to stop (`core.lifecycle`: gunicorn's SIGTERM), and again when
  it exits cleanly (gunicorn's `worker_exit` hook, `atexit`).

Counts are eventually exact: a flush that fails (database down or locked) puts its counts back for
the next one, and a clean shutdown writes everything counted. A process killed outright (SIGKILL,
the OOM killer) loses what it counted since its last flush: at most the downloads of
`GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS` (plus however long the database was unreachable before).
A flush whose commit fails *after* the database applied it would count its batch twice; that
needs the connection to break during COMMIT and is logged.

With `GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS = 0` every download is written as it is counted, in
the request (the test suite does this, so that its assertions can read the count at once).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F

from core import lifecycle
from registry.metrics import DOWNLOADS
from registry.models import Repo

logger = logging.getLogger(__name__)

# Repos written per transaction: a flush of many repos does not hold SQLite's one write lock long.
FLUSH_CHUNK = 500


class DownloadTally:
    """Downloads counted in this process and not written yet, by repo pk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # one flush at a time (the thread, a hook, atexit)
        self._stopped = False

    def add(self, repo_pk: int, n: int = 1) -> None:
        with self._lock:
            self._counts[repo_pk] += n
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="download-counts", daemon=True)
                self._thread.start()

    def pending(self) -> dict[int, int]:
        with self._lock:
            return dict(self._counts)

    def take(self) -> dict[int, int]:
        with self._lock:
            taken, self._counts = dict(self._counts), Counter()
        return taken

    def put_back(self, counts: dict[int, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def flush_soon(self) -> None:
        """Safe in a signal handler: only sets an event the flushing thread waits on."""
        self._wake.set()

    def flush(self) -> int:
        """Write every pending count; returns how many downloads were written. On failure the
        counts stay pending (and the error propagates)."""
        with self._flushing:
            batch = self.take()
            if not batch:
                return 0
            items = sorted(batch.items())
            written = 0
            try:
                for start in range(0, len(items), FLUSH_CHUNK):
                    chunk = items[start : start + FLUSH_CHUNK]
                    with transaction.atomic():
                        for repo_pk, n in chunk:
                            Repo.objects.filter(pk=repo_pk).update(downloads=F("downloads") + n)
                    for repo_pk, n in chunk:  # written: nothing of this chunk to put back
                        del batch[repo_pk]
                        written += n
            except BaseException:
                self.put_back(batch)
                raise
            return written

    def stop(self) -> None:
        """End the flushing thread after one last flush (tests; a process just exits)."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(flush_interval() or 5.0)
            self._wake.clear()
            try:
                close_old_connections()
                self.flush()
            except Exception:
                logger.warning("Download counts not written yet (kept for the next try)", exc_info=True)
            finally:
                # This thread's own connection: closed, not kept idle between flushes.
                connection.close()


_tally = DownloadTally()


def _reset_after_fork() -> None:
    """A forked child starts with an empty tally and no flushing thread (the parent's counts are
    the parent's to write)."""
    global _tally
    _tally = DownloadTally()


os.register_at_fork(after_in_child=_reset_after_fork)


def flush_interval() -> float:
    return float(settings.GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS)


def repo_downloads_increment(*, repo: Repo) -> None:
    """One more download of `repo` (the caller applied the Hub's counting rule: selectors)."""
    DOWNLOADS.inc()
    if flush_interval() <= 0:
        Repo.objects.filter(pk=repo.pk).update(downloads=F("downloads") + 1)
        return
    _tally.add(repo.pk)


def repo_downloads_flush() -> int:
    """Write this process's pending download counts now (see the module's docstring)."""
    return _tally.flush()


def repo_downloads_pending() -> dict[int, int]:
    """Counted in this process and not written yet, by repo pk."""
    return _tally.pending()


def _flush_at_exit() -> None:
    if not _tally.pending():
        return
    try:
        written = _tally.flush()
    except Exception:
        logger.error("Download counts lost at exit: %s", _tally.pending(), exc_info=True)
    else:
        logger.info("Wrote %d download counts at exit", written)


atexit.register(_flush_at_exit)
lifecycle.on_stopping(lambda: _tally.flush_soon())
