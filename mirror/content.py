"""Upstream content: fetched once, verified, stored in the mirror's own area of the blob store,
served locally from then on.

The first request for a file claims its `MirrorObject` row (the fetch lock, under a lease it
renews) and starts the fetch in a background thread of its process (mirror/spool.py): the
upstream's bytes are hashed and written to the store's verifying writer, whose local temporary
file is the fetch's spool, and the object is published only if they match what the upstream
announced (sha256 of an LFS file, git blob id of a small one), else nothing is kept. Every caller,
the first included, follows the spool as it grows, so the fetch runs at the upstream's pace, not
its first client's. Requests on other hosts (or for another repo naming the same content) wait
for the row to be STORED (or take it over when the fetcher's lease runs out) and read the stored
copy.

SECURITY: the mirror's own area (`mirror_storage`) is apart from the registry's blobs, and no
`RepoObject` is ever made for it: upstream bytes prove nothing for any local repo (an `lfsFile`
naming a mirrored file's sha256 is refused like any content never uploaded there).
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import urllib3
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import HubError
from mirror import services
from mirror.models import MirrorObject, MirrorRepoObject, ObjectState
from registry.storage import BlobStorage, storage_at
from registry.storage import IntegrityError as StorageIntegrityError

LEASE = timedelta(seconds=60)
RENEW_EVERY = 15.0  # seconds between lease renewals of a fetch in progress (on a clock, not per chunk)
CHUNK = 1024 * 1024
READ_PIECE = 64 * 1024  # the most one read of the upstream waits for: it returns what has arrived
# A fetch slower than MIN_RATE bytes/s over any RATE_WINDOW seconds is given up (a trickling
# upstream would hold a fetch thread for ever: each read arrives within the read timeout).
MIN_RATE = 8 * 1024
RATE_WINDOW = 60.0
# Formats that can run code when loaded: fetched whole and scanned before their first byte is served.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".dat", ".zip")
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
MAGIC_BYTES = 8  # enough of a file's first bytes for PICKLE_MAGIC


def mirror_storage() -> BlobStorage:
    return storage_at("mirror", Path(settings.GATEHOUSE_STORAGE_ROOT) / "mirror")


def is_pickle_like(filename: str, head: bytes) -> bool:
    """Whether content must be scanned before it is served: by name, or by its first bytes
    (pickle protocol 2+, and zip/gzip/bz2/xz containers, which may hold pickles)."""
    return filename.lower().endswith(PICKLE_SUFFIXES) or head.startswith(PICKLE_MAGIC)


def stored(upstream: str, oid: str) -> MirrorObject | None:
    return MirrorObject.objects.filter(upstream=upstream, oid=oid, state=ObjectState.STORED).first()


def claim(upstream: str, oid: str, filename: str) -> MirrorObject | None:
    """The row, claimed by this request to fetch the object; None if it is stored or another
    request's fetch holds a live lease."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return MirrorObject.objects.create(
                upstream=upstream, oid=oid, state=ObjectState.FETCHING, lease_until=now + LEASE, filename=filename[:255]
            )
    except IntegrityError:
        pass
    with transaction.atomic():
        row = MirrorObject.objects.select_for_update().filter(upstream=upstream, oid=oid).first()
        if row is None or row.state == ObjectState.STORED:
            return None
        if row.lease_until is not None and row.lease_until > now:
            return None
        row.lease_until = now + LEASE  # the last fetcher died or gave up: take it over
        row.spool_host = row.spool_path = ""  # its followers see their fetch is gone
        row.save(update_fields=["lease_until", "spool_host", "spool_path"])
        return row


def host_name() -> str:
    """This host, as spools name it: a spool is a local file, followed only where it lies."""
    return socket.gethostname()[:255]


def repo_key(repo_type: str, repo_id: str) -> str:
    return f"{repo_type}:{repo_id}"[:255]


def is_followable(row: MirrorObject, fetch_repo: str) -> bool:
    """A fetch in progress whose spool this request can tail: on this host, for the same repo
    (SECURITY: content fetched for another repo is served for this one only once stored and spot
    checked, see MirrorRepoObject), under a live lease."""
    return (
        row.state == ObjectState.FETCHING
        and bool(row.spool_path)
        and row.spool_host == host_name()
        and row.fetch_repo == fetch_repo
        and row.lease_until is not None
        and row.lease_until > timezone.now()
    )


