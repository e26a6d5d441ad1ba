"""Cache of full-clone responses, keyed by (repo, wants, the client's capabilities).

A fresh clone (wants, no haves, no shallow) of the same tips always gets the same bytes: the
objects under a commit never change. So the response is kept in a local folder and streamed
again to the next caller; the policy still runs for every caller first (views.UploadPackView:
the wants must be current ref tips and `check_clone` must pass), exactly as without the cache.

Entries live in `GATEHOUSE_GIT_PACK_CACHE_DIR/<repo pk>/<key>.pack`, next to `<key>.json` (the
wants), each written to a `.tmp-*` file and renamed into place. A repo's entries go once the
transaction that deletes the repo (`hooks.repo_event_listeners`), changes its visibility or
gating (`hooks.settings_changed`) or rewrites its history (`hooks.history_changed`: squash,
forced push) commits; and at `gc_blobs` (`hooks.garbage_collectors`): entries of repos deleted
or gone, entries whose wants are no longer all ref tips (a branch moved or was rewritten) once
older than the grace period (one stored for tips newer than the collector's read stays),
leftover `.tmp-*` files and `.json` files without their pack older than the grace period (a
store in flight is younger), and, past `GATEHOUSE_GIT_PACK_CACHE_BYTES`, the least recently used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction

from registry.hooks import RepoEvent
from registry.models import QuarantinedContent, Ref, Repo

logger = logging.getLogger(__name__)
TMP_PREFIX = ".tmp-"

_IGNORED_CAPS = (b"agent=", b"session-id=", b"object-format=")


# Capabilities that change a fresh clone's bytes, as the upload-pack advertisement offers them.
_KEYED_CAPS = frozenset(
    {
        b"multi_ack",
        b"multi_ack_detailed",
        b"no-done",
        b"side-band",
        b"side-band-64k",
        b"ofs-delta",
        b"thin-pack",
        b"no-progress",
        b"include-tag",
        b"shallow",
        b"deepen-since",
        b"deepen-not",
        b"deepen-relative",
    }
)


def cache_key(body: bytes) -> tuple[str, list[str]] | None:
    """(key, wants) for a fresh-clone request: want lines (capabilities on the first), a flush,
    `done`; None for anything else (haves, shallow, deepen, filter), which is not cached."""
    wants: list[str] = []
    caps: list[bytes] = []
    offset, flushed, done = 0, False, False
    while offset < len(body):
        size = int(body[offset : offset + 4], 16)  # checked by bodies.check_negotiation
        if size < 4:
            offset += 4
            flushed = flushed or size == 0
            continue
        line = body[offset + 4 : offset + size].rstrip(b"\n")
        offset += size
        if line.startswith(b"want ") and not flushed:
            words = line.split(b" ")
            wants.append(words[1].decode("ascii", "replace"))
            for cap in words[2:]:
                if cap.startswith(_IGNORED_CAPS):
                    continue
                if cap not in _KEYED_CAPS:
                    return None  # not one the advertisement offers: built, never cached
                caps.append(cap)
        elif line == b"done" and flushed:
            done = True
        else:
            return None
    if not wants or not done:
        return None
    # A set: the same capability named twice is the same request (an outsider attack filled the
    # disk with one clone cached under many keys that way).
    material = json.dumps([sorted(set(wants)), sorted({cap.decode("ascii") for cap in caps})])
    return hashlib.sha256(material.encode()).hexdigest(), sorted(set(wants))


def usable(repo: Repo) -> bool:
    """Whether responses for `repo` may be cached or served from the cache. SECURITY: not while
    the repo holds quarantined content: only building the pack checks each file's proof."""
    if not settings.GATEHOUSE_GIT_PACK_CACHE_BYTES:
        return False
    return not QuarantinedContent.objects.filter(repo=repo).exists()


def _root() -> Path:
    return Path(settings.GATEHOUSE_GIT_PACK_CACHE_DIR)


def _entry(repo_pk: int, key: str) -> Path:
    return _root() / str(repo_pk) / f"{key}.pack"


def lookup(repo_pk: int, key: str):
    """An open handle on the cached response, or None."""
    path = _entry(repo_pk, key)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    try:
        os.utime(path)  # for the least-recently-used sweep
    except FileNotFoundError:  # purged or collected meanwhile: a miss, built again
        handle.close()
        return None
    return handle


