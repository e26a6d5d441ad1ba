"""Deleting an account (accounts.erasure) deletes its webhooks and their delivery log: nothing is
sent on its behalf any more."""

from __future__ import annotations

from accounts.models import User
from webhooks.models import Webhook


def webhooks_erase(user: User) -> None:
    Webhook.objects.filter(owner=user).delete()
