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
RENEW_EVERY = 15.0  # seconds between lease renewals of a fetch in progress
CHUNK = 1024 * 1024
# Formats that can run code when loaded: fetched whole and scanned before their first byte is served.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".dat", ".zip")
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")


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


def release(row: MirrorObject) -> None:
    """A fetch that failed or was abandoned: the next request fetches again, and its followers
    see that their spool is gone (mirror/spool.py cuts them short)."""
    MirrorObject.objects.filter(pk=row.pk, state=ObjectState.FETCHING).update(
        lease_until=None, spool_host="", spool_path=""
    )


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
        MirrorObject.objects.filter(pk=row.pk).update(  # size: eviction counts fetches in progress
            spool_host=host_name(), spool_path=self.spool_path, fetch_repo=repo_key(*repo), size=size
        )

    def __iter__(self) -> Iterator[bytes]:
        """Each chunk is handed on once the next one arrived: the last is held back until the
        whole is verified and published, so a caller never receives all the bytes of content
        that does not match (its response stops short of its Content-Length instead)."""
        renewed = time.monotonic()
        MirrorObject.objects.filter(pk=self.row.pk).update(fetch_count=F("fetch_count") + 1)
        held: bytes | None = None
        try:
            for chunk in self.response.stream(CHUNK, decode_content=False):
                if self.is_pickle is None:
                    self.is_pickle = is_pickle_like(self.filename, chunk)
                self.writer.write(chunk)
                if self.git_hash is not None:
                    self.git_hash.update(chunk)
                if held is not None:
                    yield held
                held = chunk
                if time.monotonic() - renewed > RENEW_EVERY:
                    renewed = time.monotonic()
                    MirrorObject.objects.filter(pk=self.row.pk).update(lease_until=timezone.now() + LEASE)
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
                MirrorObject.objects.filter(pk=self.row.pk).update(
                    state=ObjectState.STORED,
                    sha256=sha256,
                    size=self.size,
                    fetched_at=timezone.now(),
                    lease_until=None,
                    **({"scan_status": "queued"} if self.is_pickle else {}),
                )
                served_for_record(self.row.upstream, *self.repo, self.row.oid)
        except BaseException:
            self.writer.abort()
            release(self.row)
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
