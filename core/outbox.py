"""A transactional outbox: tasks that must survive losing the broker's copy.

The embedded broker keeps its messages on disk, but Redis, as deployed here, keeps nothing: a
restart empties every queue. Work whose state lives in its own rows is recovered from them by the
beat (scans: `scans_requeue`; previews: `preview_jobs_reap`). Work that has no row of its own
(notification mails of discussions and reports) gets one here: `outbox_send` writes an
`OutboxMessage` in the caller's transaction, so it exists exactly when what it reports does, and
publishes `outbox_run_task` once that transaction commits. The beat's `outbox_relay_task`
publishes again every message not done `GATEHOUSE_OUTBOX_RETRY_AFTER` seconds after its last
publish (broker restarted, publish failed, worker killed), for as long as it takes.

A worker runs a message only after claiming it (a lease of `GATEHOUSE_OUTBOX_LEASE_SECONDS`), and
a message done is never run again, however many copies the broker holds. The effect is at least
once: a worker killed after sending a mail and before recording it done leaves the claim to
expire, and the next run sends again; that run is logged as a possible duplicate. A message whose
task failed `GATEHOUSE_OUTBOX_MAX_RUNS` times is abandoned (logged, kept with its error).
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import faults
from core.models import OutboxMessage

logger = logging.getLogger(__name__)

RELAY_BATCH = 500


def publish(task, args: list, **options) -> bool:
    """Send `task` to the broker now; False (logged) when the broker cannot take it. Callers use
    this after their transaction committed: the request was answered already, and the beat sends
    the work again from its rows, so a broker outage must not turn it into a 500."""
    try:
        task.apply_async(args=args, **options)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, OSError...
        logger.warning("%s%s not queued now (%s); the beat will send it again", task.name, tuple(args), exc)
        return False
    return True


def publish_on_commit(task, args: list, **options) -> None:
    transaction.on_commit(partial(publish, task, args, **options))


def outbox_send(task: str, *args) -> OutboxMessage:
    """Run the Celery task named `task` with `args`, at least once, if the caller's transaction
    commits."""
    from core.tasks import outbox_run_task

    message = OutboxMessage.objects.create(task=task, args=list(args))
    publish_on_commit(outbox_run_task, [message.pk])
    return message


def _claimable(now) -> Q:
    return Q(done_at__isnull=True, abandoned_at__isnull=True) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def _task(name: str):
    """The Celery task of that name (its module imported first: a web process never imports it)."""
    module = name.rpartition(".")[0]
    importlib.import_module(module)
    return current_app.tasks[name]


def outbox_run(message_pk: int) -> bool:
    """Claim and run one message; False when it is done, abandoned or being run elsewhere."""
    now = timezone.now()
    lease = timedelta(seconds=settings.GATEHOUSE_OUTBOX_LEASE_SECONDS)
    claimed = OutboxMessage.objects.filter(_claimable(now), pk=message_pk).update(
        claimed_until=now + lease, runs=F("runs") + 1
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_pk)
    if message.runs > 1:
        logger.warning(
            "outbox message %s (%s%s) runs again (run %d): its effect may be repeated",
            message.pk,
            message.task,
            tuple(message.args),
            message.runs,
        )
    try:
        _task(message.task)(*message.args)
    except Exception as exc:
        given_up = message.runs >= settings.GATEHOUSE_OUTBOX_MAX_RUNS
        OutboxMessage.objects.filter(pk=message_pk).update(
            claimed_until=None, error=repr(exc)[:2000], abandoned_at=timezone.now() if given_up else None
        )
        if given_up:
            logger.error("outbox message %s (%s) abandoned after %d runs", message.pk, message.task, message.runs)
        raise
    faults.point("outbox.after_run")
    OutboxMessage.objects.filter(pk=message_pk).update(done_at=timezone.now(), claimed_until=None)
    return True


def outbox_relay() -> list[int]:
    """Publish again the messages not done in time; forget done ones after GATEHOUSE_OUTBOX_KEEP_DAYS.
    Returns the ids published."""
    from core.tasks import outbox_run_task

    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.GATEHOUSE_OUTBOX_RETRY_AFTER)
    with transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(_claimable(now), published_at__lt=cutoff)
            .order_by("published_at")
            .values_list("pk", flat=True)[:RELAY_BATCH]
        )
        OutboxMessage.objects.filter(pk__in=due).update(published_at=now, publishes=F("publishes") + 1)
    sent = []
    for pk in due:
        if not publish(outbox_run_task, [pk]):
            break  # the broker is down: the rest wait for the next relay
        sent.append(pk)
    if sent:
        logger.info("outbox relay: published %d messages again", len(sent))
    old = now - timedelta(days=settings.GATEHOUSE_OUTBOX_KEEP_DAYS)
    stale = OutboxMessage.objects.filter(done_at__lt=old).values_list("pk", flat=True)[:RELAY_BATCH]
    OutboxMessage.objects.filter(pk__in=list(stale)).delete()
    return sent
