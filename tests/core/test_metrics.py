"""/metrics (core.metrics): who may scrape it, and what it counts."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from registry.models import FileScan
from tests.support.builders import commit_files, make_repo
from tests.support.metrics import parse_metrics
from workers.models import JobStatus, PreviewJob
from workers.runner.specs import JobOutcome
from workers.services import preview_job_finish, preview_jobs_fail

STRANGER = "203.0.113.7"


def scrape(client, **extra) -> dict:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    return parse_metrics(response.content.decode())


def test_strangers_get_403_and_loopback_or_the_token_gets_metrics(client, settings, db):
    settings.GATEHOUSE_METRICS_TOKEN = "scrape-secret-0123456789"
    assert client.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR=STRANGER).status_code == 403
    refused = client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 403 and b"gatehouse_" not in refused.content
    allowed = client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789")
    assert allowed.status_code == 200


def test_no_token_is_accepted_when_none_is_set(client, settings, db):
    settings.GATEHOUSE_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=STRANGER, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_proxy_on_this_host_does_not_make_callers_local(client, settings, db):
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 0
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=STRANGER).status_code == 403
    # Found by an outsider attack: other proxy headers, and an empty X-Forwarded-For, got through.
    for header in ({"HTTP_X_FORWARDED_FOR": ""}, {"HTTP_FORWARDED": f"for={STRANGER}"}, {"HTTP_X_REAL_IP": STRANGER}):
        assert client.get("/metrics", **header).status_code == 403, header
    # And a TLS proxy that sends only the scheme, the host or a Via line.
    for header in ({"HTTP_X_FORWARDED_PROTO": "https"}, {"HTTP_X_FORWARDED_HOST": "hub"}, {"HTTP_VIA": "1.1 nginx"}):
        assert client.get("/metrics", **header).status_code == 403, header
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 1
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=STRANGER).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    # With a proxy declared, a request without its entry is not taken for the proxy's loopback.
    assert client.get("/metrics").status_code == 403


def test_allowed_networks_are_a_setting(client, settings, db):
    settings.GATEHOUSE_METRICS_ALLOW_FROM = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=STRANGER).status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_requests_are_counted_by_route_name_and_status_class_never_by_repo(client, alice):
    repo = make_repo(alice, "a-very-private-name", {"config.json": b"{}"}, private=True)
    key = ("gatehouse_http_requests_total", (("method", "GET"), ("route", "download:resolve"), ("status", "4xx")))
    hist = (
        "gatehouse_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "download:resolve"), ("status", "4xx")),
    )
    before = scrape(client)
    assert client.get(f"/{repo.repo_id}/resolve/main/config.json").status_code in (401, 404)
    assert client.get("/no/such/thing/at/all/here").status_code == 404
    text = client.get("/metrics").content.decode()
    after = parse_metrics(text)

    assert after[key] - before.get(key, 0) == 1
    assert after[hist] - before.get(hist, 0) == 1
    assert "a-very-private-name" not in text and "alice" not in text
    unmatched = ("gatehouse_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "4xx")))
    assert after[unmatched] - before.get(unmatched, 0) == 1


def test_odd_methods_share_one_label(client, db):
    before = scrape(client)
    client.generic("BREW", "/healthz")
    after = scrape(client)
    key = ("gatehouse_http_requests_total", (("method", "other"), ("route", "healthz"), ("status", "4xx")))
    assert after[key] - before.get(key, 0) == 1


def test_downloads_commits_and_queues_are_exported(client, alice):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    before = scrape(client)
    assert client.get(f"/{repo.repo_id}/resolve/main/config.json").status_code == 200
    commit_files(repo, {"a.txt": b"a"}, author=alice)
    after = scrape(client)

    assert after[("gatehouse_downloads_total", ())] - before.get(("gatehouse_downloads_total", ()), 0) == 1
    # The commit's transaction is the test's, never committed: counted on commit only.
    commits = ("gatehouse_commits_total", (("target", "branch"),))
    assert after.get(commits, 0) == before.get(commits, 0)
    assert after[("gatehouse_broker_up", ())] == 1
    assert ("gatehouse_scans_queued", ()) in after


@pytest.mark.django_db(transaction=True)
def test_commits_are_counted_when_they_land(client, alice):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    commits = ("gatehouse_commits_total", (("target", "branch"),))
    before = scrape(client).get(commits, 0)
    commit_files(repo, {"a.txt": b"a"}, author=alice)
    assert scrape(client)[commits] - before == 1


def _running_job(owner, name: str) -> PreviewJob:
    repo = make_repo(owner, name)
    return PreviewJob.objects.create(
        repo=repo,
        commit_oid="0" * 40,
        request_key=name,
        batch_key="b",
        params={"prompt": "a cat"},
        sld_preset="off",
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner="w",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_preview_outcomes_are_counted_once_when_recorded(client, alice):
    blocked = ("gatehouse_previews_finished_total", (("outcome", "blocked"), ("stage", "checker")))
    failed = ("gatehouse_previews_finished_total", (("outcome", "failed"), ("stage", "none")))
    before = scrape(client)
    one, two = _running_job(alice, "p1"), _running_job(alice, "p2")
    outcome = JobOutcome(job_id=str(one.pk), status=JobStatus.BLOCKED, blocked_stage="checker", blocked_category="x")
    assert preview_job_finish(job_id=one.pk, owner="w", outcome=outcome)
    assert not preview_job_finish(job_id=one.pk, owner="w", outcome=outcome)  # once: the lease is gone
    assert preview_jobs_fail(job_ids=[two.pk], owner="w", message="lost") == 1
    after = scrape(client)
    assert after[blocked] - before.get(blocked, 0) == 1
    assert after[failed] - before.get(failed, 0) == 1
    assert "p1" not in client.get("/metrics").content.decode()  # never a repo name


@pytest.mark.django_db(transaction=True)
def test_scan_verdicts_and_worker_tasks_are_counted(client, alice):
    """A pickle scan run as a Celery task (in this process): its verdict, and the task by name,
    outcome and duration."""
    from config.celery import app

    verdict = ("gatehouse_scans_total", (("verdict", "safe"),))
    task = ("gatehouse_worker_tasks_total", (("outcome", "succeeded"), ("task", "registry.tasks.scan_blob_task")))
    duration = ("gatehouse_worker_task_duration_seconds_count", (("task", "registry.tasks.scan_blob_task"),))
    before = scrape(client)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        make_repo(alice, "pickled", {"model.pkl": pickle.dumps({"weights": [1, 2, 3]})})
    finally:
        app.conf.task_always_eager = eager
    after = scrape(client)
    scanned = FileScan.objects.filter(status="safe").count()  # the pickle, and .gitattributes' own
    assert scanned >= 1
    assert after[verdict] - before.get(verdict, 0) == scanned
    assert after[task] - before.get(task, 0) == scanned
    assert after[duration] - before.get(duration, 0) == scanned


def test_worker_folder_samples_are_added_to_this_process(client, db, settings, tmp_path):
    """A Celery worker's samples (files in GATEHOUSE_WORKER_METRICS_DIR/<node>, written by
    prometheus_client's multiprocess mode in the worker) join this process's, summed by series."""
    settings.GATEHOUSE_WORKER_METRICS_DIR = str(tmp_path)
    series = ("gatehouse_worker_tasks_total", (("outcome", "failed"), ("task", "core.tasks.outbox_relay_task")))
    before = scrape(client).get(series, 0)
    node = tmp_path / "celery@host"
    node.mkdir()
    script = (
        "import os, sys; os.environ['PROMETHEUS_MULTIPROC_DIR'] = sys.argv[1]\n"
        "from core.taskmetrics import TASKS\n"
        "TASKS.labels('core.tasks.outbox_relay_task', 'failed').inc(3)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(node)], check=True, cwd=settings.BASE_DIR)
    assert scrape(client)[series] - before == 3


def test_a_worker_folder_emptied_during_a_scrape_does_not_fail_it(client, db, settings, tmp_path, monkeypatch):
    """A worker that starts again empties its folder: a file listed a moment before is gone when
    it is read. The scrape lists again instead of answering 500."""
    from core import metrics

    listed = metrics.glob.glob

    settings.GATEHOUSE_WORKER_METRICS_DIR = str(tmp_path)
    node = tmp_path / "celery@host"
    node.mkdir()
    script = (
        "import os, sys; os.environ['PROMETHEUS_MULTIPROC_DIR'] = sys.argv[1]\n"
        "from core.taskmetrics import TASKS\n"
        "TASKS.labels('core.tasks.outbox_relay_task', 'failed').inc(2)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(node)], check=True, cwd=settings.BASE_DIR)
    listings = []

    def stale_once(pattern: str) -> list[str]:
        found = listed(pattern)
        listings.append(pattern)
        return [*found, str(node / "counter_999.db")] if len(listings) == 1 else found

    monkeypatch.setattr(metrics.glob, "glob", stale_once)
    series = ("gatehouse_worker_tasks_total", (("outcome", "failed"), ("task", "core.tasks.outbox_relay_task")))
    assert scrape(client)[series] >= 2
    assert len(listings) >= 2  # listed again after the vanished file
