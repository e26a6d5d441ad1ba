import time

from celery import shared_task

from core import heartbeat


@shared_task(name=heartbeat.HEARTBEAT_TASK, ignore_result=True)
def heartbeat_task(sent_at: float = 0.0) -> None:
    """Proves that beat, the broker and a worker work together; see core.heartbeat."""
    now = time.time()
    heartbeat.record_worker(sent_at=sent_at or now, ran_at=now)


# Killed well inside the claim's lease (GATEHOUSE_OUTBOX_LEASE_SECONDS, 300 s by default): a run
# that outlived its lease would run alongside the relay's next one (a hung SMTP server; EMAIL_TIMEOUT
# bounds each connection too).
@shared_task(name="core.tasks.outbox_run_task", acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def outbox_run_task(message_pk: int) -> bool:
    """One message of the outbox (core.outbox): run at most once at a time, never again once done."""
    from core.outbox import outbox_run

    return outbox_run(message_pk)


@shared_task(name="core.tasks.outbox_relay_task", ignore_result=True)
def outbox_relay_task() -> int:
    """Beat: publish again what the broker lost (core.outbox)."""
    from core.outbox import outbox_relay

    return len(outbox_relay())
