"""Celery tasks of the gating app: thin, ids only, idempotent. The periodic ones are in
CELERY_BEAT_SCHEDULE (config/settings.py)."""

from __future__ import annotations

from celery import shared_task

from gating import notifications, services
from gating.models import AuditEvent


@shared_task(ignore_result=True)
def access_notify_task(event_id: int) -> int:
    """Emails an audit event calls for (a new request to reviewers, a decision to the requester)."""
    event = AuditEvent.objects.filter(pk=event_id).first()
    return notifications.send_event_email(event) if event is not None else 0


@shared_task(ignore_result=True)
def release_apply_due_task() -> int:
    """Every minute: stage transitions whose time has come, each applied exactly once."""
    return services.release_apply_due()


@shared_task(ignore_result=True)
def access_expire_task() -> int:
    """Marks expired grants (the policy refuses them already) and tells their users."""
    return services.access_requests_expire()


@shared_task(ignore_result=True)
def access_digest_task() -> int:
    """Daily digests of new requests, for repos that chose them; each claimed by one tick only."""
    return sum(notifications.send_digest(repo_id, since) for repo_id, since in services.access_digests_claim())
