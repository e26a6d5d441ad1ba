"""The local-disk backend of the blob store: objects under `<root>/objects/ab/cd/<sha256>`,
published by an fsynced rename (see registry.storage). Import it from `registry.storage`."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from registry.storage import SHA256_RE, PublishingStorage, _check_key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(PublishingStorage):
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
        """Make the verified temporary file `tmp_path` the object `name`. One already there is kept,
        its mtime refreshed: the sweeps of unreferenced objects by age (gc_blobs) then count from
        this write, not from the first (a preview rendered again with the same bytes)."""
        final = self.path_for(name)
        if final.exists():
            try:
                os.utime(final)
            except FileNotFoundError:  # swept meanwhile: publish this copy instead
                pass
            else:
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
