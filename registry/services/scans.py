"""Scan bookkeeping: one FileScan row per content hash, the work done by `scan_blob_task`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.outbox import publish
from registry import metrics
from registry.models import SCAN_ABANDONED_PREFIX, FileScan, ScanStatus


def scans_request(*, files: list[tuple[str, str]]) -> list[str]:
    """Queue scans of (sha256, path) pairs not scanned before; returns the hashes queued.

    Every file is scanned, whatever its name: the scanner decides from the content (a protocol 0
    pickle loads as well from `data.txt`), and content never scanned is `unscanned`, not safe.
    Two queries whatever the number of files. Runs inside the commit transaction; the tasks are
    sent only once it commits."""
    names = {sha256: path.rsplit("/", 1)[-1] for sha256, path in files}
    known = set(FileScan.objects.filter(sha256__in=names).values_list("sha256", flat=True))
    fresh = [FileScan(sha256=sha256, filename=name[:255]) for sha256, name in names.items() if sha256 not in known]
    # A commit racing on the same content inserts it once; its task scans it, and a second send
    # finds the scan done (scan_blob_task is idempotent).
    FileScan.objects.bulk_create(fresh, ignore_conflicts=True)
    queued = [scan.sha256 for scan in fresh]
    if queued:
        transaction.on_commit(partial(_send_scans, queued))
    return queued


def _send_scans(hashes: list[str]) -> None:
    """After the commit: a broker that cannot take them now (Redis down) fails nothing; the rows
    say `queued`, and the beat sends them again (`scans_requeue`)."""
    from registry.tasks import scan_blob_task

    for sha256 in hashes:
        if not publish(scan_blob_task, [sha256]):
            break  # the broker is down: the rest wait for the beat too


@transaction.atomic
def scan_record(*, sha256: str, result: dict) -> FileScan:
    scan = FileScan.objects.select_for_update().get(sha256=sha256)
    scan.status = result["status"] if result["status"] in ScanStatus.values else ScanStatus.ERROR
    scan.imports = result.get("imports", [])[:500]
    scan.message = result.get("message", "")[:1000]
    scan.scanner = result.get("scanner", "")[:100]
    scan.scanned_at = timezone.now()
    scan.save()
    metrics.count_scans(scan.status)
    return scan


@dataclass(frozen=True)
class ScanRequeue:
    requeued: list[str]
    abandoned: list[str]


REQUEUE_BATCH = 500


def scans_requeue_stale(*, now: datetime | None = None) -> ScanRequeue:
    """Re-send scans left `queued` longer than GATEHOUSE_SCAN_RETRY_AFTER (a worker that was down,
    a task lost with its broker); after GATEHOUSE_SCAN_MAX_ATTEMPTS sends, record `error`, which
    fails closed, rather than leave the file queued forever.

    Safe when two beat ticks overlap: rows are claimed with skip_locked, and each change is a
    conditional update on the `queued_at` that was read, so a scan is re-sent at most once per
    period even where row locks are not available (SQLite)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.GATEHOUSE_SCAN_RETRY_AFTER)
    requeued, abandoned = [], []
    with transaction.atomic():
        stale = (
            FileScan.objects.select_for_update(skip_locked=True)
            .filter(status=ScanStatus.QUEUED, queued_at__lt=cutoff)
            .order_by("queued_at")
            .values_list("sha256", "queued_at", "attempts")[:REQUEUE_BATCH]
        )
        for sha256, queued_at, attempts in stale:
            unchanged = FileScan.objects.filter(sha256=sha256, status=ScanStatus.QUEUED, queued_at=queued_at)
            if attempts >= settings.GATEHOUSE_SCAN_MAX_ATTEMPTS:
                if unchanged.update(status=ScanStatus.ERROR, message=_abandoned_message(attempts), scanned_at=now):
                    abandoned.append(sha256)
            elif unchanged.update(queued_at=now, attempts=F("attempts") + 1):
                requeued.append(sha256)
    if requeued:
        transaction.on_commit(partial(_send_scans, requeued))
    metrics.count_scans(ScanStatus.ERROR, len(abandoned))
    return ScanRequeue(requeued=requeued, abandoned=abandoned)


def _abandoned_message(attempts: int) -> str:
    return f"{SCAN_ABANDONED_PREFIX}{attempts} times and never ran; the file is treated as unscanned, not safe."


def scans_rescan(*, statuses: list[str]) -> list[str]:
    """Scan again every file whose verdict is in `statuses`: after a scanner upgrade (a new pass
    may find what the old one missed), or to retry `error` verdicts once the cause is fixed. The
    files show `queued` until the worker records the new verdict."""
    unknown = set(statuses) - set(ScanStatus.values)
    if unknown:
        raise ValueError(f"Unknown scan status: {', '.join(sorted(unknown))}.")
    now = timezone.now()
    with transaction.atomic():
        chosen = list(FileScan.objects.select_for_update().filter(status__in=statuses).values_list("sha256", flat=True))
        FileScan.objects.filter(sha256__in=chosen).update(
            status=ScanStatus.QUEUED, queued_at=now, attempts=1, message="", scanned_at=None
        )
        if chosen:
            transaction.on_commit(partial(_send_scans, chosen))
    return chosen
