"""Community background work: notification emails. Ids only; safe to run twice at worst (a
duplicate email), and the recipients are re-checked against the policy here."""

from __future__ import annotations

from celery import shared_task

from community.models import Event, Report
from community.notifications import send_event_emails, send_report_emails


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def notification_send_task(event_pk: int, new_thread: bool = False) -> int:
    event = Event.objects.select_related("discussion__repo", "author").filter(pk=event_pk).first()
    if event is None:
        return 0
    return send_event_emails(event, new_thread=new_thread)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def report_notify_task(report_pk: int) -> int:
    report = Report.objects.select_related("discussion__repo", "reporter").filter(pk=report_pk).first()
    if report is None:
        return 0
    return send_report_emails(report)
