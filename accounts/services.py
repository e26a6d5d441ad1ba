"""Writes for users, organisations and tokens. Each function is one transaction."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import tokens
from accounts.models import AccessToken, Membership, Organization, Role, TokenRole, User
from core.errors import BadRequest, Conflict, EmailNotVerified, NotFound
from core.names import validate_namespace_name
from core.outbox import outbox_send


def namespace_taken(name: str) -> bool:
    return (
        User.objects.filter(username__iexact=name).exists() or Organization.objects.filter(name__iexact=name).exists()
    )


@transaction.atomic
def user_create(*, username: str, email: str, password: str, fullname: str = "", is_admin: bool = False) -> User:
    validate_namespace_name(username)
    if namespace_taken(username):
        raise Conflict(f"The name {username!r} is already taken.")
    user = User(username=username, email=email, fullname=fullname, is_staff=is_admin, is_superuser=is_admin)
    try:
        validate_password(password, user)
    except Exception as exc:  # django.core.exceptions.ValidationError
        raise BadRequest(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(f"The name {username!r} is already taken.") from exc
    return user


@transaction.atomic
def user_ensure(*, username: str, email: str, password: str, is_admin: bool = False) -> tuple[User, bool]:
    """Create the user, or bring an existing one to the given email, password and admin flag."""
    user = User.objects.select_for_update().filter(username__iexact=username).first()
    if user is None:
        user = user_create(username=username, email=email, password=password, is_admin=is_admin)
        User.objects.filter(pk=user.pk).update(email_verification_waived=True)
        user.email_verification_waived = True
        return user, True
    if user.deleted_at is not None:
        # SECURITY: a deleted account's name stays with its tombstone (accounts.erasure).
        raise Conflict(f"The account {user.username} was deleted; its name is not given again.")
    if email.casefold() != user.email.casefold():
        user.email_verified_at = None  # nobody proved the new address
    user.email = email
    user.is_staff = user.is_superuser = is_admin
    # An operator vouches for the accounts they make: they act before verifying (asked to).
    user.email_verification_waived = True
    user.set_password(password)
    user.save()
    return user, False


@transaction.atomic
def org_create(*, name: str, creator: User, fullname: str = "") -> Organization:
    if creator.is_verification_pending:
        # SECURITY: as for repos (gating.policy.check_verified): names are claimed, invitations mailed.
        raise EmailNotVerified()
    validate_namespace_name(name)
    if namespace_taken(name):
        raise Conflict(f"The name {name!r} is already taken.")
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name, fullname=fullname)
    except IntegrityError as exc:
        raise Conflict(f"The name {name!r} is already taken.") from exc
    Membership.objects.create(org=org, user=creator, role=Role.ADMIN)
    return org


@transaction.atomic
def membership_set(*, org: Organization, user: User, role: str | None) -> Membership | None:
    """Add, change or (role=None) remove a member. An organisation always keeps one admin."""
    if role is not None and role not in Role.values:
        raise BadRequest(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    current = Membership.objects.select_for_update().filter(org=org, user=user).first()
    if current and current.role == Role.ADMIN and role != Role.ADMIN:
        other_admins = Membership.objects.filter(org=org, role=Role.ADMIN).exclude(pk=current.pk)
        if not other_admins.exists():
            raise BadRequest("An organisation must keep at least one admin.")
    if role is None:
        if current:
            current.delete()
        return None
    membership, _ = Membership.objects.update_or_create(org=org, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def org_settings_update(*, org: Organization, fullname: str, repos_private_by_default: bool) -> Organization:
    fullname = (fullname or "").strip()
    if len(fullname) > 200:
        raise BadRequest("A full name has at most 200 characters.")
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    locked.fullname, locked.repos_private_by_default = fullname, repos_private_by_default
    locked.save(update_fields=["fullname", "repos_private_by_default"])
    return locked


@transaction.atomic
def token_create(
    *, user: User, name: str, role: str, expires_at: datetime | None = None, fine_grained: dict | None = None
) -> tuple[AccessToken, str]:
    """Returns the row and the plaintext, which the caller shows once. A fine-grained token
    (role `fineGrained`) takes `fine_grained` as `accounts.permissions.normalise` made it, from
    entities the caller resolved through the policy (a name the user cannot see is not found)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise BadRequest("A token needs a name of 1 to 100 characters.")
    if role not in TokenRole.values:
        raise BadRequest(f"Unknown token role {role!r}; expected 'read', 'write' or 'fineGrained'.")
    if (role == TokenRole.FINE_GRAINED) != (fine_grained is not None):
        raise BadRequest("Permissions are chosen for fine-grained tokens only, and they need some.")
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("A token's expiry date must be in the future.")
    new = tokens.generate()
    token = AccessToken.objects.create(
        user=user,
        name=name,
        role=role,
        public_id=new.public_id,
        digest=new.digest,
        expires_at=expires_at,
        fine_grained=fine_grained,
    )
    return token, new.plaintext


@transaction.atomic
def token_revoke_leaked(*, candidate: str) -> bool:
    """The Hub's leaked-token report (POST /api/credentials/revoke): anyone who holds a token may
    revoke it; its owner is mailed once (accounts.tasks). True when a live token was revoked (for
    the log only: SECURITY, the caller is always answered the same, so the route is no oracle of
    which tokens are valid)."""
    public_id = tokens.parse_public_id(candidate)
    if public_id is None:
        return False
    token = AccessToken.objects.select_for_update().filter(public_id=public_id).first()
    if token is None or not secrets.compare_digest(token.digest, tokens.digest(candidate)):
        return False
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    outbox_send("accounts.tasks.token_leak_mail_send_task", token.pk)  # the owner hears it once
    return True


@transaction.atomic
def token_revoke(*, user: User, token_id: int) -> AccessToken:
    token = AccessToken.objects.select_for_update().filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
