"""Prometheus metrics (prometheus_client): `/metrics`, for the operator only.

What is measured:

- `gatehouse_http_requests_total{route, method, status}` and
  `gatehouse_http_request_duration_seconds{route, method, status}` (a histogram, up to the moment
  the response is returned to the server: a download's bytes go out after it): `route` is the URL
  pattern's name (`download:resolve`, `api:api-repo`), never a path, so no repo id or file name
  reaches a label; `unmatched` where no route matched (unknown paths, static files); `status` is
  the class (`2xx` ... `5xx`); methods other than the usual seven are `other`.
- `gatehouse_downloads_total` and `gatehouse_commits_total` (registry), counted as they happen.
- At each scrape, from the process that answers it: `gatehouse_broker_up` and
  `gatehouse_queue_messages{queue}` (the Celery queues' lengths: LLEN on Redis, a directory
  listing on the embedded broker), `gatehouse_outbox_messages{state}` (core.outbox: pending,
  abandoned), and whatever apps add with `on_scrape` (registry: scans waiting).

- Celery workers' tasks by name and outcome, and their durations (core.taskmetrics), and the
  preview and scan outcomes counted there (workers.metrics, registry.metrics).

gunicorn runs several worker processes, and a scrape reaches one of them: config/gunicorn.conf.py
sets `PROMETHEUS_MULTIPROC_DIR` (under `GATEHOUSE_VAR_DIR` unless set), every worker writes its
samples to files there, and `/metrics` adds up all of them (prometheus_client's multiprocess mode;
the folder is emptied when gunicorn starts). Without it (runserver, the tests) each process
reports its own. Celery workers write theirs the same way to `GATEHOUSE_WORKER_METRICS_DIR` (one
subfolder per worker; see core/taskmetrics.py for why), and `/metrics` adds those too, sample by
sample, to what the web processes counted.

SECURITY: route names and counts reveal no repo, but traffic shape is still the operator's
business. `/metrics` answers 200 only to `Authorization: Bearer $GATEHOUSE_METRICS_TOKEN` (when
that is set) or to a caller whose address is in `GATEHOUSE_METRICS_ALLOW_FROM` (networks; loopback
by default), and not through an undeclared proxy (an `X-Forwarded-For` with
GATEHOUSE_TRUSTED_PROXY_HOPS = 0: a proxy on this host makes every caller look local). Anyone else
gets 403.
"""

from __future__ import annotations

import contextlib
import glob
import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.samples import Sample

