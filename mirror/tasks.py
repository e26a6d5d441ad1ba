"""Celery tasks of the mirror: thin, by id, idempotent."""

from __future__ import annotations

import logging
import tempfile

from celery import shared_task

from mirror import services
from mirror.content import mirror_storage
from mirror.models import MirrorObject, ObjectState
from registry.scanning import scan_file_isolated

logger = logging.getLogger(__name__)


@shared_task
def mirror_evict_task() -> int:
    """Keep the mirror's stored content within GATEHOUSE_MIRROR_MAX_BYTES (the beat, and after
    fetches). One eviction at a time (a lock in the cache): two would each free the same excess."""
    from django.conf import settings
    from django.core.cache import cache

    if settings.GATEHOUSE_MIRROR_MAX_BYTES <= 0 or not cache.add("mirror:evicting", 1, timeout=600):
        return 0
    try:
        return services.objects_evict(max_bytes=settings.GATEHOUSE_MIRROR_MAX_BYTES)
    finally:
        cache.delete("mirror:evicting")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def mirror_scan_task(row_pk: int) -> None:
    """Scan fetched pickle-format content (registry/scanning.py, in a resource-limited child)."""
    row = MirrorObject.objects.filter(pk=row_pk, state=ObjectState.STORED, scan_status="queued").first()
    if row is None:
        return
    storage = mirror_storage()
    local = storage.local_path(row.sha256)
    if local is not None:
        verdict = scan_file_isolated(str(local), row.filename or "file")
    else:
        with tempfile.NamedTemporaryFile(dir=storage.tmp_dir, prefix="scan-") as copy, storage.open(row.sha256) as src:
            while chunk := src.read(1024 * 1024):
                copy.write(chunk)
            copy.flush()
            verdict = scan_file_isolated(copy.name, row.filename or "file")
    services.scan_record(row_pk=row.pk, verdict=verdict)
