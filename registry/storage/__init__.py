"""Content-addressed blob storage, keyed by the sha256 of the content (or another content
address a caller verified, such as a Xet xorb hash).

One interface (`BlobStorage`), two backends chosen by GATEHOUSE_STORAGE_URL: `LocalStorage`
(`registry.storage.local`, the default) and `registry.storage.s3storage.S3Storage`. Both write through the verifying
`registry.storage.blobwriter.LocalBlobWriter`: bytes go to a private temporary file, are hashed as they
are written and checked against what the caller expected, and only then published (here: fsync,
rename into place, fsync of the directory). A crash at any point leaves either nothing or a
complete, verified object under its key; stray temporary files are removed by `clean_tmp`
(`gc_blobs`). Objects are immutable once visible.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings

from core.errors import BadRequest
from registry.storage.blobwriter import (  # noqa: F401 - re-exported: callers import them from here
    COPY_CHUNK,
    FLUSH_BEHIND,
    PIPELINE_MIN_SIZE,
    RECEIVE_CHUNK,
    IntegrityError,
    LocalBlobWriter,
)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobWriter(Protocol):
    sha256: str
    size: int

    @property
    def spool_path(self) -> Path: ...  # the local temporary being written (see LocalBlobWriter)
    def write(self, data: bytes) -> None: ...
    def write_from(self, stream: BinaryIO, length: int | None = None) -> None: ...
    def commit(self) -> str: ...
    def abort(self) -> None: ...
    def __enter__(self) -> BlobWriter: ...
    def __exit__(self, exc_type, exc, tb) -> None: ...


class BlobStorage(Protocol):
    """What every backend offers (`LocalStorage`, `registry.storage.s3storage.S3Storage`). Objects are named
    by a content address the writer verified (sha256, or a Xet hash the caller checked)."""

    tmp_dir: Path  # local scratch: upload temporaries, multipart parts
    serves_signed_urls: bool  # clients fetch bytes from the store itself (`presigned_get`)

    def info(self, sha256: str) -> tuple[int, float] | None: ...  # (size, mtime), None if absent
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def open(self, sha256: str) -> BinaryIO: ...  # FileNotFoundError if absent
    def local_path(self, sha256: str) -> Path | None: ...  # None where objects are not local files
    def writer(
        self,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
        key: str | None = None,
    ) -> BlobWriter: ...
    def put_bytes(self, data: bytes) -> str: ...
    def delete(self, sha256: str) -> None: ...
    def iter_objects(self) -> Iterator[tuple[str, int, float]]: ...
    def clean_tmp(self, *, older_than_seconds: float) -> int: ...
    def presigned_get(self, sha256: str, *, filename: str, is_private: bool) -> str | None: ...
    def presigned_range(self, name: str, first: int, last: int) -> str | None: ...


def _check_key(sha256: str) -> str:
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise BadRequest("Invalid object id: expected 64 lowercase hex characters.")
    return sha256


class PublishingStorage:
    """What every store shares: writes are staged in a local file by the verifying writer
    (registry.storage.blobwriter) and handed to the store's `publish` under their content address."""

    def writer(self, *, expected_sha256=None, expected_size=None, max_size=None, key=None) -> LocalBlobWriter:
        for name in (expected_sha256, key):
            if name is not None:
                _check_key(name)
        return LocalBlobWriter(
            self,  # type: ignore[arg-type]  # LocalStorage and S3Storage, which define publish
            expected_sha256=expected_sha256,
            expected_size=expected_size,
            max_size=max_size,
            key=key,
        )

    def put_bytes(self, data: bytes) -> str:
        with self.writer() as writer:
            writer.write(data)
            return writer.commit()


# After the definitions above, which the local backend builds on.
from registry.storage.local import LocalStorage  # noqa: E402


@lru_cache(maxsize=8)
def _storage_for(root: str) -> LocalStorage:
    return LocalStorage(Path(root))


def storage_at(area: str, local_root: Path) -> BlobStorage:
    """The store of one area of content ("" for blobs, "xet", "xet-shards", "previews"): under
    `local_root` on the local disk, or under `<prefix>/<area>/` in the bucket of
    GATEHOUSE_STORAGE_URL, with `local_root` left for scratch files."""
    url = settings.GATEHOUSE_STORAGE_URL
    if not url:
        return _storage_for(str(local_root))
    from registry.storage.s3storage import s3_storage_for

    return s3_storage_for(url, area, str(local_root))


def bucket_readiness() -> dict:
    """/readyz's check of the object store (core.health.storage_checks); nothing on the local disk."""
    if not settings.GATEHOUSE_STORAGE_URL:
        return {"ok": True}
    from registry.storage.s3storage import bucket_check  # boto3: only where S3 is configured

    return bucket_check()


def get_storage() -> BlobStorage:
    return storage_at("", Path(settings.GATEHOUSE_STORAGE_ROOT))


def get_xet_storage() -> BlobStorage:
    """Xet xorbs, keyed by their xorb hash string; kept apart from the sha256-keyed objects."""
    return storage_at("xet", Path(settings.GATEHOUSE_STORAGE_ROOT) / "xet")


def get_xet_shard_storage() -> BlobStorage:
    """Xet shards as received, keyed by their sha256."""
    return storage_at("xet-shards", Path(settings.GATEHOUSE_STORAGE_ROOT) / "xet-shards")


def get_read_cache() -> LocalStorage:
    """Local plain copies of stored content for code that needs a file path (the pickle scanner,
    the preview workers): the blob store itself on the local backend, a cache beside it on S3."""
    if not settings.GATEHOUSE_STORAGE_URL:
        return _storage_for(str(settings.GATEHOUSE_STORAGE_ROOT))
    return _storage_for(str(Path(settings.GATEHOUSE_STORAGE_ROOT) / "s3-cache"))


def reset_storage_caches() -> None:
    """Forget the stores made so far (tests that change the storage settings)."""
    _storage_for.cache_clear()
    if settings.GATEHOUSE_STORAGE_URL or "registry.storage.s3storage" in sys.modules:
        from registry.storage.s3storage import _client, s3_storage_for

        s3_storage_for.cache_clear()
        _client.cache_clear()
