"""Reading file content by sha256, wherever it is stored.

Most content is a plain object in the blob store. Content uploaded with the Xet protocol may exist
only as Xet chunks (StoredObject.xet_hash); it is rebuilt on the fly for streaming, and written out
as a plain object (a cache the garbage collector may drop again) for code that needs a file path,
such as the pickle scanner and the preview workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from django.db import transaction

from core import lookup_cache
from core.errors import ContentQuarantined
from registry import hooks
from registry.models import RepoObject, StoredObject
from registry.storage import BlobStorage, get_read_cache, get_storage

STREAM_PIECE = 1024 * 1024


def xet_hash_of(sha256: str) -> str:
    return StoredObject.objects.filter(sha256=sha256).values_list("xet_hash", flat=True).first() or ""


# sha256 -> (Xet hash or "", when looked up). Misses are asked again after a minute, since the
# same content may be uploaded through Xet later (meanwhile clients just use plain downloads);
# hits after five, since `gc_blobs` may drop content and its Xet file, and the same bytes may come
# back later as a plain upload with no Xet hash (a stale hit would send hf_xet to missing xorbs).
_XET_HASHES: dict[str, tuple[str, float]] = {}
_MISS_TTL = 60.0
_HIT_TTL = 300.0
_CACHE_MAX = 65536


def _make_room(cache: dict) -> None:
    """Drop the oldest entries of a full cache (dicts keep insertion order): never all at once,
    which would send every download of a busy process to the database in the same second."""
    while len(cache) >= _CACHE_MAX:
        with suppress(StopIteration, KeyError, RuntimeError):  # another thread got there first
            cache.pop(next(iter(cache)))


def xet_hash_cached(sha256: str) -> str:
    """`xet_hash_of` without a query on the hot download path (HEAD /resolve)."""
    now = time.monotonic()
    hit = _XET_HASHES.get(sha256)
    if hit is not None and now - hit[1] < (_HIT_TTL if hit[0] else _MISS_TTL):
        return hit[0]
    value = xet_hash_of(sha256)
    _make_room(_XET_HASHES)
    _XET_HASHES[sha256] = (value, now)
    return value


def xet_hashes_of(sha256s) -> dict[str, str]:
    """sha256 -> Xet file hash, for the contents that have one."""
    wanted = set(sha256s)
    if not wanted:
        return {}
    rows = StoredObject.objects.filter(sha256__in=wanted).exclude(xet_hash="").values_list("sha256", "xet_hash")
    return dict(rows)


# (repo pk, sha256) -> when the proof was read, where the lookup cache is off (SQLite). A proof is
# withdrawn only when a repo admin deletes LFS files for good (dropped here at once, in other
# processes after the TTL) and by the quarantine of `registry.ops.aliasing` (run by an operator
# before web processes restart); a repo's pk is never reused. The TTL bounds how long another
# process still honours a withdrawn proof. On PostgreSQL proofs live in core.lookup_cache instead,
# dropped in every process as soon as one is withdrawn (gating migration 0009 announces it).
_PROVEN: dict[tuple[int, str], float] = {}
_PROOF_TTL = 300.0


def belongs_to_repo(repo_pk: int, sha256: str) -> bool:
    """Whether the content was uploaded to the repo or committed to it by someone who proved
    possession (`RepoObject`). Positive answers are cached: this runs on every download."""
    if lookup_cache.enabled():
        found = lookup_cache.remember(
            ("proof", repo_pk, sha256), lambda _proof: (repo_pk,), lambda: _proven(repo_pk, sha256), keep_none=False
        )
        return found is not None
    now = time.monotonic()
    seen = _PROVEN.get((repo_pk, sha256))
    if seen is not None and now - seen < _PROOF_TTL:
        return True
    if _proven(repo_pk, sha256) is None:
        return False
    if transaction.get_connection().in_atomic_block:
        return True  # read inside a transaction that may still roll back: not kept
    _make_room(_PROVEN)
    _PROVEN[(repo_pk, sha256)] = now
    return True


def _proven(repo_pk: int, sha256: str) -> bool | None:
    """True where the proof exists; None (not False) where it does not, so it is never cached."""
    return True if RepoObject.objects.filter(repo_id=repo_pk, sha256=sha256).exists() else None


def forget_proofs(repo_pk: int, sha256s: list[str]) -> None:
    """Proofs withdrawn (`registry.services.housekeeping.lfs_files_delete`): this process stops
    honouring them now; other processes at once on PostgreSQL, within _PROOF_TTL on SQLite."""
    for sha256 in sha256s:
        _PROVEN.pop((repo_pk, sha256), None)
        lookup_cache.cache.forget(("proof", repo_pk, sha256))


def require_in_repo(repo_pk: int, sha256: str) -> None:
    """SECURITY: defence in depth where bytes leave the server (/resolve, Xet reconstructions,
    pull request diffs, previews, license and card texts). Every way content enters a tree
    already demands proof of possession; this refuses content a tree names without that proof
    (trees written by older versions, a bug), whatever the tree says."""
    if not belongs_to_repo(repo_pk, sha256):
        raise ContentQuarantined()


def iter_range(sha256: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of the content, in pieces of at most a few MiB. Content that is not
    stored raises FileNotFoundError here, before the first piece, so a response can still say so."""
    storage = get_storage()
    try:
        handle = storage.open(sha256)
    except FileNotFoundError:
        xet_hash = xet_hash_of(sha256)
        if not xet_hash or hooks.xet_content is None:
            raise FileNotFoundError(f"content {sha256} is not stored") from None
        return hooks.xet_content(xet_hash, start, end)
    return _pieces(handle, start, end)


