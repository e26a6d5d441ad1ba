"""Reads that decide nothing: which webhooks watch a repo, a user's webhooks and their log."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from registry.models import Repo
from webhooks.models import Delivery, Webhook


def webhooks_watching(repo: Repo, *, domain: str) -> list[Webhook]:
    """Enabled webhooks that watch `repo` itself, or the user or org that owns it, for `domain`.
    Who may be told about it is decided by the caller, through gating.policy."""
    watching = Q(watched__kind=repo.repo_type, watched__repo=repo)
    if repo.owner_user_id is not None:
        watching |= Q(watched__kind="user", watched__user_id=repo.owner_user_id)
    else:
        watching |= Q(watched__kind="org", watched__org_id=repo.owner_org_id)
    found = Webhook.objects.filter(watching, disabled=False).select_related("owner").distinct().order_by("pk")
    return [webhook for webhook in found if domain in webhook.domains]


def webhooks_of(user: User) -> QuerySet[Webhook]:
    return Webhook.objects.filter(owner=user).prefetch_related("watched").order_by("created_at", "pk")


def deliveries_of(webhook: Webhook, *, limit: int = 50) -> QuerySet[Delivery]:
    return Delivery.objects.filter(webhook=webhook).select_related("repo").order_by("-created_at", "-pk")[:limit]
