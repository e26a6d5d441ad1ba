"""Registry background work (runs in the Celery worker, never in a web request)."""

from __future__ import annotations

from celery import shared_task

from core import faults
from registry import scanning
from registry.models import FileScan
from registry.selectors import scan_is_due
from registry.services.repos import repos_purge_deleted
from registry.services.scans import scan_record, scans_requeue_stale
from registry.storage import content


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def scan_blob_task(sha256: str) -> str:
    """Idempotent: a scan already recorded is not repeated."""
    scan = FileScan.objects.filter(sha256=sha256).first()
    if scan is None or not scan_is_due(scan):
        return scan.status if scan else "missing"
    path = content.local_path(sha256)
    result = scanning.scan_file_isolated(str(path), scan.filename)
    faults.point("scan.before_record")
    return scan_record(sha256=sha256, result=result).status


@shared_task
def scans_requeue_task() -> int:
    """Beat: re-send scans stuck in `queued` (see scans_requeue_stale); returns how many."""
    outcome = scans_requeue_stale()
    return len(outcome.requeued) + len(outcome.abandoned)


@shared_task
def repos_purge_deleted_task() -> int:
    """Beat: purge deleted repos whose grace period is over; returns how many."""
    return repos_purge_deleted()
