"""From a repo event to the receiver: who is told (the event's listener), and one attempt of one
delivery. SECURITY: a webhook tells its owner only what gating.policy lets the owner see, asked
twice: when the event happens (no delivery is recorded otherwise) and again at every attempt,
since access can be lost meanwhile (a repo made private, a membership ended); a delivery its
owner may no longer see is dropped and logged as skipped, without a request."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from community.models import Discussion, Event
from core.errors import HubError
from gating.policy import Action, Principal, could_see_before_deletion, resolve_repo_by_pk
from registry.hooks import RepoEvent
from registry.models import Repo
from webhooks import payloads, services, transport
from webhooks.models import Delivery, DeliveryStatus
from webhooks.selectors import webhooks_watching

logger = logging.getLogger(__name__)
USER_AGENT = "Gatehouse-Webhooks/1.0"


def _owner_may_see(owner, repo: Repo, *, deleted_event: bool, discussion: Discussion | None) -> bool:
    if not owner.is_active:
        return False
    principal = Principal(user=owner)
    if deleted_event:
        # The repo is gone for everyone; who could see it until then may be told it went.
        return could_see_before_deletion(principal, repo)
    try:
        resolve_repo_by_pk(principal, repo.pk, Action.VIEW)
    except HubError:
        return False
    return discussion is None or discussion.repo_id == repo.pk


def deliveries_queue_for_event(event: RepoEvent) -> list[int]:
    """registry.hooks.repo_event_listeners: record a delivery for each webhook that watches the
    repo (or its owner's namespace), in the event's domain, whose owner may see it now."""
    repo = Repo.objects.filter(pk=event.repo_pk).first()
    if repo is None:
        return []
    domain = "discussion" if event.scope.startswith("discussion") else "repo"
    webhooks = webhooks_watching(repo, domain=domain)
    if not webhooks:
        return []
    discussion = Discussion.objects.filter(pk=event.discussion_pk).first() if event.discussion_pk else None
    comment = Event.objects.filter(pk=event.comment_pk).first() if event.comment_pk else None
    if domain == "discussion" and discussion is None:
        return []
    deleted_event = (event.scope, event.action) == ("repo", "delete")
    told = [w for w in webhooks if _owner_may_see(w.owner, repo, deleted_event=deleted_event, discussion=discussion)]
    if not told:
        return []
    payload = payloads.build(event, repo=repo, discussion=discussion, comment=comment)
    rows = []
    for webhook in told:
        rows.append(
            Delivery(
                webhook=webhook,
                repo=repo,
                discussion=discussion,
                comment=comment,
                scope=event.scope,
                action=event.action,
                payload=payloads.for_webhook(payload, webhook.public_id),
            )
        )
    return services.deliveries_create(rows=rows)


@dataclass(frozen=True)
class AttemptResult:
    status: str
    retry_in: float | None = None


def delivery_attempt(delivery_pk: int) -> AttemptResult | None:
    """One attempt: None when there was nothing to do (finished, taken, gone). The caller (the
    task) queues the next attempt after `retry_in` seconds."""
    delivery = services.delivery_claim(delivery_pk=delivery_pk)
    if delivery is None:
        return None
    webhook = delivery.webhook
    if webhook.disabled:
        services.delivery_finish(delivery=delivery, status=DeliveryStatus.SKIPPED, error="The webhook is disabled.")
        return AttemptResult(DeliveryStatus.SKIPPED)
    payload = _current_payload(delivery)
    if payload is None:
        services.delivery_finish(
            delivery=delivery,
            status=DeliveryStatus.SKIPPED,
            error="Not sent: the webhook's owner can no longer see this repository or discussion.",
        )
        return AttemptResult(DeliveryStatus.SKIPPED)
    # The idempotency key of an at-least-once delivery: every attempt of this event to this
    # webhook (a retry, or a rerun after a worker died mid-send) carries the same id.
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Webhook-Delivery": str(delivery.pk)}
    if webhook.secret:
        headers["X-Webhook-Secret"] = webhook.secret
    try:
        outcome = transport.post(
            webhook.url,
            payloads.encode(payload),
            headers,
            timeout=settings.GATEHOUSE_WEBHOOK_TIMEOUT,
            allow_private=settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE,
            ca_certs=settings.GATEHOUSE_WEBHOOK_CA_BUNDLE,
        )
    except transport.Refused as exc:
        services.delivery_finish(delivery=delivery, status=DeliveryStatus.REFUSED, error=str(exc))
        return AttemptResult(DeliveryStatus.REFUSED)
    if outcome.ok:
        services.delivery_finish(delivery=delivery, status=DeliveryStatus.DELIVERED, response_status=outcome.status)
        return AttemptResult(DeliveryStatus.DELIVERED)
    if delivery.attempts >= settings.GATEHOUSE_WEBHOOK_MAX_ATTEMPTS:
        services.delivery_finish(
            delivery=delivery, status=DeliveryStatus.FAILED, response_status=outcome.status, error=outcome.error
        )
        return AttemptResult(DeliveryStatus.FAILED)
    delay = services.delivery_retry_later(delivery=delivery, response_status=outcome.status, error=outcome.error)
    return AttemptResult(DeliveryStatus.PENDING, retry_in=delay)


def _current_payload(delivery: Delivery) -> dict | None:
    """The payload recorded with the event, if its owner may still see what it tells of; a
    comment hidden since is sent as hidden, without its text."""
    repo = delivery.repo
    if repo is None:
        return None
    deleted_event = (delivery.scope, delivery.action) == ("repo", "delete")
    is_discussion = delivery.scope.startswith("discussion")
    if is_discussion and delivery.discussion is None:
        return None
    discussion = delivery.discussion if is_discussion else None
    if not _owner_may_see(delivery.webhook.owner, repo, deleted_event=deleted_event, discussion=discussion):
        return None
    payload = dict(delivery.payload)
    comment = delivery.comment
    if "comment" in payload:
        if comment is None:
            return None
        payload["comment"] = payloads.comment_part(repo, delivery.discussion, comment)
    return payload
