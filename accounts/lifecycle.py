"""Writes of an account's life: signing up (by sign-up mode), verifying and changing its email,
operators disabling and enabling it, invitations. Each function is one transaction.

Deleting an account touches every app's rows, so it lives above them (gating.account_deletion);
`accounts.erasure` is its accounts part.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import mail, throttle
from accounts.models import SignupInvitation, User
from accounts.services import user_create
from core.errors import BadRequest, Forbidden

OPEN, INVITE, CLOSED = "open", "invite", "closed"


def signup_mode() -> str:
    return settings.GATEHOUSE_SIGNUP_MODE


def _invitation_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def invitation_find(secret: str | None) -> SignupInvitation | None:
    """The unused, unexpired invitation with that secret, if any."""
    if not secret or len(secret) > 200:
        return None
    found = SignupInvitation.objects.filter(digest=_invitation_digest(secret), used_at__isnull=True).first()
    if found is None or found.expires_at <= timezone.now():
        return None
    return found


@transaction.atomic
def invitation_create(*, created_by: User | None, email: str = "", note: str = "", days: int | None = None):
    """A sign-up link's invitation and its secret (shown once; only its digest is stored)."""
    secret = secrets.token_urlsafe(32)
    days = settings.GATEHOUSE_SIGNUP_INVITATION_DAYS if days is None else days
    if days < 1:
        raise BadRequest("An invitation lasts at least one day.")
    invitation = SignupInvitation.objects.create(
        digest=_invitation_digest(secret),
        email=email,
        note=note[:200],
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return invitation, secret


@transaction.atomic
def signup(*, username: str, email: str, password: str, fullname: str, invitation: str | None, site: str) -> User:
    """A new account by the sign-up form, as the sign-up mode allows; its email is not verified:
    a verification mail is queued, and until the link is followed the account only reads."""
    mode = signup_mode()
    if mode == CLOSED:
        raise Forbidden("Sign-up is closed on this hub: ask its operators for an account.")
    used = None
    if mode == INVITE:
        found = invitation_find(invitation)
        if found is not None:
            used = SignupInvitation.objects.select_for_update().filter(pk=found.pk, used_at__isnull=True).first()
        if used is None:
            raise Forbidden("Sign-up on this hub is by invitation: this link is missing, used or expired.")
        if used.email and used.email.casefold() != email.strip().casefold():
            raise Forbidden("This invitation is for another email address.")
    user = user_create(username=username, email=email, password=password, fullname=fullname)
    if used is not None:
        used.used_at, used.used_by = timezone.now(), user
        used.save(update_fields=["used_at", "used_by"])
    mail.mail_queue(kind=mail.VERIFY, user=user, site=site)
    return user


@transaction.atomic
def email_verification_send(*, user: User, site: str) -> None:
    if user.email_verified_at is not None:
        raise BadRequest("Your email address is verified already.")
    if not user.email:
        raise BadRequest("Your account has no email address: add one first.")
    throttle.verification_mail_attempt(user_pk=user.pk)
    mail.mail_queue(kind=mail.VERIFY, user=user, site=site)


@transaction.atomic
def email_verify(*, user: User) -> User:
    """The user followed a genuine link (accounts.mail.user_for_verification_token)."""
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
    user.refresh_from_db(fields=["email_verified_at"])
    return user


@transaction.atomic
def profile_update(*, user: User, fullname: str, email: str, site: str) -> bool:
    """Change the name and email; True when the email changed. SECURITY: a new email is not
    verified (nobody proved it reads mail there), and ends a waiver too: the account acts again
    once the new address is verified. A verification mail is queued to it."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    email = email.strip()
    changed = email.casefold() != locked.email.casefold()
    if changed and email:
        throttle.verification_mail_attempt(user_pk=user.pk)  # before anything is written
    locked.fullname = fullname.strip()[:200]
    fields = ["fullname"]
    if email != locked.email:
        locked.email = email
        fields.append("email")
    if changed:
        locked.email_verified_at = None
        locked.email_verification_waived = False
        fields += ["email_verified_at", "email_verification_waived"]
    locked.save(update_fields=fields)
    for name in fields:
        setattr(user, name, getattr(locked, name))
    if changed and email:
        mail.mail_queue(kind=mail.VERIFY, user=locked, site=site)
    return changed


@transaction.atomic
def user_disable(*, user: User, reason: str = "") -> User:
    """An operator blocks an account. It cannot sign in; its tokens are refused from the next
    request on each web process (the account's row changes, which drops it from every lookup
    cache within the revocation bound: core.lookup_cache); its sessions end (the session epoch
    moves, so every session's hash stops matching, whatever backend signed it in)."""
    if user.deleted_at is not None:
        raise BadRequest(f"The account {user.username} was deleted.")
    User.objects.filter(pk=user.pk).update(
        is_active=False,
        disabled_at=timezone.now(),
        disabled_reason=reason.strip()[:200],
        session_epoch=F("session_epoch") + 1,
    )
    user.refresh_from_db()
    return user


@transaction.atomic
def user_enable(*, user: User) -> User:
    """Undo `user_disable`; sessions ended then stay ended, tokens work again."""
    if user.deleted_at is not None:
        raise BadRequest(f"The account {user.username} was deleted: it cannot be enabled again.")
    User.objects.filter(pk=user.pk).update(is_active=True, disabled_at=None, disabled_reason="")
    user.refresh_from_db()
    return user
