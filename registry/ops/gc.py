"""Garbage collection of blob-store content that no commit references.

Mark: walk every commit of every repo and collect the sha256 of every file it holds (but content
its repo no longer holds: see `referenced_hashes`). Sweep: an
object is deleted only if it is unreferenced *and* untouched for the grace period, and only while
its StoredObject row is locked. Every commit locks the rows of the objects it adds, checks that
they (and their files) still exist, and touches them, inside its transaction: a commit racing the
collector either keeps the object alive or fails cleanly before anything is published.
Uploads in flight are younger than the grace period and are never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from registry import hooks
from registry.git import trees
from registry.models import Commit, QuarantinedContent, StoredObject
from registry.ops import backup
from registry.selectors import entry_sha256
from registry.storage import get_read_cache, get_storage


@dataclass
class GcReport:
    referenced: int = 0
    deleted_objects: int = 0
    deleted_bytes: int = 0
    deleted_strays: int = 0
    deleted_tmp: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def referenced_hashes() -> set[str]:
    """Content some commit names, except where the naming repo no longer holds it
    (`QuarantinedContent`: LFS files permanently deleted, content never proven to belong there):
    such a reference can never be served, so it keeps nothing alive. Repos without such rows,
    nearly all, are walked together (shared trees once); the others each on their own."""
    seen_trees: set[str] = set()
    hashes: set[str] = set()
    withdrawn: dict[int, set[str]] = {}
    for repo_id, sha256 in QuarantinedContent.objects.values_list("repo_id", "sha256"):
        withdrawn.setdefault(repo_id, set()).add(sha256)
    commits = Commit.objects.exclude(repo_id__in=list(withdrawn))
    for tree_oid in commits.values_list("tree_oid", flat=True).distinct().iterator():
        _collect(tree_oid, seen_trees, hashes)
    for repo_id, gone in withdrawn.items():
        own: set[str] = set()
        own_trees: set[str] = set()
        for tree_oid in Commit.objects.filter(repo_id=repo_id).values_list("tree_oid", flat=True).distinct():
            _collect(tree_oid, own_trees, own)
        hashes |= own - gone
    return hashes


def _collect(tree_oid: str, seen: set[str], hashes: set[str]) -> None:
    if tree_oid in seen:
        return
    seen.add(tree_oid)
    for entry in trees.tree_entries(tree_oid):
        if entry["type"] == "directory":
            _collect(entry["oid"], seen, hashes)
        else:
            hashes.add(entry_sha256(entry))


def collect_garbage(*, grace: timedelta, dry_run: bool = False) -> GcReport:
    # A backup's database snapshot may name blobs that no commit references by now: not while it
    # copies them (checked again after the mark, which takes a while on a big hub).
    backup.refuse_during_backup()
    report = GcReport()
    keep = referenced_hashes()
    report.referenced = len(keep)
    backup.refuse_during_backup()
    cutoff = timezone.now() - grace
    storage = get_storage()
    candidates = StoredObject.objects.filter(touched_at__lt=cutoff).exclude(sha256__in=keep)
    for sha256 in list(candidates.values_list("sha256", flat=True)):
        with transaction.atomic():
            # SECURITY/INTEGRITY: the same row lock a commit takes; a commit that touched the object
            # after the mark phase moved `touched_at` past the cutoff, so the filter drops it.
            obj = (
                StoredObject.objects.select_for_update(skip_locked=True)
                .filter(pk=sha256, touched_at__lt=cutoff)
                .first()
            )
            if obj is None:
                continue
            report.deleted_objects += 1
            report.deleted_bytes += obj.size
            if not dry_run:
                storage.delete(sha256)
                obj.delete()
    known = set(StoredObject.objects.values_list("sha256", flat=True))
    cutoff_ts = time.time() - grace.total_seconds()
    for sha256, _size, mtime in storage.iter_objects():
        if sha256 not in known and sha256 not in keep and mtime < cutoff_ts:
            report.deleted_strays += 1
            if not dry_run:
                storage.delete(sha256)
    if not dry_run:
        report.deleted_tmp = storage.clean_tmp(older_than_seconds=grace.total_seconds())
        cache = get_read_cache()
        if cache is not storage:  # S3: local copies made for the scanner and the preview workers
            report.deleted_tmp += cache.drop_older_than(older_than_seconds=grace.total_seconds())
    for collector in hooks.garbage_collectors:
        report.extra.update(collector(grace, dry_run))
    return report
