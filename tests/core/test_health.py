"""/healthz (liveness) and /readyz (readiness, details for operators only) of issue 17."""

from __future__ import annotations

import pytest
from celery import Celery
from django.core.cache import cache
from kombu import Connection

from core import fsbroker, heartbeat
from core.tasks import heartbeat_task
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db

REMOTE = "203.0.113.7"


@pytest.fixture(autouse=True)
def _no_heartbeats():
    cache.delete_many([heartbeat.BEAT_KEY, heartbeat.WORKER_KEY])
    yield
    cache.delete_many([heartbeat.BEAT_KEY, heartbeat.WORKER_KEY])


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", REMOTE_ADDR=REMOTE)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_tells_strangers_the_status_word_only(client):
    response = client.get("/readyz", REMOTE_ADDR=REMOTE)

    assert response.status_code == 200
    assert response.json() == {"status": "degraded"}  # no worker heartbeat in a test
    assert "private" in response["Cache-Control"]


def test_readyz_details_from_loopback(client):
    body = client.get("/readyz", REMOTE_ADDR="127.0.0.1").json()

    checks = body["checks"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is True
    assert checks["storage"]["ok"] is True and checks["storage"]["free_bytes"] > 0
    assert checks["workers"]["ok"] is False
    assert checks["workers"]["worker_heartbeat_seconds_ago"] is None


def test_loopback_behind_an_undeclared_proxy_gets_no_details(client, settings):
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 0
    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=REMOTE)

    assert response.json() == {"status": "degraded"}
    for header in ({"HTTP_X_FORWARDED_FOR": ""}, {"HTTP_FORWARDED": "for=1.2.3.4"}, {"HTTP_X_REAL_IP": "1.2.3.4"}):
        assert "checks" not in client.get("/readyz", REMOTE_ADDR="127.0.0.1", **header).json(), header
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 1  # declared, but the request lacks its entry
    assert "checks" not in client.get("/readyz", REMOTE_ADDR="127.0.0.1").json()


def test_readyz_details_for_an_operator_token_only(client):
    operator = UserFactory(is_staff=True)
    user = UserFactory()

    as_operator = client.get("/readyz", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION=f"Bearer {token_for(operator, 'read')}")
    as_user = client.get("/readyz", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")

    assert set(as_operator.json()["checks"]) == {"database", "broker", "storage", "workers"}
    assert as_user.json() == {"status": "degraded"}


def test_readyz_is_unavailable_when_the_broker_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["broker"] == {"ok": False, "kind": "redis", "error": "ConnectionError"}


def test_readyz_is_unavailable_without_its_storage(client, settings, tmp_path):
    (tmp_path / "not-a-folder").write_bytes(b"")
    settings.GATEHOUSE_STORAGE_ROOT = tmp_path / "not-a-folder"

    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


def test_folder_broker_reports_queue_lengths(client, settings, tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    settings.CELERY_BROKER_URL = "gatehouse-fs://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    with Connection(transport=fsbroker.Transport, transport_options=options) as conn:
        conn.SimpleQueue("gpu").put({"preview": 1})

    queues = client.get("/readyz", REMOTE_ADDR="127.0.0.1").json()["checks"]["broker"]["queues"]

    assert queues["gpu"]["messages"] == 1
    assert queues["gpu"]["oldest_seconds"] >= 0
    assert queues["celery"] == {"messages": 0, "oldest_seconds": None}


def test_heartbeats_of_beat_and_worker_make_it_ok(client, tmp_path):
    app = Celery("beat-under-test", broker="memory://", set_as_current=False)  # tasks keep the real app
    app.conf.beat_schedule = {"heartbeat": {"task": heartbeat.HEARTBEAT_TASK, "schedule": 30.0}}
    scheduler = heartbeat.Scheduler(app=app, schedule_filename=str(tmp_path / "beat"))
    scheduler.tick()
    scheduler.apply_async(scheduler.schedule["heartbeat"])  # what the tick does when it is due
    sent_at = scheduler.schedule["heartbeat"].kwargs["sent_at"]
    heartbeat_task(sent_at=sent_at - 2.5)  # as a worker would run it, 2.5 s later

    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1")

    assert response.json()["status"] == "ok"
    workers = response.json()["checks"]["workers"]
    assert workers["ok"] is True
    assert workers["queue_lag_seconds"] >= 2.5
    assert workers["beat_tick_seconds_ago"] is not None
    scheduler.close()


def test_readyz_is_unavailable_when_the_bucket_does_not_answer(client, s3_backend, settings):
    """Found by a review: on S3, /readyz checked only the local scratch folder."""
    assert client.get("/readyz").json()["checks"]["storage"]["ok"] is True
    settings.GATEHOUSE_STORAGE_URL = "s3://no-such-bucket-here/prefix"
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["checks"]["storage"]["error"].startswith("bucket unreachable")


def test_readiness_checks_run_at_most_once_a_second_per_process(
    client, settings, django_assert_num_queries, monkeypatch
):
    """Found by a review: each anonymous /readyz ran a query, a scan of the queue folder and, on
    S3, a HEAD of up to 2 s, unthrottled."""
    from core import health

    monkeypatch.setattr(health, "_last", None)  # nothing left by the tests before
    settings.GATEHOUSE_READYZ_CACHE_SECONDS = 60
    client.get("/readyz")
    with django_assert_num_queries(0):  # not even the database's SELECT 1
        assert client.get("/readyz").json()["status"] in ("ok", "degraded")
    settings.GATEHOUSE_READYZ_CACHE_SECONDS = 0
    with django_assert_num_queries(1, exact=False):
        client.get("/readyz")
