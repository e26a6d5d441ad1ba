"""SSO writes: match a provider identity to an account, map its groups to organisation roles,
deprovision identities that stopped signing in. Each public function is one transaction."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Membership, Organization, Role, SsoIdentity, User
from accounts.services import membership_set, namespace_taken
from accounts.sso.config import GroupRoles, mapped_orgs
from core.errors import BadRequest
from core.names import RESERVED_NAMESPACES, validate_namespace_name

logger = logging.getLogger("gatehouse.sso")

MAX_SUBJECT = 255
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class SsoRefused(Exception):
    """Sign-in refused for a reason the person can act on; `message` is shown to them."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class MembershipChanges:
    added: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    kept_last_admin: list[str] = field(default_factory=list)


def claim_is_true(value: object) -> bool:
    """`email_verified` is a JSON boolean by the spec; some providers send the string "true"."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def claim_groups(claims: Mapping, groups_claim: str) -> set[str]:
    value = claims.get(groups_claim) if groups_claim else None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    return {item for item in value if isinstance(item, str)}


@transaction.atomic
def sso_sign_in(
    *, issuer: str, claims: Mapping, group_roles: GroupRoles, groups_claim: str, provider_name: str = "the provider"
) -> User:
    """The account for this provider identity: found by (issuer, sub), else linked by a verified
    email, else created. Its mapped organisation memberships follow the groups claim.

    SECURITY: an email alone never signs anyone in to an existing account unless the provider says
    the address is verified AND the account verified it here too: otherwise whoever controls an
    identity with that email at the provider (or registers the email here first) takes the
    account over. Refusals raise SsoRefused and change nothing.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise SsoRefused("bad_claims", f"{provider_name} sent no usable subject identifier.")
    raw_email = claims.get("email")
    email = raw_email.strip()[:254] if isinstance(raw_email, str) else ""
    email_verified = bool(email) and claim_is_true(claims.get("email_verified"))
    now = timezone.now()

    identity = SsoIdentity.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        user = User.objects.select_for_update().get(pk=identity.user_id)
    else:
        user = _link_or_create(
            issuer=issuer, claims=claims, email=email, email_verified=email_verified, provider_name=provider_name
        )
        try:
            with transaction.atomic():
                identity = SsoIdentity.objects.create(
                    user=user, issuer=issuer, subject=subject, email=email, last_login_at=now
                )
        except IntegrityError as exc:
            raise SsoRefused("race", "Another sign-in for this identity ran at the same time; try again.") from exc
        logger.info("sso: identity %s linked to account %s", subject, user.username)
    if not user.is_active:
        raise SsoRefused("disabled", "This account is disabled. Ask an operator of this Gatehouse to re-enable it.")

    identity.email = email
    identity.last_login_at = now
    identity.deprovisioned_at = None  # seen again (only an active account gets here)
    identity.save(update_fields=["email", "last_login_at", "deprovisioned_at"])
    if email_verified and not user.email_verified and user.email.lower() == email.lower():
        # The provider vouches for the address the account already has.
        user.email_verified_at = now
        user.save(update_fields=["email_verified_at"])
    memberships_sync(user=user, groups=claim_groups(claims, groups_claim), group_roles=group_roles)
    return user


def _link_or_create(*, issuer: str, claims: Mapping, email: str, email_verified: bool, provider_name: str) -> User:
    same_email = list(User.objects.select_for_update().filter(email__iexact=email)[:10]) if email else []
    # SECURITY (found by a review): a new sign-up that never verified the address proves nothing
    # about it, and must not lock its owner out of single sign-on: such accounts are left aside.
    # Verified accounts and those made before verification existed (waived) are the owner's.
    same_email = [user for user in same_email if not user.is_verification_pending]
    if not same_email:
        return _create_user(claims=claims, email=email, email_verified=email_verified)
    refusal = SsoRefused(
        "link_refused",
        f"An account with the email {email} already exists here. It is linked to your {provider_name} "
        f"identity only when {provider_name} says this email is verified and the account has verified "
        "it too; otherwise anyone who could claim the address could take the account over. Sign in "
        "with that account's password and verify its email, then sign in with "
        f"{provider_name} again, or ask an operator.",
    )
    if len(same_email) > 1 or not email_verified:
        raise refusal
    user = same_email[0]
    if not user.email_verified or not user.is_active:
        raise refusal
    if SsoIdentity.objects.filter(issuer=issuer, user=user).exists():
        raise SsoRefused(
            "already_linked",
            f"The account with the email {email} is already linked to another {provider_name} identity.",
        )
    logger.info("sso: linking account %s by verified email", user.username)
    return user


def _username_base(claims: Mapping, email: str) -> str:
    for candidate in (claims.get("preferred_username"), email.partition("@")[0], claims.get("nickname")):
        if not isinstance(candidate, str):
            continue
        name = _NOT_NAME_CHARS.sub("-", candidate.partition("@")[0])
        name = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", name)).strip("._-")[:80].strip("._-")
        if name.lower().endswith(".git"):
            name = name[:-4].strip("._-")
        if name and name.lower() not in RESERVED_NAMESPACES:
            return name
    return "user"


