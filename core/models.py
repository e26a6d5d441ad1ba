"""core's one model: the transactional outbox (core/outbox.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """A task to run at least once, written in the transaction of the request that asked for it,
    so that losing the broker's copy (a Redis restart: it keeps nothing on disk) loses nothing."""

    task = models.CharField(max_length=200)  # a Celery task name
    args = models.JSONField(default=list)  # ids and flags only
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(default=timezone.now)  # last sent to the broker
    publishes = models.PositiveIntegerField(default=1)
    runs = models.PositiveIntegerField(default=0)  # claims by a worker: more than one may repeat an effect
    claimed_until = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["published_at"],
                condition=Q(done_at__isnull=True, abandoned_at__isnull=True),
                name="outbox_pending_published",
            ),
            models.Index(fields=["done_at"], condition=Q(done_at__isnull=False), name="outbox_done_at"),
        ]
