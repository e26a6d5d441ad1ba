"""Periodic gating work, scheduled by Celery beat (see CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from celery import shared_task

from gating import notifications, release, services


@shared_task(acks_late=True)
def access_mail_send_task(kind: str, request_pk: int, status: str, stamp: str) -> int:
    """A mail about an access request, written to the outbox with the request or decision (run
    through `core.outbox.outbox_run`, which claims it and reruns it from the beat if it fails)."""
    return notifications.access_mail_send(kind=kind, request_pk=request_pk, status=status, stamp=stamp)


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
