"""Download counts are tallied per process and written in batches (registry.services.downloads).

The rest of the suite writes each download in its request (GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS
= 0, tests/conftest.py); these tests run the batching that production runs.
"""

from __future__ import annotations

import time

import pytest
import requests
from django.db import OperationalError, connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import Repo
from registry.services import downloads
from tests.support.builders import make_repo
from tests.support.gunicorn import deployed_gunicorn, hub_env
from tests.support.metrics import parse_metrics


@pytest.fixture
def batched(settings, monkeypatch):
    """Batching on, with a tally whose flushing thread never runs (the test flushes)."""
    settings.GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS = 3600
    tally = downloads.DownloadTally()
    monkeypatch.setattr(tally, "add", _add_without_thread(tally))
    monkeypatch.setattr(downloads, "_tally", tally)
    return tally


def _add_without_thread(tally: downloads.DownloadTally):
    def add(repo_pk: int, n: int = 1) -> None:
        with tally._lock:
            tally._counts[repo_pk] += n

    return add


def test_a_download_is_tallied_not_written_until_a_flush(client, alice, batched):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    for _ in range(3):
        assert client.get(f"/{repo.repo_id}/resolve/main/config.json").status_code == 200
    assert client.head(f"/{repo.repo_id}/resolve/main/config.json").status_code == 200  # not a download

    assert Repo.objects.get(pk=repo.pk).downloads == 0
    assert services.repo_downloads_pending() == {repo.pk: 3}
    assert services.repo_downloads_flush() == 3
    assert Repo.objects.get(pk=repo.pk).downloads == 3
    assert services.repo_downloads_pending() == {}
    assert services.repo_downloads_flush() == 0


def test_a_flush_is_one_update_per_repo_in_one_transaction(alice, batched):
    repos = [make_repo(alice, f"m{i}", {"config.json": b"{}"}) for i in range(3)]
    for i, repo in enumerate(repos):
        for _ in range(10 * (i + 1)):
            services.repo_downloads_increment(repo=repo)

    with CaptureQueriesContext(connection) as queries:
        services.repo_downloads_flush()

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 3
    assert [Repo.objects.get(pk=r.pk).downloads for r in repos] == [10, 20, 30]


def test_a_failed_flush_keeps_its_counts_for_the_next(alice, batched, monkeypatch):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    for _ in range(4):
        services.repo_downloads_increment(repo=repo)
    database_locked = True
    update = QuerySet.update

    def locked_update(self, **kwargs):
        if database_locked:
            raise OperationalError("database is locked")
        return update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", locked_update)
    with pytest.raises(OperationalError):
        services.repo_downloads_flush()
    services.repo_downloads_increment(repo=repo)  # counted meanwhile
    assert services.repo_downloads_pending() == {repo.pk: 5}

    database_locked = False
    assert services.repo_downloads_flush() == 5
    assert Repo.objects.get(pk=repo.pk).downloads == 5


@pytest.mark.django_db(transaction=True)
def test_the_flushing_thread_writes_counts_within_the_interval(settings, alice, monkeypatch):
    settings.GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS = 0.2
    tally = downloads.DownloadTally()
    monkeypatch.setattr(downloads, "_tally", tally)
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    try:
        for _ in range(7):
            services.repo_downloads_increment(repo=repo)
        deadline = time.monotonic() + 10
        while Repo.objects.get(pk=repo.pk).downloads != 7:
            assert time.monotonic() < deadline, "the tally was not written"
            time.sleep(0.05)
        assert services.repo_downloads_pending() == {}
    finally:
        tally.stop()


@pytest.mark.django_db(transaction=True)
def test_a_clean_stop_of_gunicorn_writes_every_count_and_metrics_add_up_its_workers(alice, tmp_path):
    """gunicorn as deployed (config/gunicorn.conf.py, two workers), a flush interval far longer
    than the test: every download counted reaches the database once the server is stopped. And
    /metrics, asked of either worker, adds up both (prometheus_client's multiprocess mode)."""
    repo = make_repo(alice, "zq-private-model", {"config.json": b"{}", "README.md": b"# hi\n"})
    env = hub_env(
        tmp_path,
        CELERY_BROKER_URL="memory://",
        GATEHOUSE_LOOKUP_CACHE="false",
        GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS="3600",
    )
    log = tmp_path / "gunicorn.log"
    with deployed_gunicorn(log=log, env=env, workers=2) as base:
        for _ in range(40):
            # A new connection each time, so both workers take some.
            assert requests.get(f"{base}/{repo.repo_id}/resolve/main/config.json", timeout=30).status_code == 200
        assert Repo.objects.get(pk=repo.pk).downloads == 0  # tallied, not written yet
        scraped = requests.get(f"{base}/metrics", timeout=30)
    assert Repo.objects.get(pk=repo.pk).downloads == 40, log.read_text(errors="replace")[-3000:]

    assert scraped.status_code == 200
    samples = parse_metrics(scraped.text)
    assert samples[("gatehouse_downloads_total", ())] == 40
    assert samples[("gatehouse_http_requests_total", RESOLVE_GET_2XX)] == 40
    assert repo.name not in scraped.text
    assert (tmp_path / "var" / "metrics").is_dir()


RESOLVE_GET_2XX = (("method", "GET"), ("route", "download:resolve"), ("status", "2xx"))