def wait_fetch(
    upstream: str, oid: str, filename: str, *, fetch_repo: str, seconds: float
) -> tuple[str, MirrorObject] | None:
    """Wait on a fetch in progress, polling its row: ("stored", row) once it is; ("follow", row)
    as soon as its spool can be tailed here (`is_followable`); ("claimed", row) if the fetcher
    gave up and this request took the row over; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = MirrorObject.objects.filter(upstream=upstream, oid=oid).first()
        if row is not None and row.state == ObjectState.STORED:
            return "stored", row
        if row is not None and is_followable(row, fetch_repo):
            return "follow", row
        claimed = claim(upstream, oid, filename)
        if claimed is not None:
            return "claimed", claimed
        time.sleep(0.1 if row is not None and row.spool_host == host_name() else 0.2)
    return None


class FetchLost(HubError):
    """This fetch's row was taken over by another (its lease had run out): it stops and writes
    nothing more to the row (found by a review: a fetch whose lease lapsed marked the row STORED
    with its successor's spool, and a failing one wiped its successor's spool path)."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self) -> None:
        super().__init__(
            "This file's fetch from the upstream hub was taken over; try again shortly.",
            headers={"Retry-After": "2"},
        )


def _held(row: MirrorObject, spool_path: str | None):
    """The row as long as this fetch holds it (the fence of every update a fetch makes): FETCHING
    with this fetch's spool, or, before its spool exists, with the very lease its claim set."""
    held = MirrorObject.objects.filter(pk=row.pk, state=ObjectState.FETCHING)
    if spool_path is not None:
        return held.filter(spool_path=spool_path)
    return held.filter(spool_path="", lease_until=row.lease_until)


def release(row: MirrorObject, spool_path: str | None = None) -> None:
    """A fetch that failed or was abandoned (`spool_path`: its spool, once it has one): the next
    request fetches again, and its followers see that their spool is gone (mirror/spool.py cuts
    them short). A fetch that no longer holds the row changes nothing."""
    _held(row, spool_path).update(lease_until=None, spool_host="", spool_path="")


