"""Scan bookkeeping: one FileScan row per content hash, the work done by `scan_blob_task`."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.utils import timezone

from registry.models import FileScan, ScanStatus


def scans_request(*, files: list[tuple[str, str]]) -> list[str]:
    """Queue scans of (sha256, path) pairs not scanned before; returns the hashes queued.

    Runs inside the commit transaction; the tasks are sent only once it commits."""
    queued = []
    for sha256, path in dict(files).items():
        _, created = FileScan.objects.get_or_create(sha256=sha256, defaults={"filename": path.rsplit("/", 1)[-1]})
        if created:
            queued.append(sha256)
    for sha256 in queued:
        transaction.on_commit(partial(_send_scan, sha256))
    return queued


def _send_scan(sha256: str) -> None:
    from registry.tasks import scan_blob_task

    scan_blob_task.delay(sha256)


@transaction.atomic
def scan_record(*, sha256: str, result: dict) -> FileScan:
    scan = FileScan.objects.select_for_update().get(sha256=sha256)
    scan.status = result["status"] if result["status"] in ScanStatus.values else ScanStatus.ERROR
    scan.imports = result.get("imports", [])[:500]
    scan.message = result.get("message", "")[:1000]
    scan.scanner = result.get("scanner", "")[:100]
    scan.scanned_at = timezone.now()
    scan.save()
    return scan
