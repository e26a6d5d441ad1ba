"""What deleting an account erases, and what is left of it (a tombstone).

Erased: the name and email (and the email's verification), the password (made unusable), every
access token, every session (the session epoch moves), linked single sign-on identities (the
tombstone cannot be signed into again; a later sign-in of the same person through the provider
makes a new account, under another name, with the roles its groups give), organisation
memberships, and what each
app above registers in `erasers` (likes, watches, collections, webhooks, reviewer delegations,
the answers of access requests: see gating.account_deletion).

Kept, on the tombstone row (`deleted_at` set, inactive): the user id and the username. SECURITY:
a username is never given to anyone else, so `alice/model` in an old script, clone or model card
can never fetch a newcomer's files (repo-jacking), and audit rows, upload receipts, access
requests, license acknowledgments, discussions and commits that name `alice` keep naming one
person. Nothing else of the person stays on the row.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import AccessToken, Membership, SsoIdentity, User

# Each app above accounts appends the part of an account it holds (in its AppConfig.ready);
# called inside the deletion's transaction, before the account row is anonymised.
erasers: list[Callable[[User], None]] = []


@transaction.atomic
def account_erase(*, user: User) -> User:
    """Erase `user` (see the module's docstring). The caller decided what happens to their repos
    and checked that no organisation is left without an admin."""
    for eraser in erasers:
        eraser(user)
    AccessToken.objects.filter(user=user).delete()
    SsoIdentity.objects.filter(user=user).delete()
    Membership.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(
        email="",
        fullname="",
        first_name="",
        last_name="",
        email_verified_at=None,
        email_verification_waived=False,
        is_active=False,
        is_staff=False,
        is_superuser=False,
        session_epoch=F("session_epoch") + 1,
        deleted_at=timezone.now(),
    )
    user.refresh_from_db()
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user