def store(repo_pk: int, key: str, wants: list[str], source) -> None:
    """Keep the response in `source` (read from its start): the wants, then the pack, each
    written whole to a temporary file and renamed into place. Best effort: the folder may be
    purged meanwhile (then nothing is kept)."""
    folder = _root() / str(repo_pk)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder, f"{key}.json", lambda handle: handle.write(json.dumps(wants).encode()))
        _write_atomically(folder, f"{key}.pack", lambda handle: shutil.copyfileobj(source, handle, 1024 * 1024))
    except FileNotFoundError:
        logger.info("Pack cache folder of repo %s removed while an entry was stored", repo_pk)


def _write_atomically(folder: Path, name: str, write) -> None:
    with tempfile.NamedTemporaryFile(dir=folder, prefix=TMP_PREFIX, delete=False) as handle:
        try:
            write(handle)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    try:
        os.replace(handle.name, folder / name)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def purge(repo_pk: int) -> None:
    shutil.rmtree(_root() / str(repo_pk), ignore_errors=True)


def purge_repo(repo: Repo, *args) -> None:
    """`hooks.settings_changed` and `hooks.history_changed`: the entries go once the change
    commits (before, a clone of the old state could store an entry again)."""
    transaction.on_commit(partial(purge, repo.pk))


def purge_deleted_repo(event: RepoEvent) -> None:
    """`hooks.repo_event_listeners` (after the commit): a deleted repo's entries go."""
    if event.scope == "repo" and event.action == "delete":
        purge(event.repo_pk)


def collect(grace: timedelta, dry_run: bool) -> dict[str, int]:
    """The garbage collector's sweep of the cache (see the module's docstring)."""
    root = _root()
    if not root.is_dir():
        return {"git_pack_cache_entries": 0, "git_pack_cache_leftovers": 0}
    cutoff = time.time() - grace.total_seconds()
    live = set(Repo.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True))
    deleted, leftovers, kept = 0, 0, []
    for folder in root.iterdir():
        pk = int(folder.name) if folder.name.isdigit() else None
        if pk not in live:  # a repo deleted or gone: everything goes
            deleted += len(list(folder.glob("*.pack")))
            if not dry_run:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        tips = set(Ref.objects.filter(repo_id=pk).values_list("commit_oid", flat=True))
        for pack in folder.glob("*.pack"):
            if _is_current(pack, tips, cutoff):
                kept.append(pack)
                continue
            deleted += 1
            if not dry_run:
                pack.unlink(missing_ok=True)
                pack.with_suffix(".json").unlink(missing_ok=True)
        leftovers += _sweep_leftovers(folder, cutoff, dry_run)
    deleted += _sweep_least_recently_used(kept, dry_run)
    return {"git_pack_cache_entries": deleted, "git_pack_cache_leftovers": leftovers}


def _is_current(pack: Path, tips: set[str], cutoff: float) -> bool:
    """Whether an entry of a live repo stays: its wants are all ref tips, or it is younger than
    the grace period (stored for tips that moved after the collector read them)."""
    meta = pack.with_suffix(".json")
    try:
        wants = set(json.loads(meta.read_text()))
        if wants <= tips:
            return True
        return meta.stat().st_mtime >= cutoff
    except (OSError, ValueError):  # no sidecar (or unreadable): nothing says what it holds
        return False


def _sweep_leftovers(folder: Path, cutoff: float, dry_run: bool) -> int:
    """`.tmp-*` files of stores that died, `.json` files whose pack is gone: past the grace."""
    count = 0
    candidates = [*folder.glob(f"{TMP_PREFIX}*"), *folder.glob("*.json")]
    for path in candidates:
        if path.suffix == ".json" and path.with_suffix(".pack").exists():
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        count += 1
        if not dry_run:
            path.unlink(missing_ok=True)
    return count


def _sweep_least_recently_used(kept: list[Path], dry_run: bool) -> int:
    used = []
    for pack in kept:
        try:
            stat = pack.stat()
        except FileNotFoundError:  # purged meanwhile
            continue
        used.append((stat.st_mtime, stat.st_size, pack))
    used.sort(key=lambda item: item[0], reverse=True)
    total, deleted = 0, 0
    for _, size, pack in used:
        total += size
        if total > settings.GATEHOUSE_GIT_PACK_CACHE_BYTES:
            deleted += 1
            if not dry_run:
                pack.unlink(missing_ok=True)
                pack.with_suffix(".json").unlink(missing_ok=True)
    return deleted
