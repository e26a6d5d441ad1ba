"""Operators take a repo down, and put it back. Each is one transaction that writes its audit event.

A repo taken down (`Repo.disabled`) keeps its page, metadata and history visible to whoever could
see it, with the operator's reason; its content (downloads, clones, previews) and its community
(posting) are refused to everyone without a role on it with the Hub's `DisabledRepo` answer,
which the client raises as `DisabledRepoError` (gating.policy.check). Its own people keep access,
so that they can fix what was reported. Nothing is deleted: lifting the takedown restores it.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest
from gating.audit import audit_record
from registry.models import Repo

MAX_REASON = 500


@transaction.atomic
def repo_takedown(*, repo: Repo, operator: User, reason: str) -> Repo:
    """Disable `repo` with a reason shown to visitors. The caller checked that `operator` is one
    (gating.policy.resolve_repo_for_operator). Taking down a repo already down updates its reason."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadRequest(f"A takedown needs a reason of 1 to {MAX_REASON} characters: visitors are shown it.")
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    was_down = locked.disabled
    locked.disabled, locked.disabled_reason = True, reason
    locked.disabled_at, locked.disabled_by = timezone.now(), operator
    locked.save(update_fields=["disabled", "disabled_reason", "disabled_at", "disabled_by"])
    audit_record(repo=locked, action="repo.takedown", actor=operator, reason=reason, data={"was_down": was_down})
    return locked


@transaction.atomic
def repo_takedown_lift(*, repo: Repo, operator: User, reason: str = "") -> Repo:
    """Put a repo taken down back as it was. The reason taken down with it stays in the audit trail."""
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    if not locked.disabled:
        return locked
    before = locked.disabled_reason
    locked.disabled, locked.disabled_reason, locked.disabled_at, locked.disabled_by = False, "", None, None
    locked.save(update_fields=["disabled", "disabled_reason", "disabled_at", "disabled_by"])
    audit_record(
        repo=locked, action="repo.takedown_lift", actor=operator, reason=reason.strip()[:2000], data={"was": before}
    )
    return locked
