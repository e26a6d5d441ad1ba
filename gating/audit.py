"""Writing the audit trail. Callers are services, inside their own transaction, so a decision and
its audit event commit (or roll back) together."""

from __future__ import annotations

from accounts.models import User
from gating.models import AuditEvent
from registry.models import Repo


def audit_record(
    *,
    repo: Repo,
    action: str,
    actor: User | None = None,
    subject: User | None = None,
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """`action` is a `scope.action` name such as `access_request.accept` or `release.stage_apply`."""
    return AuditEvent.objects.create(
        repo=repo,
        repo_label=f"{repo.repo_type}:{repo.repo_id}",
        actor=actor,
        actor_label=actor.username if actor else "system",
        subject=subject,
        subject_label=subject.username if subject else "",
        action=action,
        reason=reason[:2000],
        data=data or {},
    )
