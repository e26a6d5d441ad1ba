"""Who reviews and how they hear about it: delegated reviewers, notification settings, the gating
mode set from the portal, and claiming daily digests."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, Conflict, NotFound
from gating.models import GateConfig, NotifyMode, RepoReviewer
from gating.services.audit import audit_record
from registry.models import Repo
from registry.services import repo_settings_update

DIGEST_PERIOD = timedelta(days=1)


@transaction.atomic
def reviewer_add(*, repo: Repo, actor: User, user: User) -> RepoReviewer:
    if RepoReviewer.objects.filter(repo=repo, user=user).exists():
        raise Conflict(f"{user.username} already reviews access requests to {repo.repo_id}.")
    reviewer = RepoReviewer.objects.create(repo=repo, user=user, added_by=actor)
    audit_record(action="reviewer.added", repo=repo, actor=actor, subject=user)
    return reviewer


@transaction.atomic
def reviewer_remove(*, repo: Repo, actor: User, user: User) -> None:
    deleted, _ = RepoReviewer.objects.filter(repo=repo, user=user).delete()
    if not deleted:
        raise NotFound(f"{user.username} is not a reviewer of {repo.repo_id}.")
    audit_record(action="reviewer.removed", repo=repo, actor=actor, subject=user)


@transaction.atomic
def gate_config_update(*, repo: Repo, actor: User, notify_mode: str, notify_email: str = "") -> GateConfig:
    if notify_mode not in NotifyMode.values:
        raise BadRequest("Notifications must be 'realtime', 'daily' or 'off'.")
    config, _ = GateConfig.objects.select_for_update().get_or_create(repo=repo)
    config.notify_mode = notify_mode
    config.notify_email = notify_email.strip()
    config.save()
    audit_record(
        action="gate.notifications_changed",
        repo=repo,
        actor=actor,
        data={"notify_mode": notify_mode, "notify_email": config.notify_email},
    )
    return config


@transaction.atomic
def gate_mode_set(*, repo: Repo, actor: User, gated: str | bool) -> Repo:
    """The gating mode from the portal (the Hub API's PUT settings goes to the registry service)."""
    previous = repo.gated or False
    updated = repo_settings_update(repo=repo, gated=gated)
    audit_record(
        action="gate.mode_changed", repo=repo, actor=actor, data={"from": previous, "to": updated.gated or False}
    )
    return updated


def access_digests_claim(*, now: datetime | None = None) -> list[tuple[int, datetime | None]]:
    """Repos whose daily digest is due, each claimed by exactly one caller: [(repo id, since)].

    The claim is a conditional update of `last_digest_at`, so two beat ticks never both send."""
    now = now or timezone.now()
    due = GateConfig.objects.filter(notify_mode=NotifyMode.DAILY).filter(
        Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=now - DIGEST_PERIOD)
    )
    claimed = []
    for repo_id, since in list(due.values_list("repo_id", "last_digest_at")):
        with transaction.atomic():
            won = GateConfig.objects.filter(repo_id=repo_id, last_digest_at=since).update(last_digest_at=now)
        if won == 1:
            claimed.append((repo_id, since))
    return claimed
