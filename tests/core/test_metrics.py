"""/metrics (core.metrics): who may scrape it, and what it counts."""

from __future__ import annotations

import pytest

from tests.support.builders import commit_files, make_repo
from tests.support.metrics import parse_metrics

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
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 1
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=STRANGER).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


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
