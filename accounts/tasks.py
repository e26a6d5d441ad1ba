"""Account mails (invitations, verification and password reset links, leaked-token reports),
run from the outbox (core.outbox) by a worker: web processes only write them. Ids only; run twice
at worst, and the copy carries the same Message-ID."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from accounts import mail
from accounts.invitations import invitation_link
from accounts.models import AccessToken, Invitation


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def invitation_send_task(invitation_pk: int, site: str = "") -> int:
    invitation = Invitation.objects.select_related("org", "invited_by").filter(pk=invitation_pk).first()
    if invitation is None or not invitation.is_open or invitation.expires_at <= timezone.now():
        return 0  # revoked, accepted or expired before the mail went: nothing to say
    org = invitation.org
    inviter = invitation.invited_by.username if invitation.invited_by else "An administrator"
    subject = f"{inviter} invited you to join {org.name} on Gatehouse"
    body = (
        f"{inviter} invited you to join the organisation {org.name} as {invitation.role}.\n\n"
        f"Sign in with an account whose email is {invitation.email} and open this link to accept:\n"
        f"{invitation_link(invitation, site)}\n\n"
        f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
        "If you did not expect it, ignore this mail.\n"
    )
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    headers = {"Message-ID": f"<gatehouse.invitation-{invitation.pk}@{domain}>"}
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email], headers=headers)
    return get_connection().send_messages([message]) or 0


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


@shared_task(acks_late=True)
def account_mail_send_task(kind: str, user_pk: int, site: str, stamp: str) -> int:
    """A verification or password reset mail, written to the outbox by the request (run through
    `core.outbox.outbox_run`, which claims it and reruns it from the beat if it fails)."""
    return mail.account_mail_send(kind=kind, user_pk=user_pk, site=site, stamp=stamp)