def _create_user(*, claims: Mapping, email: str, email_verified: bool) -> User:
    """A new account named after preferred_username (else the email's local part), made valid and
    made unique with -2, -3, ...; it has no password (it signs in through the provider)."""
    base = _username_base(claims, email)
    raw_name = claims.get("name")
    fullname = raw_name if isinstance(raw_name, str) else ""
    for attempt in range(1, 200):
        username = base if attempt == 1 else f"{base}-{attempt}"
        validate_namespace_name(username)
        if namespace_taken(username):
            continue
        user = User(
            username=username,
            email=email,
            fullname=fullname[:200],
            email_verified_at=timezone.now() if email_verified else None,
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            continue
        logger.info("sso: created account %s", username)
        return user
    raise SsoRefused("no_username", f"No free user name like {base!r}; ask an operator.")


def _rank(role: str) -> int:
    return Role.values.index(role) if role in Role.values else -1


@transaction.atomic
def memberships_sync(*, user: User, groups: set[str], group_roles: GroupRoles) -> MembershipChanges:
    """Bring the user's memberships of the mapped organisations to what the groups say (the
    highest role any group gives). Organisations the map does not name are left alone; so is the
    last admin of an organisation (membership_set refuses, and it is logged)."""
    wanted: dict[str, str] = {}
    for group in groups:
        for org_name, role in group_roles.get(group, ()):
            key = org_name.lower()
            if _rank(role) > _rank(wanted.get(key, "")):
                wanted[key] = role
    governed = mapped_orgs(group_roles)
    changes = MembershipChanges()
    if not governed:
        return changes
    orgs: dict[str, Organization] = {
        o.name.lower(): o for o in Organization.objects.annotate(lname=Lower("name")).filter(lname__in=governed)
    }
    for missing in sorted((governed & set(wanted)) - set(orgs)):
        logger.warning("sso: group map names organisation %r, which does not exist; create it first", missing)
    current = {m.org_id: m.role for m in Membership.objects.filter(user=user, org__in=[o.pk for o in orgs.values()])}
    for key in sorted(orgs):
        org = orgs[key]
        want, have = wanted.get(key), current.get(org.pk)
        if want == have:
            continue
        try:
            membership_set(org=org, user=user, role=want)
        except BadRequest:
            changes.kept_last_admin.append(org.name)
            logger.warning("sso: %s stays admin of %s, its last admin", user.username, org.name)
            continue
        if have is None and want is not None:
            changes.added.append((org.name, want))
        elif want is None and have is not None:
            changes.removed.append((org.name, have))
        elif have is not None and want is not None:
            changes.changed.append((org.name, have, want))
    for org_name, role in changes.added:
        logger.info("sso: membership added: %s in %s as %s", user.username, org_name, role)
    for org_name, old, new in changes.changed:
        logger.info("sso: membership changed: %s in %s from %s to %s", user.username, org_name, old, new)
    for org_name, role in changes.removed:
        logger.info("sso: membership removed: %s from %s (was %s)", user.username, org_name, role)
    return changes


@dataclass
class Deprovisioned:
    username: str
    last_login_at: datetime
    removed: list[tuple[str, str]]


@transaction.atomic
def sso_deprovision(
    *, issuer: str, inactive_days: int, group_roles: GroupRoles, disable: bool = True, dry_run: bool = False
) -> list[Deprovisioned]:
    """Accounts whose identity at `issuer` has not signed in for `inactive_days`: their mapped
    memberships are removed and (with `disable`) the account is disabled, which also stops its
    tokens and sessions. Accounts already deprovisioned are skipped; a later run finds only new ones."""
    if inactive_days < 1:
        raise BadRequest("inactive_days must be at least 1.")
    cutoff = timezone.now() - timedelta(days=inactive_days)
    stale = (
        SsoIdentity.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(issuer=issuer, last_login_at__lt=cutoff, deprovisioned_at__isnull=True)
        .order_by("last_login_at", "pk")
    )
    done = []
    for identity in stale:
        user = identity.user
        governed = mapped_orgs(group_roles)
        memberships = Membership.objects.filter(user=user).select_related("org")
        would_remove = [(m.org.name, m.role) for m in memberships if m.org.name.lower() in governed]
        if dry_run:
            done.append(Deprovisioned(user.username, identity.last_login_at, would_remove))
            continue
        changes = memberships_sync(user=user, groups=set(), group_roles=group_roles)
        if disable and user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        identity.deprovisioned_at = timezone.now()
        identity.save(update_fields=["deprovisioned_at"])
        logger.info("sso: deprovisioned %s (last sign-in %s)", user.username, identity.last_login_at.isoformat())
        done.append(Deprovisioned(user.username, identity.last_login_at, changes.removed))
    return done


@transaction.atomic
def sso_reactivate(*, issuer: str, username: str) -> User:
    """Undo a deprovisioning: the account is enabled and its identity counts as seen now (so the
    next deprovisioning run does not disable it again before its next sign-in)."""
    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, user__username__iexact=username)
    ).first()
    if identity is None:
        raise BadRequest(f"{username!r} has no identity at {issuer}.")
    if identity.deprovisioned_at is None or identity.user.disabled_at is not None:
        # SECURITY: an account an operator disabled for another reason (`account disable`, which
        # sets disabled_at) is not re-enabled here.
        raise BadRequest(f"{identity.user.username!r} was not deprovisioned by sso_deprovision.")
    identity.deprovisioned_at = None
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["deprovisioned_at", "last_login_at"])
    identity.user.is_active = True
    identity.user.save(update_fields=["is_active"])
    return identity.user
