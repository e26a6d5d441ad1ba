"""What a worker does with one task: claim a batch, load the model, render, store, finish.

Runs only inside the Celery worker's child process (it imports the torch engine lazily). User
errors (unsupported model, out of memory, time limit) end the jobs as `failed` with a message;
database errors propagate so that Celery retries the task; nothing crashes the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError

from core import faults
from registry.selectors import commit_tree_oid
from workers import conf, services
from workers.loading import materialize_commit
from workers.media import preview_store
from workers.models import JobStatus, PreviewJob
from workers.runner.files import UnsupportedModel
from workers.runner.specs import BatchInput, Concept, InvalidParams, JobInput, SafetySpec, params_from_dict

logger = logging.getLogger(__name__)
_engine = None


class LeaseLost(Exception):
    """The reaper gave this batch to another worker; stop working on it."""


def engine():
    """One engine (device, checker, pipeline cache) per worker process."""
    global _engine
    if _engine is None:
        from workers.runner.engine import PreviewEngine

        _engine = PreviewEngine(conf.engine_config())
    return _engine


class Lease:
    """Renews the batch's lease from the denoising loop, at most every `interval` seconds."""

    def __init__(self, job_ids: list, owner: str):
        self.job_ids = job_ids
        self.owner = owner
        self.interval = min(settings.GATEHOUSE_PREVIEW_LEASE_SECONDS / 4, 1.0)
        self._last = time.monotonic()

    def renew(self, step: int | None = None) -> None:
        if not services.preview_lease_renew(job_ids=self.job_ids, owner=self.owner, progress_step=step):
            raise LeaseLost()
        self._last = time.monotonic()

    def on_step(self, step: int) -> None:
        if time.monotonic() - self._last >= self.interval:
            self.renew(step)


def _batch_input(jobs: list[PreviewJob]) -> BatchInput:
    first = jobs[0]
    tree_oid = commit_tree_oid(first.repo, first.commit_oid)
    if tree_oid is None:
        raise UnsupportedModel("The commit to preview no longer exists.")
    model_dir = materialize_commit(first.repo_id, tree_oid, first.commit_oid)
    limits = conf.limits()
    return BatchInput(
        model_dir=model_dir,
        model_key=model_dir.name,
        jobs=tuple(JobInput(job_id=str(job.pk), params=params_from_dict(job.params, limits)) for job in jobs),
        safety=SafetySpec(
            preset=first.sld_preset,
            blocked_concepts=tuple(Concept(category, phrase) for category, phrase in first.blocked_concepts),
            safety_concept=conf.safety_concept(),
        ),
    )


def _store_and_finish(outcomes, owner: str, device: str, timings: dict) -> None:
    for outcome in outcomes:
        sha256 = ""
        started = time.perf_counter()
        if outcome.status == JobStatus.SUCCEEDED:
            sha256 = preview_store().put_bytes(outcome.image_png)
        faults.point("preview.before_finish")
        outcome.timings.update(timings, store_ms=_ms(started))
        # SECURITY: a blocked image was dropped by the engine; only its verdicts are recorded.
        services.preview_job_finish(
            job_id=outcome.job_id, owner=owner, outcome=outcome, result_sha256=sha256, device=device
        )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def run_job(job_id: str) -> None:
    from workers.runner.engine import RunnerOutOfMemory
    from workers.safety.checker import CheckerUnavailable

    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    jobs = services.preview_batch_claim(job_id=job_id, owner=owner, max_batch=settings.GATEHOUSE_PREVIEW_MAX_BATCH)
    if not jobs:
        return
    timings = {"claim_ms": _ms(started)}
    ids = [job.pk for job in jobs]
    lease = Lease(ids, owner)
    try:
        started = time.perf_counter()
        batch = _batch_input(jobs)
        timings["prepare_ms"] = _ms(started)
        lease.on_step(0)  # renews only if loading took a while: every commit costs an fsync
        outcomes = engine().render_batch(batch, on_step=lease.on_step)
        # Finishing is conditional on the lease: a batch the reaper gave away is not written twice.
        _store_and_finish(outcomes, owner, engine().device_name, timings)
    except LeaseLost:
        logger.warning("preview batch %s: lease lost; another worker owns it now", ids)
    except (UnsupportedModel, InvalidParams, CheckerUnavailable) as exc:
        services.preview_jobs_fail(job_ids=ids, owner=owner, message=str(exc))
    except RunnerOutOfMemory:
        message = "The preview ran out of device memory. Try a smaller image or fewer steps."
        services.preview_jobs_fail(job_ids=ids, owner=owner, message=message)
    except SoftTimeLimitExceeded:
        limit = settings.GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT
        services.preview_jobs_fail(job_ids=ids, owner=owner, message=f"The preview took longer than {limit} s.")
    except DatabaseError:
        raise
    except Exception:
        logger.exception("preview batch %s failed", ids)
        services.preview_jobs_fail(job_ids=ids, owner=owner, message="The preview failed because of an internal error.")
