"""Every write of the webhooks app: webhooks (`webhook_*`) and their deliveries (`delivery_*`,
`deliveries_*`). Callers resolved who may do it: the API checks the caller owns the webhook and,
through gating.policy, that every watched repo is visible to them (webhooks.api)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Organization, User
from core.errors import BadRequest
from core.outbox import publish
from registry.models import Repo
from webhooks.models import Delivery, DeliveryStatus, Domain, WatchedItem, WatchedKind, Webhook

MAX_WATCHED = 100
MAX_SECRET = 256


@dataclass(frozen=True)
class WatchTarget:
    """A watched item the caller resolved: exactly one of repo, user, org."""

    kind: str
    name: str
    repo: Repo | None = None
    user: User | None = None
    org: Organization | None = None


def clean_domains(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise BadRequest("'domains' must be a non-empty list of 'repo' and 'discussion'.")
    unknown = sorted(set(value) - set(Domain.values))
    if unknown:
        raise BadRequest(f"Unknown webhook domains: {', '.join(unknown)}; expected 'repo' and/or 'discussion'.")
    return [domain for domain in Domain.values if domain in value]


def clean_secret(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_SECRET:
        raise BadRequest(f"'secret' must be a string of at most {MAX_SECRET} characters.")
    return value


def _replace_watched(webhook: Webhook, targets: list[WatchTarget]) -> None:
    if not targets or len(targets) > MAX_WATCHED:
        raise BadRequest(f"A webhook watches between 1 and {MAX_WATCHED} items.")
    webhook.watched.all().delete()
    unique = {(t.kind, t.repo and t.repo.pk, t.user and t.user.pk, t.org and t.org.pk): t for t in targets}
    WatchedItem.objects.bulk_create(
        [
            WatchedItem(webhook=webhook, kind=t.kind, name=t.name, repo=t.repo, user=t.user, org=t.org)
            for t in unique.values()
        ]
    )


@transaction.atomic
def webhook_create(
    *, owner: User, url: str, watched: list[WatchTarget], domains: list[str], secret: str = ""
) -> Webhook:
    """`url` was checked by webhooks.transport.parse_url (and literal addresses by the SSRF rule)."""
    User.objects.select_for_update().filter(pk=owner.pk).first()  # serialise the per-user count
    if Webhook.objects.filter(owner=owner).count() >= settings.GATEHOUSE_WEBHOOKS_PER_USER:
        raise BadRequest(f"You have reached the limit of {settings.GATEHOUSE_WEBHOOKS_PER_USER} webhooks.")
    webhook = Webhook.objects.create(owner=owner, url=url, domains=clean_domains(domains), secret=clean_secret(secret))
    _replace_watched(webhook, watched)
    return webhook


@transaction.atomic
def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    watched: list[WatchTarget] | None = None,
    domains: list[str] | None = None,
    secret: str | None = None,
) -> Webhook:
    """Change what is given; an empty `watched` keeps the current list (the Hub client sends
    `[]` when its `watched` argument is left out)."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    if url is not None:
        webhook.url = url
    if domains is not None:
        webhook.domains = clean_domains(domains)
    if secret is not None:
        webhook.secret = clean_secret(secret)
    if watched:
        _replace_watched(webhook, watched)
    webhook.updated_at = timezone.now()
    webhook.save()
    return webhook


