"""Content-addressed blob storage, keyed by the sha256 of the content.

Writes go to a private temporary file, are hashed while they are written, fsynced, checked
against what the caller expected, and only then renamed into place (and the directory fsynced).
A crash at any point leaves either nothing or a complete, verified object under its key; stray
temporary files are removed by `storage_janitor`. Objects are immutable once visible.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import mmap
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from django.conf import settings

from core.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from registry.s3storage import S3Storage

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COPY_CHUNK = 1024 * 1024
# Copies at least this large use the hashing/flush-behind pipeline of `LocalBlobWriter.write_from`.
PIPELINE_MIN_SIZE = 16 * 1024 * 1024
FLUSH_BEHIND = 64 * 1024 * 1024
# `LocalBlobWriter._receive_into`: buffers of RECEIVE_CHUNK bytes (a multiple of any block size
# O_DIRECT may require, and page-aligned because they are anonymous mmaps).
RECEIVE_CHUNK = 4 * 1024 * 1024
RECEIVE_BUFFERS = 4
DIRECT_IO_ALIGN = 4096


class IntegrityError(BadRequest):
    code = "IntegrityError"


class BlobWriter(Protocol):
    sha256: str
    size: int

    def write(self, data: bytes) -> None: ...
    def write_from(self, stream: BinaryIO, length: int | None = None) -> None: ...
    def commit(self) -> str: ...
    def abort(self) -> None: ...
    def __enter__(self) -> BlobWriter: ...
    def __exit__(self, exc_type, exc, tb) -> None: ...


class BlobStorage(Protocol):
    """What every backend offers (`LocalStorage`, `registry.s3storage.S3Storage`). Objects are named
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(stream: BinaryIO, length: int | None) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(COPY_CHUNK if remaining is None else min(COPY_CHUNK, remaining))
        if not chunk:
            return
        yield chunk
        if remaining is not None:
            remaining -= len(chunk)


