"""A real prefork Celery worker's metrics reach the web's /metrics (core.taskmetrics): the worker
points prometheus_client at its own folder before its pool starts, and /metrics adds it up."""

from __future__ import annotations

import os

import pytest

from config.celery import app
from core.tasks import outbox_relay_task
from tests.e2e.conftest import wait_for, worker_database_url
from tests.support.metrics import parse_metrics
from tests.support.worker_process import purge_broker, start_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SERIES = ("gatehouse_worker_tasks_total", (("outcome", "succeeded"), ("task", "core.tasks.outbox_relay_task")))
DURATION = ("gatehouse_worker_task_duration_seconds_count", (("task", "core.tasks.outbox_relay_task"),))


def test_a_prefork_workers_tasks_are_counted_at_the_webs_metrics(client, tmp_path, settings):
    folder = tmp_path / "worker-metrics"
    settings.GATEHOUSE_WORKER_METRICS_DIR = str(folder)
    broker = os.environ["REDIS_URL"]
    purge_broker(broker)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_WORKER_METRICS_DIR": str(folder),
    }
    worker = start_worker(name="metrics", folder=tmp_path, env=env)
    try:
        with app.connection_for_write(broker) as connection:
            for _ in range(2):
                outbox_relay_task.apply_async(connection=connection)

        def counted() -> bool:
            return parse_metrics(client.get("/metrics").content.decode()).get(SERIES, 0) == 2

        wait_for(counted, timeout=60, what="the worker's tasks at /metrics")
    finally:
        worker.stop()
    assert [path.name.split("@")[0] for path in folder.iterdir()] == ["metrics"]  # its own subfolder
    assert parse_metrics(client.get("/metrics").content.decode())[DURATION] == 2
