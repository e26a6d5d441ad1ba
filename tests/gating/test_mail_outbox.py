"""Access-request mails go through the outbox (core.outbox): a mail server that refuses or hangs
up never turns a committed request or decision into a 500, and the mail is sent later, once.
Real SMTP on loopback: a port that accepts and closes, then aiosmtpd."""

from __future__ import annotations

import email
import json
import socket
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.test import Client
from django.utils import timezone

from config.celery import app
from core import outbox
from core.models import OutboxMessage
from gating import notifications
from tests.gating.conftest import ANSWERS
from tests.support.builders import token_for
from tests.support.gunicorn import free_port

pytestmark = pytest.mark.django_db(transaction=True)

HANGS_UP_PORT = free_port()
SMTP_PORT = free_port()
TASK = "gating.tasks.access_mail_send_task"


@pytest.fixture
def smtp_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = HANGS_UP_PORT
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the worker's run follows the commit, in this process
    yield settings
    app.conf.task_always_eager = eager


@pytest.fixture
def hangs_up():
    """A mail server that accepts each connection and closes it at once."""
    server = socket.create_server(("127.0.0.1", HANGS_UP_PORT))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()
    server.close()


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def relay_everything_due():
    OutboxMessage.objects.update(published_at=timezone.now() - timedelta(days=1))
    return outbox.outbox_relay()


def test_a_refusing_mail_server_gives_no_500_and_the_mails_go_out_later_once(
    smtp_settings, hangs_up, alice, bob, gated_repo
):
    OutboxMessage.objects.all().delete()
    asker = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}")
    asked = asker.post(
        "/alice/painter/ask-access",
        json.dumps(ANSWERS),
        content_type="application/json",
    )
    assert asked.status_code == 201, asked.content
    owner = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    decided = owner.post(
        "/api/models/alice/painter/user-access-request/handle",
        json.dumps({"user": "bob", "status": "accepted"}),
        content_type="application/json",
    )
    assert decided.status_code == 200, decided.content

    messages = list(OutboxMessage.objects.filter(task=TASK).order_by("pk"))
    assert len(messages) == 2  # the request (to alice) and the decision (to bob)
    for message in messages:  # tried once on commit, refused, kept for the relay
        assert message.done_at is None and message.abandoned_at is None and message.runs == 1
        assert "SMTP" in message.error or "Connection" in message.error

    with _mail_server() as inbox:
        smtp_settings.EMAIL_PORT = SMTP_PORT  # the mail server is back
        assert sorted(relay_everything_due()) == [m.pk for m in messages]
        assert relay_everything_due() == []  # done: never sent again
        assert all(outbox.outbox_run(m.pk) is False for m in messages)
    recipients = sorted(rcpt for rcpt, _ in inbox.messages for rcpt in rcpt)
    assert recipients == sorted([alice.email, bob.email])
    subjects = b"".join(content for _, content in inbox.messages)
    assert b"bob requests access to alice/painter" in subjects and b"Access to alice/painter: accepted" in subjects

    # A message run again (a worker died between sending and recording) sends the same mail with
    # the same Message-ID: the receiver's idempotency key.
    with _mail_server() as again:
        for message in messages:
            kind, request_pk, status, stamp = message.args
            notifications.access_mail_send(kind=kind, request_pk=request_pk, status=status, stamp=stamp)
    ids = sorted(_message_id(content) for _, content in inbox.messages)
    assert ids == sorted(_message_id(content) for _, content in again.messages) and len(set(ids)) == 2
    assert all(i.startswith("<gatehouse.access-") for i in ids)


def _message_id(content: bytes) -> str:
    return " ".join(email.message_from_bytes(content)["Message-ID"].split())


class _mail_server:
    def __enter__(self) -> Inbox:
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=SMTP_PORT)
        self.controller.start()
        return self.inbox

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def test_a_rolled_back_decision_mails_no_one(smtp_settings, alice, bob, gated_repo):
    from gating import services

    OutboxMessage.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.access_request_create(repo=gated_repo, user=bob, answers=ANSWERS, has_role=False)
        raise RuntimeError("rolled back")
    assert not OutboxMessage.objects.exists()
