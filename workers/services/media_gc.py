"""gc_blobs' sweep of the preview store (registered in workers.apps through registry.hooks).

A preview image is stored before the job naming it is recorded (workers.worker._store_and_finish):
bytes in a file store and a row in the database cannot change in one transaction. A worker killed
between the two leaves an image no job names; the rerun usually stores the same bytes and names
them, but a bias report's batch rerun in a batch of another size renders other bytes (batched CPU
arithmetic), so the first image stays unreferenced. Such images, and the store's temporary files,
are deleted here once older than the grace period: an image being finished is younger (a store of
bytes already there refreshes their mtime, registry.storage.local), and each candidate is checked
again just before it is deleted.
"""

from __future__ import annotations

import time
from datetime import timedelta

from workers.media import preview_store
from workers.models import PreviewJob


def collect_preview_garbage(grace: timedelta, dry_run: bool) -> dict[str, int]:
    store = preview_store()
    cutoff = time.time() - grace.total_seconds()
    named = set(PreviewJob.objects.exclude(result_sha256="").values_list("result_sha256", flat=True))
    unreferenced = 0
    for name, _size, mtime in list(store.iter_objects()):
        if name in named or mtime >= cutoff:
            continue
        # Again, just before deleting: a job may have been finished with it, or its bytes stored
        # again, since the listing.
        info = store.info(name)
        if info is None or info[1] >= cutoff or PreviewJob.objects.filter(result_sha256=name).exists():
            continue
        unreferenced += 1
        if not dry_run:
            store.delete(name)
    temporary = 0 if dry_run else store.clean_tmp(older_than_seconds=grace.total_seconds())
    return {"unreferenced preview images": unreferenced, "temporary preview files": temporary}