from core.errors import Forbidden
from core.http import address_unproven, error_response

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter(
    "gatehouse_http_requests",
    "HTTP requests answered, by route name, method and status class.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "gatehouse_http_request_duration_seconds",
    "Seconds from the request reaching Django to its response being returned (not the body sent).",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: list[ScrapeCollector] = []


def on_scrape(collector: ScrapeCollector) -> None:
    """`collector()` runs at each scrape, in the answering process, and yields metric families
    (gauges read from the database or the broker at that moment)."""
    _scrape_collectors.append(collector)


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unmatched"


class MetricsMiddleware:
    """First in MIDDLEWARE: times every request, whatever answers it (the 503 of a database
    outage included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in METHODS else "other"
        requests, latency = _series((route_of(request), method, f"{response.status_code // 100}xx"))
        requests.inc()
        latency.observe(elapsed)
        return response


# The labelled series, looked up once per process: `labels()` validates and hashes its values on
# every call, a few microseconds of each request (bench/resolve_head_rps.py). Bounded: route
# names x METHODS x status classes.
_SERIES: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _series(labels: tuple[str, str, str]) -> tuple[Any, Any]:
    found = _SERIES.get(labels)
    if found is None:
        found = _SERIES[labels] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    return found


def _broker_metrics() -> Iterable[Metric]:
    from core.health import check_broker

    broker = check_broker()
    up = GaugeMetricFamily("gatehouse_broker_up", "1 when the Celery broker answered this scrape.")
    up.add_metric([], 1.0 if broker["ok"] else 0.0)
    yield up
    queues = GaugeMetricFamily(
        "gatehouse_queue_messages", "Messages waiting in each Celery queue at this scrape.", labels=["queue"]
    )
    for name, info in sorted((broker.get("queues") or {}).items()):
        queues.add_metric([name], float(info["messages"]))
    yield queues


on_scrape(_broker_metrics)


def _outbox_metrics() -> Iterable[Metric]:
    from django.db import DatabaseError

    from core.models import OutboxMessage

    try:  # the partial index on pending messages: proportional to the backlog
        pending = OutboxMessage.objects.filter(done_at__isnull=True, abandoned_at__isnull=True).count()
        abandoned = OutboxMessage.objects.filter(abandoned_at__isnull=False).count()
    except DatabaseError:
        return
    gauge = GaugeMetricFamily("gatehouse_outbox_messages", "Outbox messages by state at this scrape.", labels=["state"])
    gauge.add_metric(["pending"], float(pending))
    gauge.add_metric(["abandoned"], float(abandoned))
    yield gauge


on_scrape(_outbox_metrics)


class _ScrapeTime:
    def collect(self) -> Iterable[Metric]:
        for collector in _scrape_collectors:
            yield from collector()


def _summed(*sources: Iterable[Metric]) -> Iterable[Metric]:
    """One family per name, with the samples of equal name and labels added up: a counter that web
    processes and Celery workers both count (preview outcomes, say) is one series."""
    families: dict[str, Metric] = {}
    samples: dict[str, dict[tuple, Sample]] = {}
    for source in sources:
        for family in source:
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                samples[family.name] = {}
            known = samples[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                old = known.get(key)
                if old is None or sample.name.endswith("_created"):
                    known.setdefault(key, sample)
                else:
                    known[key] = sample._replace(value=old.value + sample.value)
    for name, family in families.items():
        family.samples = list(samples[name].values())
        yield family


class _Counted:
    """What this host's processes counted: the web (all gunicorn workers' files, or this process
    alone) plus the Celery workers' folder."""

    def collect(self) -> Iterable[Metric]:
        web_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if web_dir:
            return _merged(os.path.join(web_dir, "*.db"), *self._worker_patterns())
        return _summed(REGISTRY.collect(), _merged(*self._worker_patterns()))

    @staticmethod
    def _worker_patterns() -> list[str]:
        folder = settings.GATEHOUSE_WORKER_METRICS_DIR
        return [os.path.join(folder, "*", "*.db")] if folder else []


def _merged(*patterns: str, attempts: int = 3) -> list[Metric]:
    """The samples of the files matching `patterns`. A worker empties its folder when it starts
    again, so a file listed a moment ago may be gone: list again rather than fail the scrape,
    and at the last attempt read the files still there."""
    for _ in range(attempts - 1):
        with contextlib.suppress(FileNotFoundError):
            return MultiProcessCollector.merge(_listed(patterns), accumulate=True)
    return MultiProcessCollector.merge([path for path in _listed(patterns) if os.path.exists(path)], accumulate=True)


def _listed(patterns: tuple[str, ...]) -> list[str]:
    return [path for pattern in patterns for path in glob.glob(pattern)]


def build_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Counted())
    registry.register(_ScrapeTime())
    return registry


def _address(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.GATEHOUSE_TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [item.strip() for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if item.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def may_scrape(request: HttpRequest) -> bool:
    token = settings.GATEHOUSE_METRICS_TOKEN
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return True
    if address_unproven(request):
        return False  # SECURITY: a proxy on this host would make every caller look local
    address = _address(request)
    if address is None:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.GATEHOUSE_METRICS_ALLOW_FROM)


@require_http_methods(["GET"])
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        response = error_response(
            Forbidden(
                "Metrics are for the operator: a GATEHOUSE_METRICS_TOKEN or an address in GATEHOUSE_METRICS_ALLOW_FROM."
            )
        )
    else:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        response = HttpResponse(encoder(build_registry()), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response
