"""Periodic gating work, scheduled by Celery beat (see CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from celery import shared_task

from gating import release, services


@shared_task
def release_stages_apply_task() -> int:
    """Apply release stages whose time has come; exactly once, even with overlapping ticks."""
    return release.release_apply_due()


@shared_task
def access_grants_expire_task() -> int:
    return services.access_grants_expire()


@shared_task
def access_request_digest_task() -> int:
    return services.access_request_digests_send()
