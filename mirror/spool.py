"""Fetches that run on their own, and the callers that follow them.

A fetch (`content.Fetch`) runs in a background thread of the web process that started it, at
the upstream's pace: a slow first client no longer slows it, and one that disconnects no longer
aborts it. Its bytes land in the verifying writer's local temporary file (the spool), and every
caller on this host, the first included, tails that file as it grows (`Follower`).

Why a thread here and not a Celery task: the spool must be on the host whose requests tail it,
and a worker runs elsewhere (and behind a queue that scans and previews also use); the first
byte should leave at once. The threads are bounded per process (GATEHOUSE_MIRROR_FETCH_THREADS);
past that the request fetches as before, streaming to its own caller (paced by it, aborted if it
leaves) while other requests still follow the spool. A thread (or process) that dies leaves its
row under a lease that runs out (`content.LEASE`): the next request takes the fetch over.

What a follower guarantees:
- never a complete response of unverified bytes: the last HOLD bytes of the file are sent only
  once the row is STORED with this very spool (the verified one); a failed fetch (mismatch,
  upstream error, lease run out, another fetch took over) cuts every follower short of its
  Content-Length;
- bounded waits: the spool's size is polled with a sleep that backs off to 0.2 s, the row read
  at most every 0.25 s while no byte arrives, and a follower that saw the spool not grow for
  GATEHOUSE_MIRROR_FOLLOW_SECONDS gives up (cut short); the fetch itself renews its lease on a
  clock as its bytes arrive, and gives up an upstream slower than `content.MIN_RATE`;
- ranges: a Range of a file being fetched is served from the spool as its bytes arrive. Bytes
  before the file's last HOLD are upstream bytes not yet verified when sent (as with the first
  full download; a range alone cannot be verified). Pickle-format content is never served
  from a spool (the view refuses it by name, and by its first bytes, before any byte).

Several hosts: the spool is a local file on every backend (S3 uploads it at commit). A request on
another host than the fetcher's does not tail it: it waits for the row to be STORED (bounded by
GATEHOUSE_MIRROR_FOLLOW_SECONDS, then a 503 with Retry-After) and reads the stored copy, as
before. Route /resolve by path to one host where several serve the mirror, to follow everywhere.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import ResponseCutShort
from mirror import services
from mirror.content import CHUNK, Fetch
from mirror.models import MirrorObject, ObjectState

logger = logging.getLogger(__name__)
HOLD = CHUNK  # the file's last bytes wait for its verification
HEAD = 8  # bytes enough for content.is_pickle_like's magic numbers
ROW_CHECK_EVERY = 0.25
MAX_NAP = 0.2

_slots = threading.Lock()
_running = 0


class FetchFailed(ResponseCutShort):
    """The fetch a follower tails failed or was given up: its response ends short."""


def running_fetches() -> int:
    return _running


def start(fetch: Fetch) -> bool:
    """Run `fetch` in a background thread; False (nothing started) when this process already
    runs GATEHOUSE_MIRROR_FETCH_THREADS of them."""
    global _running
    with _slots:
        if _running >= settings.GATEHOUSE_MIRROR_FETCH_THREADS:
            return False
        _running += 1
    try:
        thread = threading.Thread(target=_run, args=(fetch,), name=f"mirror-fetch-{fetch.row.pk}", daemon=True)
        thread.start()
    except BaseException:
        _free_slot()
        raise
    return True


def _free_slot() -> None:
    global _running
    with _slots:
        _running -= 1


def _run(fetch: Fetch) -> None:
    """The thread: receive the whole object; a failure has released the row (followers stop)."""
    try:
        fetch.drain()
    except Exception as exc:  # noqa: BLE001 - logged: nobody else will see it
        logger.warning("Mirror fetch of %s (%s) failed: %s", fetch.row.oid, fetch.row.upstream, exc)
    else:
        services.objects_evict_soon()  # stored now, so counted; never raises
    finally:
        connection.close()  # this thread's own database connection
        _free_slot()


def fetch_state(row_pk: int, spool_path: str) -> str:
    """The state of the fetch writing `spool_path`: "stored" (verified, from this very spool),
    "running", or "failed" (released, taken over by another fetch, or its lease ran out)."""
    row = MirrorObject.objects.filter(pk=row_pk).values("state", "spool_path", "lease_until").first()
    if row is None or row["spool_path"] != spool_path:
        return "failed"
    if row["state"] == ObjectState.STORED:
        return "stored"
    if row["lease_until"] is None or row["lease_until"] <= timezone.now():
        return "failed"
    return "running"


class Follower:
    """Tail one fetch's spool (the file of `spool_path`, `size` bytes once complete). Opened at
    once, so the bytes stay readable once the file is renamed into the store or deleted."""

    def __init__(self, row_pk: int, spool_path: str, size: int):
        self.row_pk = row_pk
        self.spool_path = spool_path
        self.size = size
        self.fd = -1
        self.fd = os.open(spool_path, os.O_RDONLY)  # FileNotFoundError: the fetch is already gone
        self.is_verified = False
        self._next_check = 0.0
        self._range = (0, size - 1)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # a follower dropped on a path that did not close it
        self.close()

    def _available(self) -> int:
        return os.fstat(self.fd).st_size

    def _check(self, now: float) -> None:
        """Read the row (at most every ROW_CHECK_EVERY): verified, or failed (raises)."""
        if now < self._next_check:
            return
        self._next_check = now + ROW_CHECK_EVERY
        state = fetch_state(self.row_pk, self.spool_path)
        if state == "failed":
            raise FetchFailed("The fetch from the upstream hub failed.")
        self.is_verified = state == "stored"

    def _wait_for(self, wanted: int, *, raw: bool = False, verified: bool = False) -> int:
        """Block until `wanted` bytes of the spool may be read (`raw`: whether verified or not;
        else the last HOLD wait for the verification; `verified`: and the fetch is verified);
        returns how many may be. Raises FetchFailed when the fetch fails or stalls."""
        nap = 0.01
        idle_since = time.monotonic()
        seen = -1
        while True:
            on_disk = self._available()
            if on_disk > seen:  # any growth is progress (found by a review: measured per call)
                seen, idle_since = on_disk, time.monotonic()
            readable = on_disk if raw or self.is_verified else min(on_disk, max(self.size - HOLD, 0))
            if readable >= wanted and (self.is_verified or not verified):
                return readable
            now = time.monotonic()
            was_verified = self.is_verified
            self._check(now)
            if self.is_verified:
                if on_disk < self.size:
                    raise FetchFailed("The spool of a verified fetch is short.")
                if not was_verified:
                    continue
            if now - idle_since > settings.GATEHOUSE_MIRROR_FOLLOW_SECONDS:
                raise FetchFailed("The fetch from the upstream hub stalled.")
            time.sleep(nap)
            nap = min(nap * 2, MAX_NAP)

    def head(self) -> bytes:
        """The first bytes (enough to tell a pickle format), once they are there."""
        wanted = min(HEAD, self.size)
        self._wait_for(wanted, raw=True)
        return os.pread(self.fd, wanted, 0)

    def wait_first(self, start: int) -> None:
        """Block until the range's first byte may be sent (an empty file: until verified), so a
        fetch that fails before it raises FetchFailed here, before the response starts (else it
        surfaced from the body's first read: a bare 500 page from the server, not a 502)."""
        if self.size == 0:
            self._wait_for(0, verified=True)
        else:
            self._wait_for(start + 1)

    def serve(self, start: int, end: int) -> Follower:
        """Make this the body of a response: bytes `start`..`end` (inclusive). The response
        closes it (and its descriptor) even if its body was never read."""
        self._range = (start, end)
        return self

    def __iter__(self) -> Iterator[bytes]:
        """The bytes of the range as they arrive; a range that reaches into the last HOLD bytes
        (or the whole of an empty file) ends only once the fetch is verified."""
        try:
            start, end = self._range
            offset, stop = start, end + 1
            needs_verification = stop > self.size - HOLD or self.size == 0
            while offset < stop:
                available = self._wait_for(offset + 1)
                data = os.pread(self.fd, min(CHUNK, min(available, stop) - offset), offset)
                if not data:
                    raise FetchFailed("The spool ended early.")
                offset += len(data)
                yield data
            if needs_verification and not self.is_verified:
                self._wait_for(self.size, verified=True)
        finally:
            self.close()
