"""The job state machine, as the workers drive it: claim, renew, finish, fail, reap.

queued -> running (claimed under a lease) -> succeeded | blocked | failed; running -> queued again
when the lease runs out (the worker died). Every write after the claim is conditional on still
holding the lease, so a worker that lost its lease (or a duplicate delivery of the same task)
can never write a second result: each job ends exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from workers.metrics import count_previews
from workers.models import JobStatus, PreviewJob, SafetyVerdict
from workers.runner.specs import JobOutcome
from workers.services.requests import enqueue

logger = logging.getLogger(__name__)


def _lease_until(now):
    return now + timedelta(seconds=settings.GATEHOUSE_PREVIEW_LEASE_SECONDS)


@transaction.atomic
def preview_batch_claim(*, job_id: str, owner: str, max_batch: int) -> list[PreviewJob]:
    """Claim `job_id` and up to `max_batch - 1` queued jobs with the same batch key.

    Returns [] when there is nothing to do: the job is gone, finished, or leased by a live worker
    (a duplicate or redelivered message). A job whose lease ran out is claimed again.
    """
    now = timezone.now()
    job = PreviewJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
    if job is None or job.is_terminal:
        return []
    if job.status == JobStatus.RUNNING and job.lease_expires_at and job.lease_expires_at > now:
        return []
    max_attempts = settings.GATEHOUSE_PREVIEW_MAX_ATTEMPTS
    if job.attempts >= max_attempts:
        _fail(job, f"The preview was abandoned after {job.attempts} attempts: its worker was lost each time.", now)
        return []
    companions = list(
        PreviewJob.objects.select_for_update(skip_locked=True)
        .filter(status=JobStatus.QUEUED, batch_key=job.batch_key, attempts__lt=max_attempts)
        .exclude(pk=job.pk)
        .order_by("created_at")[: max(max_batch - 1, 0)]
    )
    ids = [job.pk] + [companion.pk for companion in companions]
    PreviewJob.objects.filter(pk__in=ids).update(
        status=JobStatus.RUNNING,
        lease_owner=owner,
        lease_expires_at=_lease_until(now),
        attempts=F("attempts") + 1,
        progress_step=0,
    )
    PreviewJob.objects.filter(pk__in=ids, started_at__isnull=True).update(started_at=now)
    claimed = {claimed.pk: claimed for claimed in PreviewJob.objects.filter(pk__in=ids)}
    return [claimed[pk] for pk in ids]


def preview_lease_renew(*, job_ids: list, owner: str, progress_step: int | None = None) -> bool:
    """Extend the lease (and record progress); False when the lease was lost to the reaper."""
    fields = {"lease_expires_at": _lease_until(timezone.now())}
    if progress_step is not None:
        fields["progress_step"] = progress_step
    with transaction.atomic():
        updated = PreviewJob.objects.filter(pk__in=job_ids, lease_owner=owner, status=JobStatus.RUNNING).update(
            **fields
        )
    return updated > 0


@transaction.atomic
def preview_job_finish(*, job_id, owner: str, outcome: JobOutcome, result_sha256: str = "", device: str = "") -> bool:
    """Record a job's end and its verdicts, once. False (nothing written) without the lease."""
    job = PreviewJob.objects.select_for_update().filter(pk=job_id, lease_owner=owner, status=JobStatus.RUNNING).first()
    if job is None:
        logger.warning("preview %s: lease lost before finishing; result discarded", job_id)
        return False
    job.status = outcome.status
    job.blocked_stage = outcome.blocked_stage
    job.blocked_category = outcome.blocked_category
    job.error = outcome.error[:2000]
    job.result_sha256 = result_sha256 if outcome.status == JobStatus.SUCCEEDED else ""
    job.timings = outcome.timings
    job.device = device[:64]
    job.finished_at = timezone.now()
    job.lease_owner, job.lease_expires_at = "", None
    job.save()
    SafetyVerdict.objects.bulk_create(
        [
            SafetyVerdict(
                job=job,
                attempt=job.attempts,
                stage=verdict.stage,
                outcome=verdict.outcome,
                category=verdict.category,
                detail=verdict.detail,
            )
            for verdict in outcome.verdicts
        ],
        ignore_conflicts=True,
    )
    count_previews(job.status, stage=job.blocked_stage)
    return True


def _fail(job: PreviewJob, message: str, now) -> None:
    PreviewJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error=message[:2000], finished_at=now, lease_owner="", lease_expires_at=None
    )


@transaction.atomic
def preview_jobs_fail(*, job_ids: list, owner: str, message: str) -> int:
    """Fail the jobs this worker still holds, with a message for the user."""
    failed = PreviewJob.objects.filter(pk__in=job_ids, lease_owner=owner, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error=message[:2000], finished_at=timezone.now(), lease_owner="", lease_expires_at=None
    )
    count_previews(JobStatus.FAILED, n=failed)
    return failed


@transaction.atomic
def preview_jobs_reap() -> list:
    """Re-queue jobs whose worker died, re-publish queued jobs whose message may be lost, and expire
    jobs that waited too long. Returns the ids re-published."""
    now = timezone.now()
    max_attempts = settings.GATEHOUSE_PREVIEW_MAX_ATTEMPTS
    expired = PreviewJob.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - timedelta(seconds=settings.GATEHOUSE_PREVIEW_EXPIRES)
    )
    count_previews(
        JobStatus.FAILED,
        n=expired.update(status=JobStatus.FAILED, error="The preview waited too long in the queue.", finished_at=now),
    )
    dead = PreviewJob.objects.select_for_update(skip_locked=True).filter(
        status=JobStatus.RUNNING, lease_expires_at__lt=now
    )
    abandoned = [job for job in dead if job.attempts >= max_attempts]
    for job in abandoned:
        _fail(job, f"The preview was abandoned after {job.attempts} attempts: its worker was lost each time.", now)
    count_previews(JobStatus.FAILED, n=len(abandoned))
    lost = Q(status=JobStatus.RUNNING, lease_expires_at__lt=now, attempts__lt=max_attempts)
    stale = Q(status=JobStatus.QUEUED) & (
        Q(enqueued_at__isnull=True)
        | Q(enqueued_at__lt=now - timedelta(seconds=settings.GATEHOUSE_PREVIEW_REQUEUE_AFTER))
    )
    ids = list(PreviewJob.objects.select_for_update(skip_locked=True).filter(lost | stale).values_list("pk", flat=True))
    PreviewJob.objects.filter(pk__in=ids).update(
        status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None, enqueued_at=now
    )
    for job_id in ids:
        enqueue(job_id)
    if ids or abandoned:
        logger.info("preview reaper: re-queued %d jobs, abandoned %d", len(ids), len(abandoned))
    return ids
