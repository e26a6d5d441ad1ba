"""Invitations to organisations, mailed to an address: create (throttled per organisation),
revoke, accept. Each write is one transaction; the mail goes through the outbox
(core.outbox), so it is sent at least once exactly when the invitation was committed.

The link names the invitation by its id signed with the secret key (`django.core.signing`, salted
for this use): nothing secret is stored, and a link cannot be forged or pointed at another
invitation. SECURITY: a link is not enough to join: it is accepted by a signed-in user whose
email is the invited one, once, before it expires (GATEHOUSE_ORG_INVITATION_DAYS), unless an
admin revoked it. Who may invite is decided by the caller (`org_admin_check`).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Invitation, Membership, Organization, Role, User
from core import ratelimit
from core.errors import BadRequest, NotFound
from core.outbox import outbox_send

_SALT = "accounts.invitation"
INVALID = "This invitation link is not valid: it expired, was used or revoked, or is for another email address."
VERIFY_FIRST = (
    "Verify your email address first (Settings, Account): an invitation is accepted by the mailbox it was sent to."
)


def invitation_link(invitation: Invitation, site: str = "") -> str:
    """The link the mail carries, on `site` (the address the inviter used; found by a review: with
    GATEHOUSE_PUBLIC_URL unset the mail said only a path), else GATEHOUSE_PUBLIC_URL."""
    token = signing.dumps(invitation.pk, salt=_SALT)
    return f"{site or settings.GATEHOUSE_PUBLIC_URL}/organizations/invitations/{token}"


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, whatever its state; NotFound for a link we did not sign."""
    try:
        pk = signing.loads(token, salt=_SALT)
    except signing.BadSignature as exc:
        raise NotFound(INVALID) from exc
    invitation = Invitation.objects.select_related("org", "invited_by").filter(pk=pk).first()
    if invitation is None:
        raise NotFound(INVALID)
    return invitation


def may_accept(invitation: Invitation, user: User) -> bool:
    """SECURITY: only by an account that proved it reads mail at the invited address (found by a
    review: any account could put that address on itself and accept a forwarded link)."""
    return (
        invitation.is_open
        and invitation.expires_at > timezone.now()
        and bool(user.email)
        and user.email_verified
        and user.email.casefold() == invitation.email.casefold()
    )


@transaction.atomic
def invitation_create(*, org: Organization, email: str, role: str, invited_by: User, site: str = "") -> Invitation:
    """Invite `email` with `role`; an open invitation of the same address is replaced."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise BadRequest("Enter a valid email address.") from exc
    if role not in Role.values:
        raise BadRequest(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    if Membership.objects.filter(org=org, user__email__iexact=email).exists():
        raise BadRequest(f"{email} is already a member of {org.name}: change their role instead.")
    ratelimit.charge(
        bucket="org-invitations",
        key=str(org.pk),
        amount=1,
        limit=settings.GATEHOUSE_ORG_INVITATIONS_PER_DAY,
        window=24 * 3600,
        unit="invitations",
    )
    now = timezone.now()
    _open(org).filter(email__iexact=email).update(revoked_at=now)
    invitation = Invitation.objects.create(
        org=org,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.GATEHOUSE_ORG_INVITATION_DAYS),
    )
    outbox_send("accounts.tasks.invitation_send_task", invitation.pk, site)
    return invitation


@transaction.atomic
def invitation_revoke(*, org: Organization, invitation_id: int) -> None:
    _open(org).filter(pk=invitation_id).update(revoked_at=timezone.now())


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the organisation with the invited role. A member already keeps the role they have
    (an invitation never changes a role: admins do, on the settings page)."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not may_accept(locked, user):
        raise NotFound(INVALID)
    locked.accepted_at, locked.accepted_by = timezone.now(), user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    membership, _ = Membership.objects.get_or_create(org=locked.org, user=user, defaults={"role": locked.role})
    return membership


def open_invitations(org: Organization):
    return _open(org).filter(expires_at__gt=timezone.now()).select_related("invited_by").order_by("-created_at")


def _open(org: Organization):
    return Invitation.objects.filter(org=org, accepted_at__isnull=True, revoked_at__isnull=True)
