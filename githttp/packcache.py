"""Cache of full-clone responses, keyed by (repo, wants, the client's capabilities).

A fresh clone (wants, no haves, no shallow) of the same tips always gets the same bytes: the
objects under a commit never change. So the response is kept in a local folder and streamed
again to the next caller; the policy still runs for every caller first (views.UploadPackView:
the wants must be current ref tips and `check_clone` must pass), exactly as without the cache.

Entries live in `GATEHOUSE_GIT_PACK_CACHE_DIR/<repo pk>/<key>.pack`, next to `<key>.json` (the
wants). They go when the repo's visibility or gating changes (`hooks.settings_changed`), and at
`gc_blobs` (`hooks.garbage_collectors`): entries of repos deleted or gone, entries whose wants
are no longer all ref tips (a branch moved or was rewritten), and, past
`GATEHOUSE_GIT_PACK_CACHE_BYTES`, the least recently used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from registry.models import QuarantinedContent, Ref, Repo

_IGNORED_CAPS = (b"agent=", b"session-id=")


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
            caps += [cap for cap in words[2:] if not cap.startswith(_IGNORED_CAPS)]
        elif line == b"done" and flushed:
            done = True
        else:
            return None
    if not wants or not done:
        return None
    material = json.dumps([sorted(set(wants)), sorted(cap.decode("ascii", "replace") for cap in caps)])
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
    os.utime(path)  # for the least-recently-used sweep
    return handle


def store(repo_pk: int, key: str, wants: list[str], source) -> None:
    """Keep the response in `source` (read from its start), atomically."""
    folder = _root() / str(repo_pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.json").write_text(json.dumps(wants))
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", delete=False) as handle:
        shutil.copyfileobj(source, handle, 1024 * 1024)
    os.replace(handle.name, _entry(repo_pk, key))


def purge_repo(repo: Repo, *args) -> None:
    shutil.rmtree(_root() / str(repo.pk), ignore_errors=True)


def collect(grace: timedelta, dry_run: bool) -> dict[str, int]:
    """The garbage collector's sweep of the cache (see the module's docstring)."""
    root = _root()
    if not root.is_dir():
        return {"git_pack_cache_entries": 0}
    live = set(Repo.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True))
    deleted, kept = 0, []
    for folder in root.iterdir():
        pk = int(folder.name) if folder.name.isdigit() else None
        tips = set(Ref.objects.filter(repo_id=pk).values_list("commit_oid", flat=True)) if pk in live else set()
        for pack in folder.glob("*.pack"):
            meta = pack.with_suffix(".json")
            wants = set(json.loads(meta.read_text())) if meta.exists() else {"?"}
            if wants <= tips:
                kept.append(pack)
                continue
            deleted += 1
            if not dry_run:
                pack.unlink(missing_ok=True)
                meta.unlink(missing_ok=True)
    kept.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    total = 0
    for pack in kept:
        total += pack.stat().st_size
        if total > settings.GATEHOUSE_GIT_PACK_CACHE_BYTES:
            deleted += 1
            if not dry_run:
                pack.unlink(missing_ok=True)
                pack.with_suffix(".json").unlink(missing_ok=True)
    return {"git_pack_cache_entries": deleted}
