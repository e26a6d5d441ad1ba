"""Webhook deliveries on the Celery worker. Ids only; a delivery row is a state machine claimed
with a lease (webhooks.services.delivery_claim), so a task run twice sends at most once per attempt."""

from __future__ import annotations

from celery import shared_task

from webhooks import delivery, services


# The HTTP request is bounded by GATEHOUSE_WEBHOOK_TIMEOUT (10 s); the limits bound the rest
# (a receiver that trickles its answer), well inside the delivery's lease.
@shared_task(acks_late=True, soft_time_limit=30, time_limit=40)
def webhook_delivery_task(delivery_pk: int) -> str | None:
    result = delivery.delivery_attempt(delivery_pk)
    if result is None:
        return None
    if result.retry_in is not None:
        webhook_delivery_task.apply_async((delivery_pk,), countdown=result.retry_in)
    return result.status


@shared_task
def webhook_deliveries_requeue_task() -> int:
    return services.deliveries_requeue_stale()
