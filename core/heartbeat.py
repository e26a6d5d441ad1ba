"""Heartbeats of the beat scheduler and the Celery workers, for the readiness check.

Beat records each tick; every `GATEHOUSE_HEARTBEAT_INTERVAL` seconds it also sends
`core.tasks.heartbeat_task` with the time it sent it, and the worker that runs the task records
when it ran and how long the message waited (the lag of the default queue, end to end through the
broker). Both go to the Django cache, which every process of an install shares (a folder under
var/ by default, Redis in production).
"""

from __future__ import annotations

import time
from typing import Any

from celery.beat import PersistentScheduler
from django.core.cache import cache

BEAT_KEY = "gatehouse:heartbeat:beat"
WORKER_KEY = "gatehouse:heartbeat:worker"
HEARTBEAT_TASK = "core.tasks.heartbeat_task"
_KEEP = 7 * 24 * 3600


def record_beat(at: float) -> None:
    cache.set(BEAT_KEY, {"at": at}, _KEEP)


def record_worker(*, sent_at: float, ran_at: float) -> None:
    cache.set(WORKER_KEY, {"at": ran_at, "lag": max(0.0, ran_at - sent_at)}, _KEEP)


def last_beat() -> dict[str, float] | None:
    return cache.get(BEAT_KEY)


def last_worker() -> dict[str, float] | None:
    return cache.get(WORKER_KEY)


class Scheduler(PersistentScheduler):
    """Celery's default scheduler, recording its ticks (at most once a second) and stamping the
    heartbeat task with the time it is sent."""

    _recorded = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.time()
        if now - self._recorded >= 1.0:
            try:
                record_beat(now)
                self._recorded = now
            except Exception:  # a cache outage must not stop the schedule
                self.logger.exception("could not record the beat heartbeat")
        return super().tick(*args, **kwargs)

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        if entry.task == HEARTBEAT_TASK:
            entry.kwargs = {"sent_at": time.time()}
        return super().apply_async(entry, producer, advance, **kwargs)
