"""A worker-local folder holding one commit's pipeline files, for diffusers' from_pretrained.

Blobs are immutable and content-addressed, so files are hard links into the blob store (or
symlinks across file systems): no bytes are copied. A folder is built under a temporary name and
renamed into place, so a crashed worker never leaves a half-built folder that looks complete.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from workers.runner.specs import digest

COMPLETE_MARKER = ".gatehouse-complete"


def folder_key(commit_oid: str, files: Mapping[str, Path]) -> str:
    return f"{commit_oid}-{digest(sorted(files))[:12]}"


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        os.symlink(source, target)


def materialize(*, cache_dir: Path, commit_oid: str, files: Mapping[str, Path]) -> Path:
    """The folder for `commit_oid` with exactly `files` ({repo path: local blob path})."""
    cache_dir = Path(cache_dir)
    target = cache_dir / folder_key(commit_oid, files)
    if (target / COMPLETE_MARKER).exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = cache_dir / f".tmp-{uuid.uuid4().hex}"
    try:
        for rel, source in files.items():
            # SECURITY: repo paths were validated on commit; refuse anything that could escape anyway.
            if posixpath.normpath(rel) != rel or rel.startswith(("/", "../")) or "\\" in rel:
                raise ValueError(f"unsafe path {rel!r}")
            destination = staging / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            _link(Path(source), destination)
        (staging / COMPLETE_MARKER).write_text(commit_oid)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / COMPLETE_MARKER).exists():  # a stale partial folder: replace it
                shutil.rmtree(target, ignore_errors=True)
                os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
