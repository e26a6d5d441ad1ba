"""Every write to likes; `Repo.likes` changes in the same transaction as the like rows."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from accounts.models import User
from community.models import Like
from registry.models import Repo


def _lock(repo: Repo) -> None:
    """Likes of one repo are counted one at a time (the count never drifts from the rows)."""
    Repo.objects.select_for_update().filter(pk=repo.pk).values_list("pk", flat=True).first()


@transaction.atomic
def like_create(*, user: User, repo: Repo) -> bool:
    """True when the like is new; liking twice changes nothing."""
    _lock(repo)
    _, created = Like.objects.get_or_create(user=user, repo=repo)
    if created:
        Repo.objects.filter(pk=repo.pk).update(likes=F("likes") + 1)
    return created


@transaction.atomic
def like_delete(*, user: User, repo: Repo) -> bool:
    """True when there was a like to take back; unliking twice changes nothing."""
    _lock(repo)
    deleted, _ = Like.objects.filter(user=user, repo=repo).delete()
    if deleted:
        Repo.objects.filter(pk=repo.pk, likes__gt=0).update(likes=F("likes") - 1)
    return bool(deleted)