def _fill(stream, view: memoryview) -> int:
    """readinto() until `view` is full or the stream ends; how many bytes arrived."""
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def _open_direct(path: Path) -> int | None:
    """A second descriptor on `path` that writes around the page cache (O_DIRECT), or None where
    the platform or filesystem has no such thing (tmpfs, macOS)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError:
        return None


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


class LocalBlobWriter:
    def __init__(self, storage: LocalStorage | S3Storage, *, expected_sha256, expected_size, max_size, key=None):
        self._storage = storage
        # With `key`, the object is stored under that name (another content address, checked by
        # the caller, such as a Xet xorb hash) and no sha256 is computed.
        self._key = key
        self._expected_sha256 = expected_sha256
        self._expected_size = expected_size
        self._max_size = max_size
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=storage.tmp_dir, prefix="w-")
        self._file = os.fdopen(fd, "wb")
        self._tmp_path = Path(name)
        self.size = 0
        self.sha256 = ""
        self._done = False

    def _reserve(self, size: int) -> None:
        self.size += size
        limit = self._expected_size if self._expected_size is not None else self._max_size
        if limit is not None and self.size > limit:
            raise PayloadTooLarge(f"Upload is larger than the {limit} bytes expected.")

    def write(self, data: bytes) -> None:
        try:
            self._reserve(len(data))
        except PayloadTooLarge:
            self.abort()
            raise
        if self._key is None:
            self._hash.update(data)
        self._file.write(data)

    def write_from(self, stream: BinaryIO, length: int | None = None) -> None:
        """Copy `stream` (at most `length` bytes) in. A large copy overlaps the three costs of an
        upload instead of paying them one after the other: the sha256 of each chunk runs in a
        helper thread while this thread receives and writes the next one (hashlib and file
        writes release the GIL), and written data goes to disk in the background every
        FLUSH_BEHIND bytes, so that `commit()`'s fsync finds little left to flush. On the 2-core
        benchmark machine this nearly doubled LFS upload throughput (bench/lfs_upload_throughput.py).
        """
        if length is not None and length < PIPELINE_MIN_SIZE:
            for chunk in _chunks(stream, length):
                self.write(chunk)
            return
        if getattr(stream, "readinto", None) is not None:
            self._receive_into(stream, length)
            return
        helpers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="blob-writer")
        hashing: Future | None = None
        syncing: Future | None = None
        unsynced = 0
        try:
            for chunk in _chunks(stream, length):
                self._reserve(len(chunk))
                if hashing is not None:
                    hashing.result()
                hashing = helpers.submit(self._hash.update, chunk)
                self._file.write(chunk)
                unsynced += len(chunk)
                if unsynced >= FLUSH_BEHIND and (syncing is None or syncing.done()):
                    if syncing is not None:
                        syncing.result()  # SECURITY: a write-back error must not go unseen
                    self._file.flush()
                    syncing = helpers.submit(os.fdatasync, self._file.fileno())
                    unsynced = 0
            for pending in (hashing, syncing):
                if pending is not None:
                    pending.result()
        except BaseException:
            helpers.shutdown(wait=True)  # no helper may touch the file once it is closed
            self.abort()
            raise
        helpers.shutdown(wait=True)

    def _receive_into(self, stream: BinaryIO, length: int | None) -> None:
        """`write_from` for a stream with `readinto` (`core.socketbody.SocketBody` for LFS
        uploads, the part files of a multipart upload): the bytes land once, by the kernel, in
        one of a few reused page-aligned buffers; one helper thread hashes the chunks in order
        while another writes them at their offsets, and this thread reads the next chunk
        meanwhile. Writes bypass the page cache (O_DIRECT) where the filesystem allows it: the
        kernel neither copies the data nor writes it back later, which on a 2-core machine leaves
        the CPU to receiving and hashing. Unaligned parts go through the ordinary descriptor;
        `commit()`'s fsync covers both (one inode)."""
        self._file.flush()  # what `write()` buffered lies before the bytes written here
        start = self._file.tell()
        hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-hash")
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-write")
        ring: list[mmap.mmap] = []
        direct = None
        try:
            direct = _open_direct(self._tmp_path)
            ring = [mmap.mmap(-1, RECEIVE_CHUNK) for _ in range(RECEIVE_BUFFERS)]
            received = self._pump(stream, length, start, ring, direct, hasher, writer)
        except BaseException:
            for pool in (hasher, writer):
                pool.shutdown(wait=True)  # no helper may touch the file or a buffer after this
            self.abort()
            raise
        finally:
            for pool in (hasher, writer):
                pool.shutdown(wait=True)
            if direct is not None:
                os.close(direct)
            for buffer in ring:
                with contextlib.suppress(BufferError):  # still exported by a traceback: GC frees it
                    buffer.close()
        self._file.seek(start + received)  # positional writes left the file offset where it was

    def _pump(
        self,
        stream: BinaryIO,
        length: int | None,
        start: int,
        ring: list[mmap.mmap],
        direct: int | None,
        hasher: ThreadPoolExecutor,
        writer: ThreadPoolExecutor,
    ) -> int:
        """The loop of `_receive_into`; returns how many bytes it copied."""
        in_flight: list[list[Future]] = [[] for _ in ring]
        offset = 0
        for turn in itertools.cycle(range(len(ring))):
            for task in in_flight[turn]:
                task.result()  # this buffer's previous chunk is hashed and written
            wanted = RECEIVE_CHUNK if length is None else min(RECEIVE_CHUNK, length - offset)
            view = memoryview(ring[turn])[:wanted]
            filled = _fill(stream, view) if wanted else 0
            if not filled:
                break
            self._reserve(filled)
            chunk = view[:filled]
            in_flight[turn] = [writer.submit(self._write_at, chunk, start + offset, direct)]
            if self._key is None:
                in_flight[turn].append(hasher.submit(self._hash.update, chunk))
            offset += filled
            if filled < wanted:
                break
        for tasks in in_flight:
            for task in tasks:
                task.result()
        return offset

    def _write_at(self, chunk: memoryview, offset: int, direct: int | None) -> None:
        aligned = (
            len(chunk) - len(chunk) % DIRECT_IO_ALIGN if direct is not None and offset % DIRECT_IO_ALIGN == 0 else 0
        )
        if direct is not None and aligned:
            try:
                _pwrite_all(direct, chunk[:aligned], offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # a filesystem that opens O_DIRECT but refuses it
                    raise
                aligned = 0
        if aligned < len(chunk):
            _pwrite_all(self._file.fileno(), chunk[aligned:], offset + aligned)

    def commit(self) -> str:
        try:
            self._file.flush()
            if self._storage.publish_needs_fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self.sha256 = self._hash.hexdigest() if self._key is None else ""
            if self._expected_size is not None and self.size != self._expected_size:
                raise IntegrityError(f"Size mismatch: expected {self._expected_size} bytes, received {self.size}.")
            if self._expected_sha256 is not None and self.sha256 != self._expected_sha256:
                raise IntegrityError("Content does not match the announced sha256.")
            self._storage.publish(self._tmp_path, self._key or self.sha256)
            self._done = True
            return self._key or self.sha256
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
        finally:
            self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalBlobWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class LocalStorage:
    # Temporaries are fsynced before they are renamed into place: the rename is the publication.
    publish_needs_fsync = True
    serves_signed_urls = False

    def __init__(self, root: Path):
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        _check_key(sha256)
        return self.objects_dir / sha256[:2] / sha256[2:4] / sha256

    def publish(self, tmp_path: Path, name: str) -> None:
        """Make the verified temporary file `tmp_path` the object `name` (kept if already there)."""
        final = self.path_for(name)
        if final.exists():
            tmp_path.unlink(missing_ok=True)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, final)
        _fsync_dir(final.parent)

    def info(self, sha256: str) -> tuple[int, float] | None:
        try:
            stat = self.path_for(sha256).stat()
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path_for(sha256).stat().st_size

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")  # noqa: SIM115 - the caller owns the handle

    def local_path(self, sha256: str) -> Path | None:
        return self.path_for(sha256)

    def presigned_get(self, sha256: str, *, filename: str, is_private: bool) -> str | None:
        return None  # local objects are served by the web process itself

    def presigned_range(self, name: str, first: int, last: int) -> str | None:
        return None

    def writer(self, *, expected_sha256=None, expected_size=None, max_size=None, key=None) -> LocalBlobWriter:
        for name in (expected_sha256, key):
            if name is not None:
                _check_key(name)
        return LocalBlobWriter(
            self, expected_sha256=expected_sha256, expected_size=expected_size, max_size=max_size, key=key
        )

    def put_bytes(self, data: bytes) -> str:
        with self.writer() as writer:
            writer.write(data)
            return writer.commit()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def iter_objects(self) -> Iterator[tuple[str, int, float]]:
        for path in self.objects_dir.glob("*/*/*"):
            if SHA256_RE.match(path.name):
                stat = path.stat()
                yield path.name, stat.st_size, stat.st_mtime

    def drop_older_than(self, *, older_than_seconds: float) -> int:
        """Remove objects written longer ago than this (a cache of content stored elsewhere;
        folders made from it hold hard links, which keep their bytes). Returns how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for name, _size, mtime in list(self.iter_objects()):
            if mtime < cutoff:
                self.delete(name)
                removed += 1
        return removed

    def clean_tmp(self, *, older_than_seconds: float) -> int:
        """Remove temporary files abandoned by crashed writers. Returns how many were removed."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.tmp_dir.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        for folder in self.tmp_dir.iterdir():  # multipart uploads never completed
            if folder.is_dir() and not any(folder.iterdir()) and folder.stat().st_mtime < cutoff:
                with contextlib.suppress(OSError):  # a part arrived meanwhile
                    folder.rmdir()
        return removed


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
    from registry.s3storage import s3_storage_for

    return s3_storage_for(url, area, str(local_root))


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
    if settings.GATEHOUSE_STORAGE_URL or "registry.s3storage" in sys.modules:
        from registry.s3storage import _client, s3_storage_for

        s3_storage_for.cache_clear()
        _client.cache_clear()