class Fetch:
    """Iterate to receive the object: each chunk is written to the store's verifying writer and
    yielded to the caller. At the end the bytes are checked and published and the row marked
    STORED; on a mismatch (or any failure) the writer is aborted, the row released, and the
    iteration raises, which cuts the caller's response short of its Content-Length.

    Content in a pickle format (by `filename`, or by its first bytes) is STORED with its scan
    queued, in one update: no request can serve it in between (found by a review: marked after
    the first chunk was handed on, a one-chunk pickle was STORED unscanned for a moment)."""

    def __init__(
        self,
        row: MirrorObject,
        response: urllib3.BaseHTTPResponse,
        *,
        is_lfs: bool,
        size: int,
        repo: tuple[str, str],
        filename: str,
    ):
        self.row = row
        self.filename = filename
        self.is_pickle: bool | None = None  # known once the first bytes arrived
        self.repo = repo  # (repo_type, repo_id) it was fetched for
        self.response = response
        self.is_lfs = is_lfs
        self.size = size
        self.writer = mirror_storage().writer(expected_sha256=row.oid if is_lfs else None, expected_size=size)
        self.git_hash = None if is_lfs else hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
        self.spool_path = str(self.writer.spool_path)
        lease = timezone.now() + LEASE  # renewed: the upstream's answer may have taken a while
        fields = {  # size: eviction counts fetches in progress
            "spool_host": host_name(),
            "spool_path": self.spool_path,
            "fetch_repo": repo_key(*repo),
            "size": size,
        }
        if not _held(row, None).update(lease_until=lease, **fields):
            self.writer.abort()
            raise FetchLost()

    def abandon(self) -> None:
        """Never iterated (the request failed before): the temporary goes, the row is released."""
        self.writer.abort()
        release(self.row, self.spool_path)
        self.response.close()
        self.response.release_conn()

    def _renew(self) -> None:
        """Extend the lease; FetchLost if it ran out or another fetch holds the row now (its
        followers were told this fetch failed: it stops)."""
        now = timezone.now()
        if not _held(self.row, self.spool_path).filter(lease_until__gt=now).update(lease_until=now + LEASE):
            raise FetchLost()

    def _pieces(self) -> Iterator[bytes]:
        """The upstream's bytes as they arrive (a read returns what came, at most READ_PIECE:
        urllib3's stream(n) waits for n whole bytes), with the lease renewed on a clock and the
        fetch given up below MIN_RATE. The rate counts only the time spent waiting on the upstream:
        a request that fetches itself (no free thread) is paced by its client too, and a slow
        reader is not the upstream's fault (found by the recheck of issue 21)."""
        renewed = time.monotonic()
        window_bytes, window_waited = 0, 0.0
        head: bytearray | None = bytearray()  # the first piece has MAGIC_BYTES at least (is_pickle_like)
        while True:
            asked = time.monotonic()
            piece = self.response.read1(READ_PIECE, decode_content=False)
            window_waited += time.monotonic() - asked
            if head is not None:
                head += piece
                if piece and len(head) < MAGIC_BYTES:
                    continue
                piece, head = bytes(head), None
            if not piece:
                return
            now = time.monotonic()
            window_bytes += len(piece)
            if window_waited >= RATE_WINDOW:
                if window_bytes < MIN_RATE * window_waited:
                    raise HubError("The upstream hub sends this file too slowly.", status=504, code="UpstreamTimeout")
                window_bytes, window_waited = 0, 0.0
            if now - renewed >= RENEW_EVERY:
                renewed = now
                self._renew()
            yield piece

    def __iter__(self) -> Iterator[bytes]:
        """Each chunk is handed on once the next one arrived: the last is held back until the
        whole is verified and published, so a caller never receives all the bytes of content
        that does not match (its response stops short of its Content-Length instead)."""
        MirrorObject.objects.filter(pk=self.row.pk).update(fetch_count=F("fetch_count") + 1)
        held: bytes | None = None
        try:
            for chunk in self._pieces():
                if self.is_pickle is None:
                    self.is_pickle = is_pickle_like(self.filename, chunk)
                self.writer.write(chunk)
                if self.git_hash is not None:
                    self.git_hash.update(chunk)
                if held is not None:
                    yield held
                held = chunk
            if self.is_pickle is None:
                self.is_pickle = is_pickle_like(self.filename, b"")
            if self.git_hash is not None and self.git_hash.hexdigest() != self.row.oid:
                raise HubError("Upstream content does not match its git blob id.", status=502, code="UpstreamIntegrity")
            try:
                sha256 = self.writer.commit()  # checks the size, and the sha256 of LFS content
            except StorageIntegrityError as exc:
                raise HubError(
                    f"Upstream content does not match: {exc.message}", status=502, code="UpstreamIntegrity"
                ) from None
            with transaction.atomic():
                marked = _held(self.row, self.spool_path).update(
                    state=ObjectState.STORED,
                    sha256=sha256,
                    size=self.size,
                    fetched_at=timezone.now(),
                    lease_until=None,
                    **({"scan_status": "queued"} if self.is_pickle else {}),
                )
                if not marked:  # taken over: its successor marks it (the blob, content-addressed, stays)
                    raise FetchLost()
                served_for_record(self.row.upstream, *self.repo, self.row.oid)
        except BaseException:
            self.writer.abort()
            release(self.row, self.spool_path)
            self.response.close()  # its unread rest must not reach the pool's next request
            raise
        finally:
            self.response.release_conn()
        if held is not None:
            yield held

    def drain(self) -> None:
        """Receive the whole object (no caller reads the chunks: followers tail the spool), then
        queue the scan of pickle-format content."""
        for _ in self:
            pass
        self.scan_if_pickle()

    def scan_if_pickle(self) -> None:
        if self.is_pickle:
            services.scan_request(row_pk=self.row.pk, filename=self.filename.rsplit("/", 1)[-1])


def served_for(upstream: str, repo_type: str, repo_id: str, oid: str) -> bool:
    return MirrorRepoObject.objects.filter(upstream=upstream, repo_type=repo_type, repo_id=repo_id, oid=oid).exists()


def served_for_record(upstream: str, repo_type: str, repo_id: str, oid: str) -> None:
    MirrorRepoObject.objects.get_or_create(upstream=upstream, repo_type=repo_type, repo_id=repo_id, oid=oid)


def stored_sample(row: MirrorObject, start: int, length: int) -> bytes:
    """`length` bytes of the stored copy from `start` (for a spot check against the upstream)."""
    with mirror_storage().open(row.sha256) as handle:
        handle.seek(start)
        return handle.read(length)
