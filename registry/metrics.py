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
