"""Upload limits (GATEHOUSE_MAX_FILE_SIZE, _MAX_COMMIT_SIZE, _MAX_COMMIT_FILES), one wording
for every way in: preupload, the LFS batch, the commit endpoint and the portal's forms; and the
daily byte quota of contributors without write access (GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY).

Callers check sizes that are declared or already known (a form's UploadedFile.size, an LFS
pointer's size) before any byte reaches the blob store, so a refused upload stores nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from accounts.models import User
from core import ratelimit
from core.errors import PayloadTooLarge
from registry.git.paths import validate_new_path

CONTRIBUTOR_WINDOW = 24 * 3600


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'; shown next to the exact byte count, which stays the reference."""
    if size >= 1024**6:  # a client may declare any JSON int; 10**400 is past a float's range
        return f"more than {1024**2} TiB"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def file_too_large_message(size: int, *, label: str) -> str | None:
    """The refusal for one file (named by `label`) larger than the limit, or None if it fits."""
    limit = settings.GATEHOUSE_MAX_FILE_SIZE
    if size <= limit:
        return None
    return (
        f"{label} is {human_size(size)} ({size} bytes); this hub accepts files up to "
        f"{human_size(limit)} ({limit} bytes)."
    )


def check_file_size(*, path: str, size: int) -> None:
    if message := file_too_large_message(size, label=f"'{path}'"):
        raise PayloadTooLarge(message)


@dataclass
class CommitTally:
    """Running totals of one commit, checked as each operation is declared (the ndjson body is
    read line by line, so the whole commit is never known in advance)."""

    files: int = 0
    total: int = 0

    def add(self, *, path: str, size: int = 0) -> None:
        """Count one operation; `size` is what it adds (0 for deletions)."""
        if size:
            check_file_size(path=path, size=size)
        self.files += 1
        self.total += size
        if self.files > settings.GATEHOUSE_MAX_COMMIT_FILES:
            raise PayloadTooLarge(f"A commit may change at most {settings.GATEHOUSE_MAX_COMMIT_FILES} files.")
        if message := commit_too_large_message(self.total):
            raise PayloadTooLarge(message)


def commit_too_large_message(total: int) -> str | None:
    """The refusal for a commit adding `total` bytes, or None if that fits."""
    limit = settings.GATEHOUSE_MAX_COMMIT_SIZE
    if total <= limit:
        return None
    return (
        f"This commit adds more than {human_size(limit)} ({limit} bytes), the most one commit may add "
        "on this hub; split it into several commits."
    )


def check_commit(files: Iterable[tuple[str, int]]) -> None:
    """Check a commit whose additions are all known up front: (path, size) pairs."""
    tally = CommitTally()
    for path, size in files:
        tally.add(path=path, size=size)


def charge_contributor(*, user: User | None, amount: int) -> None:
    """Count `amount` bytes sent by a contributor without write access against their daily quota.

    SECURITY: anyone signed in may push to a pull request, so whatever such a contributor sends
    (Xet xorbs and shards, inline files of the commit endpoint, the portal's pull request form)
    draws from one quota per day, charged before any of it is stored; beyond it, 429 with the
    RateLimit headers the Hub client reads. Writers are not charged: they may commit anyway."""
    ratelimit.charge(
        bucket="contributor-bytes",
        key=str(user.pk if user else ""),
        amount=amount,
        limit=settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY,
        window=CONTRIBUTOR_WINDOW,
        unit="bytes uploaded to pull requests",
    )


UPLOAD_REFUSAL = "gatehouse_upload_refusal"


class LimitedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: once a browser upload passes the file or commit size limit,
    the file being received and every later one are skipped (Django's memory and temp-file
    handlers drop what they held and open nothing more); the rest of the body is still read, so
    the other form fields arrive and the browser gets the page back with the reason. Without it,
    Django spools a whole oversized upload to disk before any view runs.

    SECURITY: after a refusal, request.FILES lacks the skipped files. Views take uploads only
    through `uploaded_files()`, which raises the refusal instead (a test holds every view to it)."""

    def __init__(self, request: HttpRequest | None = None):
        super().__init__(request)
        self.total = 0
        self.file_bytes = 0

    def _refused(self) -> bool:
        return bool(getattr(self.request, UPLOAD_REFUSAL, None))

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self._refused():
            raise SkipFile()
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_bytes += len(raw_data)
        self.total += len(raw_data)
        limit = settings.GATEHOUSE_MAX_FILE_SIZE
        refusal = (
            f"'{self.file_name}' is over the limit: this hub accepts files up to {human_size(limit)} ({limit} bytes)."
            if self.file_bytes > limit
            else commit_too_large_message(self.total)
        )
        if refusal:
            setattr(self.request, UPLOAD_REFUSAL, refusal)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def uploaded_files(request: HttpRequest, field: str = "files") -> list[UploadedFile]:
    """The files of a portal form, or the refusal `LimitedUploadHandler` met while reading them."""
    files = request.FILES.getlist(field)
    if refusal := getattr(request, UPLOAD_REFUSAL, None):
        raise PayloadTooLarge(refusal)
    return files


def check_uploads(files: list[tuple[str, UploadedFile]]) -> list[str]:
    """The validated paths of a browser form's files, once paths and upload limits pass (on the
    sizes the form declared): what a form is refused for before anything is stored or charged."""
    paths = [validate_new_path(path) for path, _ in files]
    check_commit((path, upload.size or 0) for path, (_, upload) in zip(paths, files, strict=True))
    return paths
