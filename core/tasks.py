import time

from celery import shared_task

from core import heartbeat


@shared_task(name=heartbeat.HEARTBEAT_TASK, ignore_result=True)
def heartbeat_task(sent_at: float = 0.0) -> None:
    """Proves that beat, the broker and a worker work together; see core.heartbeat."""
    now = time.time()
    heartbeat.record_worker(sent_at=sent_at or now, ran_at=now)
