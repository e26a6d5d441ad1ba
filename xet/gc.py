"""Garbage collection of Xet storage, run by `gc_blobs` after the blob store's own sweep.

1. Files whose content no StoredObject names any more (the blob sweep dropped it), once older
   than the grace period.
2. Xorbs no remaining file uses and untouched for the grace period. The row is locked and
   re-checked first: shard registration locks and touches the xorbs it uses, so a shard that
   registers a file in the meantime keeps them alive (registry.ops.gc uses the same pattern).
3. Shards none of whose files remain, once older than the grace period. Xorb and shard files
   without a row (a crash between writing and recording), and stale temporary files.
4. On the local backend, plain copies of Xet-stored content (written for the scanner and the
   preview workers) once older than the grace period; they are rebuilt when needed again. On
   object storage they are what downloads are redirected to, and stay.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from registry.models import StoredObject
from registry.storage import get_storage, get_xet_shard_storage, get_xet_storage
from xet.models import XetFile, XetShard, Xorb


def collect_xet_garbage(grace: timedelta, dry_run: bool) -> dict[str, int]:
    cutoff = timezone.now() - grace
    cutoff_ts = time.time() - grace.total_seconds()
    counts = {"Xet files": 0, "xorbs": 0, "shards": 0, "untracked Xet files": 0, "plain copies of Xet content": 0}
    live = StoredObject.objects.exclude(xet_hash="").values("xet_hash")
    dead_files = XetFile.objects.filter(created_at__lt=cutoff).exclude(hash__in=live)
    counts["Xet files"] = dead_files.count()
    if not dry_run:
        dead_files.delete()
    used: set[str] = set()
    for terms in XetFile.objects.values_list("terms", flat=True).iterator():
        used.update(term[0] for term in terms)
    storage = get_xet_storage()
    candidates = Xorb.objects.filter(touched_at__lt=cutoff).exclude(hash__in=used)
    for xorb_hash in list(candidates.values_list("hash", flat=True)):
        with transaction.atomic():
            row = Xorb.objects.select_for_update(skip_locked=True).filter(pk=xorb_hash, touched_at__lt=cutoff).first()
            if row is None:
                continue
            counts["xorbs"] += 1
            if dry_run:
                continue
            row.delete()
        # The file goes once the row is gone (and unless a new upload brought the row back): a crash
        # in between leaves a stray file, swept on a later run, never a row without its xorb.
        if not Xorb.objects.filter(pk=xorb_hash).exists():
            storage.delete(xorb_hash)
    shards = get_xet_shard_storage()
    dead_shards = XetShard.objects.filter(created_at__lt=cutoff, files__isnull=True)
    for sha256 in list(dead_shards.values_list("sha256", flat=True)):
        counts["shards"] += 1
        if not dry_run:
            XetShard.objects.filter(pk=sha256, files__isnull=True).delete()
    for store, known in (
        (storage, set(Xorb.objects.values_list("hash", flat=True))),
        (shards, set(XetShard.objects.values_list("sha256", flat=True))),
    ):
        for name, _size, mtime in store.iter_objects():
            if name not in known and mtime < cutoff_ts:
                counts["untracked Xet files"] += 1
                if not dry_run:
                    store.delete(name)
    plain = get_storage()
    # On object storage the plain copy is what downloads are redirected to: it stays while used
    # (the blob sweep removes it with its StoredObject, once no commit names the content).
    if not plain.serves_signed_urls:
        for sha256 in StoredObject.objects.exclude(xet_hash="").values_list("sha256", flat=True).iterator():
            found = plain.info(sha256)
            if found is not None and found[1] < cutoff_ts:
                counts["plain copies of Xet content"] += 1
                if not dry_run:
                    plain.delete(sha256)
    if not dry_run:
        for store in (storage, shards):
            store.clean_tmp(older_than_seconds=grace.total_seconds())
    return counts
