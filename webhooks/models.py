"""Webhooks: a user's subscriptions to repo and discussion events, and the log of each delivery.

A webhook belongs to one user and watches repos (by key, so a watch follows a renamed repo) and
namespaces (users and orgs: every repo they own). What it may be told is decided again, through
gating.policy, when each delivery is attempted (webhooks.services)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_public_id() -> str:
    """24 lowercase hex characters, like the Hub's ObjectIds."""
    return secrets.token_hex(12)


class Domain(models.TextChoices):
    REPO = "repo"  # scopes repo, repo.content, repo.config
    DISCUSSION = "discussion"  # scopes discussion, discussion.comment


class WatchedKind(models.TextChoices):
    MODEL = "model"
    DATASET = "dataset"
    USER = "user"
    ORG = "org"


class Webhook(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2048)
    secret = models.CharField(max_length=256, blank=True)
    domains = models.JSONField(default=list)
    disabled = models.BooleanField(default=False)
    # Why it is disabled when Gatehouse did it (repeated failures); empty when its owner did.
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]


class WatchedItem(models.Model):
    """One watched thing: exactly one of repo, user, org is set, matching `kind`; `name` is the
    name the owner gave (kept as given, so it never reveals where a watched repo moved)."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="watched")
    kind = models.CharField(max_length=8, choices=WatchedKind.choices)
    name = models.CharField(max_length=200)
    repo = models.ForeignKey("registry.Repo", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    org = models.ForeignKey("accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(repo__isnull=False, user__isnull=True, org__isnull=True)
                | models.Q(repo__isnull=True, user__isnull=False, org__isnull=True)
                | models.Q(repo__isnull=True, user__isnull=True, org__isnull=False),
                name="watcheditem_exactly_one_target",
            )
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker until lease_until
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed
    REFUSED = "refused"  # the URL's address is not allowed (SSRF rule); never retried
    SKIPPED = "skipped"  # the owner may no longer see the repo or discussion, or the webhook is off


FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.REFUSED, DeliveryStatus.SKIPPED)


class Delivery(models.Model):
    """One event for one webhook: its payload (as built when the event happened), its attempts,
    and how the last one ended."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    repo = models.ForeignKey("registry.Repo", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    discussion = models.ForeignKey(
        "community.Discussion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey("community.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scope = models.CharField(max_length=24)
    action = models.CharField(max_length=8)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["webhook", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]
