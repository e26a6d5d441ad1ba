"""Mails about one's own account: the email verification link and the password reset link.

Both go through the transactional outbox (core.outbox), as gating's mails do: the request writes
an outbox row of ids only (the kind of mail, the user, when it was asked for, the site's base
URL) and a worker renders and sends the mail. SECURITY: the link's token is made by the worker
when it sends, so no usable token is ever stored in a row; a mail server that is down delays the
mail instead of failing (or timing) the request, which answers the same whether or not a mail
is sent (password reset: no user enumeration).

Tokens:
- verification: Django's signing (TimestampSigner under a salt of its own) over the user's id and
  a digest of their email and verification state, valid GATEHOUSE_EMAIL_VERIFY_TIMEOUT seconds.
  Spent in effect once used (verifying changes the state) or once the email changes.
- reset: Django's `default_token_generator` (PasswordResetTokenGenerator): valid
  PASSWORD_RESET_TIMEOUT seconds, spent once the password changes or the user signs in.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core.outbox import outbox_send

VERIFY, RESET = "verify", "reset"
_SALT = "gatehouse.accounts.email-verification"


def _state(user: User) -> str:
    verified = user.email_verified_at.isoformat() if user.email_verified_at else "-"
    return hashlib.sha256(f"{user.email}\0{verified}".encode()).hexdigest()[:24]


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _state(user)}, salt=_SALT, compress=True)


def user_for_verification_token(token: str) -> User | None:
    """The user the token was made for, if it is genuine, unexpired and not spent."""
    try:
        data = signing.loads(token[:1024], salt=_SALT, max_age=settings.GATEHOUSE_EMAIL_VERIFY_TIMEOUT)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"], is_active=True, deleted_at__isnull=True).first()
    if user is None or not user.email or user.email_verified_at is not None or data.get("s") != _state(user):
        return None
    return user


def base_url(request) -> str:
    """The site's address for links in mails: GATEHOUSE_PUBLIC_URL when set, else the request's
    own (its host is one of ALLOWED_HOSTS: Django refuses any other before a view runs)."""
    return settings.GATEHOUSE_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def mail_queue(*, kind: str, user: User, site: str) -> None:
    """Write the mail to the outbox in the caller's transaction (ids, never a token)."""
    outbox_send("accounts.tasks.account_mail_send_task", kind, user.pk, site, timezone.now().strftime("%Y%m%d%H%M%S%f"))


def _verify_mail(user: User, site: str) -> tuple[str, str] | None:
    if user.email_verified_at is not None:
        return None  # verified since the mail was asked for: nothing to send
    link = site + reverse("accounts:verify_email", kwargs={"token": verification_token(user)})
    hours = settings.GATEHOUSE_EMAIL_VERIFY_TIMEOUT // 3600
    return (
        "[Gatehouse] Verify your email address",
        f"Hello {user.username},\n\nConfirm that {user.email} is your address by opening this link "
        f"(valid {hours} hours):\n\n{link}\n\nIf you did not sign up for Gatehouse, ignore this mail.\n",
    )


def _reset_mail(user: User, site: str) -> tuple[str, str] | None:
    if not user.has_usable_password():
        return None
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    return (
        "[Gatehouse] Reset your password",
        f"Hello {user.username},\n\nSomeone (we hope you) asked to reset the password of your Gatehouse "
        f"account. Choose a new one here (valid {minutes} minutes, once):\n\n{site}{path}\n\n"
        "If it was not you, ignore this mail: your password has not changed.\n",
    )


def account_mail_send(*, kind: str, user_pk: int, site: str, stamp: str) -> int:
    """Render and send one outbox message's mail; how many were sent (0: nothing to send any more)."""
    user = User.objects.filter(pk=user_pk, is_active=True, deleted_at__isnull=True).first()
    if user is None or not user.email:
        return 0
    rendered = _verify_mail(user, site) if kind == VERIFY else _reset_mail(user, site)
    if rendered is None:
        return 0
    subject, body = rendered
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    headers = {"Message-ID": f"<gatehouse.account-{kind}.{user_pk}.{stamp}@{domain}>"}
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], headers=headers).send()
