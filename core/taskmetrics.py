"""Celery workers' own metrics, and how they reach `/metrics`.

- `gatehouse_worker_tasks_total{task, outcome}`: tasks run, by registered task name (a fixed set,
  never an argument) and outcome (`succeeded`, `failed`, `retried`, `other`).
- `gatehouse_worker_task_duration_seconds{task}`: a histogram of their run time.
Preview and scan outcomes are counted where they are recorded (workers.metrics, registry.metrics),
which is mostly in workers too.

Why a folder and not an HTTP exporter in the worker: a prefork worker runs tasks in child processes
that come and go, so a server in the parent would see none of their samples. prometheus_client's
multiprocess mode is made for this: at start (`celeryd_init` in config/celery.py, before Django or
prometheus_client is imported) the worker empties `GATEHOUSE_WORKER_METRICS_DIR` and points `PROMETHEUS_MULTIPROC_DIR`
at it, every pool child writes its samples there, and the web's `/metrics` (core.metrics) adds that
folder to its own, so one scrape target, with the same access rule, covers web and workers. It
needs the workers and the web on one host (or a shared folder), as `make run` has; a worker on
another host keeps its metrics to itself (state them there with a node exporter's textfile, or run
`/metrics` there). Empty `GATEHOUSE_WORKER_METRICS_DIR` turns it off.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import Counter, Histogram

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}

TASKS = Counter("gatehouse_worker_tasks", "Celery tasks run, by task name and outcome.", ["task", "outcome"])
DURATION = Histogram(
    "gatehouse_worker_task_duration_seconds",
    "Seconds a Celery task ran, by task name.",
    ["task"],
    buckets=DURATION_BUCKETS,
)

_started: dict[str, float] = {}
_lock = threading.Lock()


def task_started(task_id: str) -> None:
    with _lock:
        _started[task_id] = time.perf_counter()


def task_ended(task_id: str, name: str, state: str | None) -> None:
    with _lock:
        started = _started.pop(task_id, None)
    TASKS.labels(name, OUTCOMES.get(state or "", "other")).inc()
    if started is not None:
        DURATION.labels(name).observe(time.perf_counter() - started)
