"""The crash-safe, verifying writer behind every blob store (`registry.storage`).

Bytes go to a private temporary file, are hashed while they are written, checked against what
the caller expected, and only then handed to the store to publish under their content address
(`LocalStorage.publish`: fsync and rename; `S3Storage.publish`: upload). Large copies overlap
receiving, hashing and writing (see `LocalBlobWriter.write_from`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import mmap
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from core.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from registry.storage import LocalStorage
    from registry.storage.s3storage import S3Storage

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

    @property
    def spool_path(self) -> Path:
        """The local temporary file the bytes go to, on every backend (S3 uploads it at commit):
        a reader on this host may tail it while it grows (mirror/spool.py). Unverified until
        `commit()` returns."""
        return self._tmp_path

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
