"""Notification mails go through the outbox (core.outbox): a broker that cannot take or keeps
losing the message (a Redis restart) delays a mail, never loses it, and a mail done is not sent
again however many copies of its message arrive. tests/chaos/test_redis_restart.py restarts a
real Redis."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from community import services
from core import outbox
from core.models import OutboxMessage
from core.tasks import outbox_run_task
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/models/alice/model/discussions"


def comment(user, text: str):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client.post(f"{BASE}/1/comment", json.dumps({"comment": text}), content_type="application/json")


@pytest.fixture
def thread(model, alice, bob):
    discussion = services.discussion_create(repo=model, author=bob, title="Speed", description="Is it fast?")
    OutboxMessage.objects.all().delete()
    return discussion


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox_run_task, "apply_async", refuse)


def test_a_comment_while_the_broker_is_down_is_acknowledged_and_mailed_later(
    thread, alice, bob, mailoutbox, broker_down, monkeypatch, settings
):
    mailoutbox.clear()
    assert comment(alice, "Yes, very.").status_code == 200  # not a 500 after the commit
    assert mailoutbox == []
    message = OutboxMessage.objects.get()
    assert message.task == "community.tasks.notification_send_task" and message.done_at is None

    monkeypatch.undo()  # the broker is back
    settings.GATEHOUSE_OUTBOX_RETRY_AFTER = 60
    assert outbox.outbox_relay() == []  # not due yet: a message may still be waiting in a queue
    OutboxMessage.objects.update(published_at=timezone.now() - timedelta(seconds=61))
    assert outbox.outbox_relay() == [message.pk]
    assert [mail.to for mail in mailoutbox] == [[bob.email]]
    message.refresh_from_db()
    assert message.done_at is not None and message.runs == 1 and message.publishes == 2


def test_a_message_done_is_not_run_again(thread, alice, bob, mailoutbox):
    mailoutbox.clear()
    assert comment(alice, "Yes, very.").status_code == 200
    assert len(mailoutbox) == 1
    message = OutboxMessage.objects.get()
    assert message.done_at is not None
    assert outbox.outbox_run(message.pk) is False  # a second copy of the message, from a relay
    assert len(mailoutbox) == 1


def test_a_claimed_message_is_left_to_its_worker_until_the_lease_ends(thread, alice, mailoutbox, broker_down):
    comment(alice, "Yes, very.")
    message = OutboxMessage.objects.get()
    OutboxMessage.objects.update(claimed_until=timezone.now() + timedelta(seconds=300))
    assert outbox.outbox_run(message.pk) is False
    OutboxMessage.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))  # its worker died
    mailoutbox.clear()
    assert outbox.outbox_run(message.pk) is True
    assert len(mailoutbox) == 1


def test_a_run_after_a_claim_expired_is_logged_as_a_possible_duplicate(thread, alice, mailoutbox, broker_down, caplog):
    comment(alice, "Yes, very.")
    message = OutboxMessage.objects.get()
    OutboxMessage.objects.update(runs=1, claimed_until=timezone.now() - timedelta(seconds=1))
    assert outbox.outbox_run(message.pk) is True
    assert "runs again (run 2)" in caplog.text


def test_a_mail_sent_again_keeps_its_message_id(thread, alice, bob, mailoutbox, broker_down):
    """The idempotency key of an at-least-once mail: a run after a worker died repeats the
    Message-ID, so the receiver can drop the copy; another event or recipient gets another one."""
    comment(alice, "Yes, very.")
    message = OutboxMessage.objects.get()
    mailoutbox.clear()
    assert outbox.outbox_run(message.pk) is True
    OutboxMessage.objects.update(done_at=None, claimed_until=None)  # as if killed before recording it
    assert outbox.outbox_run(message.pk) is True
    first, again = (mail.extra_headers["Message-ID"] for mail in mailoutbox)
    assert first == again and first.startswith("<gatehouse.event-") and first.endswith(f".{bob.pk}@localhost>")
    comment(alice, "And cheap.")
    assert outbox.outbox_run(OutboxMessage.objects.latest("pk").pk) is True
    assert len(mailoutbox) == 3 and mailoutbox[-1].extra_headers["Message-ID"] != first


def test_a_failing_task_is_retried_then_abandoned(thread, alice, settings, monkeypatch, broker_down):
    settings.GATEHOUSE_OUTBOX_MAX_RUNS = 2
    comment(alice, "Yes, very.")
    message = OutboxMessage.objects.get()

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("smtp")

    monkeypatch.setattr("community.tasks.send_event_emails", smtp_down)
    with pytest.raises(ConnectionRefusedError):
        outbox.outbox_run(message.pk)
    message.refresh_from_db()
    assert message.claimed_until is None and message.abandoned_at is None and "smtp" in message.error
    with pytest.raises(ConnectionRefusedError):
        outbox.outbox_run(message.pk)
    message.refresh_from_db()
    assert message.abandoned_at is not None
    assert outbox.outbox_run(message.pk) is False


def test_a_report_is_mailed_through_the_outbox(thread, alice, bob, mailoutbox):
    carol = UserFactory(username="carol")
    mailoutbox.clear()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(carol)}")
    response = client.post(f"{BASE}/1/report", json.dumps({"reason": "spam"}), content_type="application/json")
    assert response.status_code == 200
    assert OutboxMessage.objects.get().task == "community.tasks.report_notify_task"
    assert [mail.to for mail in mailoutbox] == [[alice.email]]


def test_done_messages_are_forgotten_after_the_keep_days(thread, alice, settings):
    settings.GATEHOUSE_OUTBOX_KEEP_DAYS = 7
    comment(alice, "Yes, very.")
    OutboxMessage.objects.update(done_at=timezone.now() - timedelta(days=8))
    outbox.outbox_relay()
    assert not OutboxMessage.objects.exists()
