"""Account mails, run from the outbox (core.outbox) by a worker: web processes only write them."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage

from accounts.models import AccessToken


@shared_task(acks_late=True)
def token_leak_mail_send_task(token_pk: int) -> int:
    """Tell a token's owner that it was revoked by a leak report (POST /api/credentials/revoke).
    Written to the outbox with the revocation, so once per token; the Message-ID is the same at
    every send, should the outbox run it again."""
    token = AccessToken.objects.select_related("user").filter(pk=token_pk).first()
    if token is None or not token.user.email:
        return 0
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    body = (
        f"Your access token {token.name!r} (created {token.created_at:%Y-%m-%d} UTC) was reported as leaked "
        f"and has been revoked: it no longer works. Someone found it where it should not be (a public file, "
        f"a log, a paste) and reported it. Create a new token in your settings (/settings/tokens) where it is "
        f"needed, and remove the old one from wherever it was stored."
    )
    message = EmailMessage(
        "[Gatehouse] An access token of yours was revoked",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [token.user.email],
        headers={"Message-ID": f"<gatehouse.token-leak.{token.pk}@{domain}>"},
    )
    return message.send(fail_silently=False)