@transaction.atomic
def webhook_set_disabled(*, webhook: Webhook, disabled: bool, reason: str = "") -> Webhook:
    """Enabling also forgets past failures: the count towards automatic disabling starts again."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    webhook.disabled, webhook.disabled_reason = disabled, reason if disabled else ""
    if not disabled:
        webhook.consecutive_failures = 0
    webhook.updated_at = timezone.now()
    webhook.save(update_fields=["disabled", "disabled_reason", "consecutive_failures", "updated_at"])
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook) -> None:
    """Its deliveries go with it; a delivery in flight finds its row gone and stops."""
    Webhook.objects.filter(pk=webhook.pk).delete()


def _queue(delivery_pk: int, countdown: float = 0) -> None:
    """After the commit: a broker that cannot take it now (Redis down) fails nothing; the row is
    pending, and the beat sends it again (`deliveries_requeue_stale`)."""
    from webhooks.tasks import webhook_delivery_task

    publish(webhook_delivery_task, [delivery_pk], countdown=countdown)


@transaction.atomic
def deliveries_create(*, rows: list[Delivery]) -> list[int]:
    """Record the deliveries of one event and queue them once the rows are committed."""
    created = Delivery.objects.bulk_create(rows)
    pks = [row.pk for row in created]
    for pk in pks:
        transaction.on_commit(partial(_queue, pk))
    return pks


def delivery_claim(*, delivery_pk: int, now: datetime | None = None) -> Delivery | None:
    """Take the delivery for one attempt (pending and due, or sending with a lapsed lease), or
    None if another worker has it, it is finished, or it is gone. Idempotent under redelivery."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.GATEHOUSE_WEBHOOK_TIMEOUT * 3 + 30)
    # A little early is fine (clocks differ between workers and the database).
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now + timedelta(seconds=5))
    claimable = due | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    with transaction.atomic():
        claimed = Delivery.objects.filter(claimable, pk=delivery_pk).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, lease_until=lease
        )
    if not claimed:
        return None
    return Delivery.objects.select_related("webhook__owner", "repo", "discussion", "comment").get(pk=delivery_pk)


def delivery_finish(
    *, delivery: Delivery, status: str, response_status: int | None = None, error: str = ""
) -> Delivery:
    """A terminal outcome. Failed and refused deliveries count towards disabling the webhook
    (GATEHOUSE_WEBHOOK_DISABLE_AFTER in a row); a delivered one resets the count."""
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, response_status=response_status, error=error[:500], finished_at=now, lease_until=None
        )
        if status == DeliveryStatus.DELIVERED:
            Webhook.objects.filter(pk=delivery.webhook_id).update(consecutive_failures=0)
        elif status in (DeliveryStatus.FAILED, DeliveryStatus.REFUSED):
            webhook = Webhook.objects.select_for_update().filter(pk=delivery.webhook_id).first()
            if webhook is not None:
                webhook.consecutive_failures += 1
                fields = ["consecutive_failures"]
                if not webhook.disabled and webhook.consecutive_failures >= settings.GATEHOUSE_WEBHOOK_DISABLE_AFTER:
                    webhook.disabled = True
                    webhook.disabled_reason = (
                        f"Disabled after {webhook.consecutive_failures} failed deliveries in a row "
                        f"(the last: {error[:200]}). Enable it again once the receiver works."
                    )
                    fields += ["disabled", "disabled_reason"]
                webhook.save(update_fields=fields)
    delivery.status, delivery.response_status, delivery.error = status, response_status, error[:500]
    return delivery


def delivery_retry_later(*, delivery: Delivery, response_status: int | None, error: str) -> float:
    """The attempt failed and attempts remain: back to pending, due after an exponential backoff
    (GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS × 2^(attempts-1)); queued again once committed."""
    delay = settings.GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING,
            response_status=response_status,
            error=error[:500],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            lease_until=None,
        )
    return delay


def deliveries_requeue_stale(*, now: datetime | None = None) -> int:
    """Beat: deliveries whose task was lost (a broker restart, a worker killed mid-attempt) are
    queued again once well past due; and finished deliveries older than
    GATEHOUSE_WEBHOOK_LOG_DAYS are dropped from the log."""
    now = now or timezone.now()
    grace = timedelta(seconds=60)
    stale = Delivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lt=now - grace)
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    ).values_list("pk", flat=True)[:500]
    pks = list(stale)
    for pk in pks:
        _queue(pk)
    cutoff = now - timedelta(days=settings.GATEHOUSE_WEBHOOK_LOG_DAYS)
    with transaction.atomic():
        Delivery.objects.filter(finished_at__lt=cutoff).delete()
    return len(pks)


WATCHED_KINDS = WatchedKind.values
