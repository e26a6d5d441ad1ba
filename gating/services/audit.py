"""Writing the audit trail. Called inside the transaction of the decision it records, so the two
commit or roll back together."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from gating.models import AuditEvent
from registry.models import Repo


def audit_record(
    *,
    action: str,
    repo: Repo,
    actor: User | None,
    subject: User | None = None,
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one event. `actor` None means the system (a schedule, auto approval, expiry)."""
    assert transaction.get_connection().in_atomic_block, "audit events are written inside the decision's transaction"
    return AuditEvent.objects.create(
        created_at=timezone.now(),
        action=action,
        repo=repo,
        repo_name=f"{repo.url_prefix}{repo.repo_id}",
        actor=actor,
        actor_name=actor.username if actor else "",
        subject=subject,
        subject_name=subject.username if subject else "",
        reason=reason,
        data=data or {},
    )


def notify_after_commit(event: AuditEvent) -> None:
    """Emails about an event go out from a worker once the event is committed."""
    from gating.tasks import access_notify_task

    event_id = event.pk
    transaction.on_commit(lambda: access_notify_task.delay(event_id))
