"""The registry's Prometheus metrics (exported by core.metrics at `/metrics`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DatabaseError
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from core.metrics import on_scrape

DOWNLOADS = Counter(
    "gatehouse_downloads", "Downloads counted by the Hub's rule (registry.selectors.counts_as_download)."
)
COMMITS = Counter(
    "gatehouse_commits",
    "Commits that landed, by target: a branch or a pull request.",
    ["target"],
)
SCANS = Counter(
    "gatehouse_scans",
    "Pickle scans recorded, by verdict (registry.models.ScanStatus; `error` includes scans given up"
    " after GATEHOUSE_SCAN_MAX_ATTEMPTS sends).",
    ["verdict"],
)


def count_scans(verdict: str, n: int = 1) -> None:
    """Count `n` scans with `verdict` where they are recorded (a rate, not a ledger)."""
    if n:
        SCANS.labels(verdict).inc(n)


def _scan_metrics() -> Iterable[Metric]:
    from registry.models import FileScan, ScanStatus

    try:
        # An index range scan on (status, queued_at): proportional to the backlog, not the table.
        waiting = FileScan.objects.filter(status=ScanStatus.QUEUED).count()
    except DatabaseError:
        return
    gauge = GaugeMetricFamily("gatehouse_scans_queued", "Files waiting for their pickle scan at this scrape.")
    gauge.add_metric([], float(waiting))
    yield gauge


on_scrape(_scan_metrics)
