"""Account background work: invitation, verification and password reset mails, sent through the
outbox (core.outbox). Ids only; run twice at worst, and the copy carries the same Message-ID."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from accounts import mail
from accounts.invitations import invitation_link
from accounts.models import Invitation


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def invitation_send_task(invitation_pk: int) -> int:
    invitation = Invitation.objects.select_related("org", "invited_by").filter(pk=invitation_pk).first()
    if invitation is None or not invitation.is_open or invitation.expires_at <= timezone.now():
        return 0  # revoked, accepted or expired before the mail went: nothing to say
    org = invitation.org
    inviter = invitation.invited_by.username if invitation.invited_by else "An administrator"
    subject = f"{inviter} invited you to join {org.name} on Gatehouse"
    body = (
        f"{inviter} invited you to join the organisation {org.name} as {invitation.role}.\n\n"
        f"Sign in with an account whose email is {invitation.email} and open this link to accept:\n"
        f"{invitation_link(invitation)}\n\n"
        f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
        "If you did not expect it, ignore this mail.\n"
    )
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    headers = {"Message-ID": f"<gatehouse.invitation-{invitation.pk}@{domain}>"}
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email], headers=headers)
    return get_connection().send_messages([message]) or 0


@shared_task(acks_late=True)
def account_mail_send_task(kind: str, user_pk: int, site: str, stamp: str) -> int:
    """A verification or password reset mail, written to the outbox by the request (run through
    `core.outbox.outbox_run`, which claims it and reruns it from the beat if it fails)."""
    return mail.account_mail_send(kind=kind, user_pk=user_pk, site=site, stamp=stamp)