def _pieces(handle, start: int, end: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = end - start
        while remaining > 0 and (piece := handle.read(min(STREAM_PIECE, remaining))):
            remaining -= len(piece)
            yield piece


def read_head(sha256: str, size: int) -> bytes:
    return b"".join(iter_range(sha256, 0, size))


def _write_plain_copy(target: BlobStorage, sha256: str) -> None:
    """Write the content into `target`, verified against its sha256, from wherever it is stored."""
    size = StoredObject.objects.values_list("size", flat=True).get(sha256=sha256)
    with target.writer(expected_sha256=sha256, expected_size=size) as writer:
        for piece in iter_range(sha256, 0, size):
            writer.write(piece)
        writer.commit()


def local_path(sha256: str) -> Path:
    """A local file holding the content, for code that needs a path (the scanner, the preview
    workers): the object itself on the local backend; on S3 a verified copy in the read cache.
    Content stored only as Xet chunks is rebuilt into a plain copy first."""
    cache = get_read_cache()
    if not cache.exists(sha256):
        _write_plain_copy(cache, sha256)
    return cache.path_for(sha256)


# sha256 -> when a plain object was seen in the blob store. Objects are immutable and only the
# garbage collector removes them, once no commit names them and after a day's grace (content
# committed again later is stored again, except through Xet: the TTL bounds that case).
_STORED: dict[str, float] = {}
_STORED_TTL = 300.0


def is_stored(sha256: str) -> bool:
    """Whether the blob store holds a plain object of the content (positive answers cached)."""
    now = time.monotonic()
    seen = _STORED.get(sha256)
    if seen is not None and now - seen < _STORED_TTL:
        return True
    if not get_storage().exists(sha256):
        return False
    _make_room(_STORED)
    _STORED[sha256] = now
    return True


def ensure_stored(sha256: str) -> None:
    """A plain object of the content in the blob store (what a signed download URL points at):
    content stored only as Xet chunks gets a plain copy, rebuilt and verified, before its first
    redirect (the cost of one rebuild; the garbage collector drops such copies after its grace).
    FileNotFoundError if the content cannot be read at all."""
    if not is_stored(sha256):
        _write_plain_copy(get_storage(), sha256)
