"""Celery tasks for previews: thin, ids only, scheduled through transaction.on_commit.

`preview_run_task` goes to the `gpu` queue (CELERY_TASK_ROUTES). It acknowledges late and is
rejected (requeued) when its worker process dies, and the job row's lease makes a redelivery a
no-op while the first delivery is alive. `preview_reap_task` runs from beat and re-queues jobs
whose worker died.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import DatabaseError

from workers import services


@shared_task(
    name="workers.tasks.preview_run_task",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT,
    time_limit=settings.GATEHOUSE_PREVIEW_HARD_TIME_LIMIT,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    max_retries=5,
)
def preview_run_task(job_id: str) -> None:
    from workers.worker import run_job

    run_job(job_id)


@shared_task(name="workers.tasks.preview_reap_task", ignore_result=True)
def preview_reap_task() -> None:
    services.preview_jobs_reap()


@worker_process_init.connect
def _warm_imports(**_kwargs) -> None:
    """Import torch and diffusers in each fresh child (not in the parent that forks it, and
    without touching CUDA), so the first preview does not pay seconds of imports."""
    import workers.runner.engine  # noqa: F401
