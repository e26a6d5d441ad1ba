"""The S3 backend of the blob store (`GATEHOUSE_STORAGE_URL=s3://bucket/prefix`), through boto3.

Objects keep the local layout under the prefix (`<prefix>/<area>/objects/ab/cd/<name>`), so a
local store moves to a bucket with a plain copy of its `objects` folders. Writes are spooled to a
local temporary file, hashed and checked exactly as on the local backend (`LocalBlobWriter`), and
only then uploaded under their content address by boto3's managed transfer (multipart past
`MULTIPART_THRESHOLD`, each part streamed from the file): memory stays bounded, and since S3
makes an object visible only when its upload completes, readers never see half an object.
Objects are immutable, so an upload finding its name taken keeps what is there.

Reads are ranged GETs (`S3Reader`); downloads by clients go straight to the store through a
short-lived presigned GET (`presigned_get`), after the hub decided access.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.http import content_disposition_header

from core.errors import StorageUnavailable
from registry.storage import SHA256_RE, PublishingStorage, _check_key

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 64 * 1024 * 1024
TRANSFER = TransferConfig(
    multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK, max_concurrency=4
)
logger = logging.getLogger(__name__)
_MISSING = {"404", "NoSuchKey", "NotFound"}


def parse_storage_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ImproperlyConfigured("GATEHOUSE_STORAGE_URL must look like s3://bucket/prefix (or be empty).")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


@contextmanager
def _reaching_store() -> Iterator[None]:
    """Transport failures, timeouts and the store's own 5xx answers (after boto3's retries) become
    a 503 StorageUnavailable; other refusals (a missing object, a bad key) stay what they are."""
    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500:
            logger.warning("The object store failed: %s", exc)
            raise StorageUnavailable() from exc
        raise
    except (BotoCoreError, S3UploadFailedError) as exc:
        logger.warning("The object store cannot be reached: %s", exc)
        raise StorageUnavailable() from exc


def _addressing_style(endpoint: str | None) -> str:
    """Path-style where virtual-hosted names cannot resolve: an IP address, localhost."""
    style = settings.GATEHOUSE_S3_ADDRESSING_STYLE
    if style != "auto":
        return style
    host = urlsplit(endpoint or "").hostname or ""
    if host == "localhost":
        return "path"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "auto"
    return "path"


def make_client(endpoint_url: str | None = None, *, read_timeout: float | None = None):
    """An S3 client configured by the standard AWS variables and Gatehouse's timeouts and retries
    (`read_timeout` replaces GATEHOUSE_S3_READ_TIMEOUT: the HEAD client's is shorter).
    boto3 clients are thread-safe, and making one costs about 0.1 s of CPU (boto3 loads the
    service model): one per process and configuration, made when the app loads (registry.apps)."""
    return _client(
        endpoint_url,
        os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        settings.GATEHOUSE_S3_ADDRESSING_STYLE,
        settings.GATEHOUSE_S3_CONNECT_TIMEOUT,
        settings.GATEHOUSE_S3_READ_TIMEOUT if read_timeout is None else read_timeout,
        settings.GATEHOUSE_S3_MAX_ATTEMPTS,
    )


def bucket_check() -> dict:
    """Readiness of the bucket (core.health): one HEAD of it, with 2 s timeouts and no retries,
    so a probe answers in seconds even while the store hangs (the data path waits longer)."""
    bucket, _ = parse_storage_url(settings.GATEHOUSE_STORAGE_URL)
    client = _client(
        None,
        os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        settings.GATEHOUSE_S3_ADDRESSING_STYLE,
        2,
        2,
        1,
    )
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:  # botocore's connection, timeout and client errors alike
        return {"ok": False, "error": f"bucket unreachable: {type(exc).__name__}"}
    return {"ok": True}


@lru_cache(maxsize=8)
def _client(endpoint_url, environ_endpoint, style, connect_timeout, read_timeout, attempts):
    """`attempts` counts the first: botocore's `total_max_attempts` (its `max_attempts` counts
    only the retries, one more than the name says)."""
    session = boto3.session.Session()
    endpoint = endpoint_url or environ_endpoint
    if endpoint is None and style == "auto":  # set in a config file: ask botocore where it points
        endpoint = session.client("s3").meta.endpoint_url
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": _addressing_style(endpoint)},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": attempts, "mode": "standard"},
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _pages(client, operation: str, **params) -> Iterator[dict]:
    """A listing, one page (1000 keys) at a time, each fetched under `_reaching_store`."""
    pages = iter(client.get_paginator(operation).paginate(**params))
    while True:
        with _reaching_store():
            page = next(pages, None)
        if page is None:
            return
        yield page


class S3Reader(io.RawIOBase):
    """A read-only, seekable view of one object. Sequential reads share one ranged GET; a seek
    elsewhere starts another on the next read. No `fileno()`: servers fall back from sendfile."""

    def __init__(self, client, bucket: str, key: str, size: int):
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0
        self._body: Any = None  # botocore's StreamingBody of the current ranged GET
        self._body_position = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        size = min(size, self._size - self._position)
        if size <= 0:
            return b""
        for _attempt in range(2):  # a ranged GET cut short is resumed once from where it stopped
            if self._body is None or self._body_position != self._position:
                self._close_body()
                try:
                    with _reaching_store():
                        reply = self._client.get_object(
                            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-"
                        )
                except ClientError as exc:
                    if not _is_missing(exc) and exc.response.get("Error", {}).get("Code") != "InvalidRange":
                        raise
                    break  # the object is gone or shorter than it was: below
                self._body, self._body_position = reply["Body"], self._position
            with _reaching_store():
                data = self._body.read(size)
            if data:
                self._position += len(data)
                self._body_position += len(data)
                return data
            self._close_body()
        # SECURITY/INTEGRITY: never a silent end of file before the object's size.
        raise StorageUnavailable(f"The store ended {self._key} at byte {self._position} of {self._size}.")

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


class S3Storage(PublishingStorage):
    """One area of the bucket. `scratch` is a local folder for temporaries (and multipart parts)."""

    publish_needs_fsync = False  # the durable copy is the store's, not the temporary file
    serves_signed_urls = True

    def __init__(self, *, client, presign_client, bucket: str, prefix: str, scratch: Path, head_client=None):
        self.client, self.presign_client = client, presign_client
        # HEADs of one object (is it stored, its size), which every download and upload makes
        # first: a shorter read timeout, so a hanging store is answered 503 before
        # huggingface_hub's own 10 s HEAD timeout.
        self.head_client = head_client or client
        self.bucket, self.prefix = bucket, prefix
        self.tmp_dir = Path(scratch) / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def key_for(self, name: str) -> str:
        _check_key(name)
        return f"{self.prefix}objects/{name[:2]}/{name[2:4]}/{name}"

    def info(self, name: str) -> tuple[int, float] | None:
        try:
            with _reaching_store():
                head = self.head_client.head_object(Bucket=self.bucket, Key=self.key_for(name))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return int(head["ContentLength"]), head["LastModified"].timestamp()

    def exists(self, name: str) -> bool:
        return self.info(name) is not None

    def size(self, name: str) -> int:
        found = self.info(name)
        if found is None:
            raise FileNotFoundError(f"object {name} is not stored")
        return found[0]

    def open(self, name: str) -> BinaryIO:
        return cast(BinaryIO, S3Reader(self.client, self.bucket, self.key_for(name), self.size(name)))

    def local_path(self, name: str) -> Path | None:
        return None

    def publish(self, tmp_path: Path, name: str) -> None:
        """Upload the verified temporary file as the object `name`, then drop the temporary."""
        try:
            if not self.exists(name):
                with _reaching_store():
                    self.client.upload_file(
                        str(tmp_path),
                        self.bucket,
                        self.key_for(name),
                        ExtraArgs={"ContentType": "application/octet-stream"},
                        Config=TRANSFER,
                    )
        finally:
            tmp_path.unlink(missing_ok=True)

    def delete(self, name: str) -> None:
        with _reaching_store():
            self.client.delete_object(Bucket=self.bucket, Key=self.key_for(name))

    def iter_objects(self) -> Iterator[tuple[str, int, float]]:
        for page in _pages(self.client, "list_objects_v2", Bucket=self.bucket, Prefix=f"{self.prefix}objects/"):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if SHA256_RE.match(name) and item["Key"] == self.key_for(name):
                    yield name, int(item["Size"]), item["LastModified"].timestamp()

    def clean_tmp(self, *, older_than_seconds: float) -> int:
        """Local temporaries of crashed writers, LFS uploads staged but never verified, snapshots
        of a verification a crash interrupted, and multipart uploads nobody completed nor aborted
        (they hold storage until aborted)."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.tmp_dir.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        for scratch in ("uploads/", "verifying/"):  # staged and never verified; snapshots of a crash
            for page in _pages(self.client, "list_objects_v2", Bucket=self.bucket, Prefix=f"{self.prefix}{scratch}"):
                for item in page.get("Contents", []):
                    if item["LastModified"].timestamp() < cutoff:
                        with _reaching_store():
                            self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                        removed += 1
        for page in _pages(self.client, "list_multipart_uploads", Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < cutoff:
                    with _reaching_store():
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    removed += 1
        return removed

    def presigned_get(self, name: str, *, filename: str, is_private: bool) -> str:
        """A GET of the whole object (any Range within it) that the store honours for
        GATEHOUSE_DOWNLOAD_URL_TTL seconds. SECURITY: it authorises exactly this object, with the
        response headers fixed by the signature; the caller decided access before asking."""
        params = {
            "Bucket": self.bucket,
            "Key": self.key_for(name),
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": "application/octet-stream",
        }
        if is_private:
            params["ResponseCacheControl"] = "private"
        return self.presign_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=settings.GATEHOUSE_DOWNLOAD_URL_TTL
        )

    def presigned_range(self, name: str, first: int, last: int) -> str:
        """A GET of bytes [first, last] of the object and of nothing else: the `Range` header is
        one of the signed headers, so the store refuses the URL with any other range or none.
        SECURITY: a Xet xorb packs chunks of many files, possibly of other repos; a plain signed
        GET would authorise all of them whatever range the caller was entitled to."""
        params = {
            "Bucket": self.bucket,
            "Key": self.key_for(name),
            "Range": f"bytes={first}-{last}",
            # A xorb may hold private repos' chunks: no shared cache keeps the answer.
            "ResponseCacheControl": "private",
        }
        ttl = min(settings.GATEHOUSE_XET_FETCH_URL_TTL, settings.GATEHOUSE_DOWNLOAD_URL_TTL)
        return self.presign_client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)


@lru_cache(maxsize=16)
def s3_storage_for(url: str, area: str, scratch: str) -> S3Storage:
    bucket, prefix = parse_storage_url(url)
    client = make_client()
    public = settings.GATEHOUSE_S3_PUBLIC_ENDPOINT_URL
    return S3Storage(
        client=client,
        head_client=make_client(read_timeout=settings.GATEHOUSE_S3_HEAD_READ_TIMEOUT),
        presign_client=make_client(public) if public else client,
        bucket=bucket,
        prefix=f"{prefix}{area}/" if area else prefix,
        scratch=Path(scratch),
    )
