"""Periodic gating work, scheduled by Celery beat (see CELERY_BEAT_SCHEDULE in settings)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from gating import notifications, release, services
from gating.models import AccessRequest, GatingConfig, NotifyMode, RequestStatus


@shared_task
def release_stages_apply_task() -> int:
    """Apply release stages whose time has come; exactly once, even with overlapping ticks."""
    return release.release_apply_due()


@shared_task
def access_grants_expire_task() -> int:
    return services.access_grants_expire()


@shared_task
def access_request_digest_task() -> int:
    """Daily digests: each repo in daily mode gets at most one mail a day about new requests."""
    now = timezone.now()
    sent = 0
    for config_id in GatingConfig.objects.filter(notify_mode=NotifyMode.DAILY).values_list("pk", flat=True):
        with transaction.atomic():
            config = GatingConfig.objects.select_for_update(skip_locked=True).select_related("repo").filter(
                pk=config_id
            ).first()  # fmt: skip
            if config is None or (config.last_digest_at and now - config.last_digest_at < timedelta(days=1)):
                continue
            since = config.last_digest_at or now - timedelta(days=1)
            pending = list(
                AccessRequest.objects.filter(repo=config.repo, status=RequestStatus.PENDING, created_at__gt=since)
                .select_related("user")
                .order_by("created_at")
            )
            config.last_digest_at = now
            config.save(update_fields=["last_digest_at"])
            if pending:
                notifications.send_digest(config.repo, pending)
                sent += 1
    return sent
