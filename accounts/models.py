from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac

from accounts import permissions


class User(AbstractUser):
    fullname = models.CharField(max_length=200, blank=True)
    # When the user proved they read mail at `email` (a link they followed, or an identity
    # provider that vouches for it); null: not verified. Changing the email clears it.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Accounts that may act before verifying their email (they are asked to): every account that
    # existed when verification came in (accounts migration 0007) and accounts an operator made
    # (`createuser`). A new sign-up is False: it reads, but creates, asks and posts nothing until
    # verified (gating.policy.check_verified). Changing the email ends the waiver.
    email_verification_waived = models.BooleanField(default=False)
    # An operator disabled the account (is_active is then False): when, and why (shown to them).
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Moved to end every session of the account at once, whatever backend signed it in.
    session_epoch = models.PositiveIntegerField(default=0)
    # The account was deleted: only this tombstone is left (accounts.erasure says what is kept).
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("username"), name="user_username_ci_unique")]

    @property
    def display_name(self) -> str:
        return self.fullname or self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_verification_pending(self) -> bool:
        """A new account whose email is not verified yet: it may not create, ask or post."""
        return self.email_verified_at is None and not self.email_verification_waived

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's session hash (of the password), with the session epoch mixed in once moved:
        SECURITY: moving it (disabling the account) ends every session, those of any backend
        included, and they stay ended when the account is enabled again. Epoch 0 gives Django's
        own hash, so sessions made before this existed stay valid."""
        value = self.password if not self.session_epoch else f"{self.password}:{self.session_epoch}"
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_operator(self) -> bool:
        """Runs the install: sees health details, restores any deleted repo (`--admin` users)."""
        return self.is_active and self.is_staff


class Organization(models.Model):
    name = models.CharField(max_length=96, unique=True)
    fullname = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The visibility of a new repo whose creator does not say (the API without `private`, the
    # portal's form starts from it), as the Hub's Enterprise organisations can set it.
    repos_private_by_default = models.BooleanField(default=False)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        User, through="Membership", related_name="organizations"
    )

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="org_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """Organisation roles, as on the Hub. What each may do is decided in gating.policy alone."""

    READ = "read"
    CONTRIBUTOR = "contributor"
    WRITE = "write"
    ADMIN = "admin"


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READ)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="membership_unique")]


class Invitation(models.Model):
    """An invitation to join an organisation, mailed to `email`. Its link carries the row's id
    signed with the secret key (accounts.invitations), so no secret is stored, in this table or
    in the outbox that sends the mail; it is accepted once, before `expires_at`, by a signed-in
    user whose email is `email`."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READ)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class TokenRole(models.TextChoices):
    READ = "read"
    WRITE = "write"
    FINE_GRAINED = "fineGrained", "fine-grained"


class AccessToken(models.Model):
    """A personal access token. The plaintext is shown once and never stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=TokenRole.choices)
    # Fine-grained tokens only (accounts.permissions.normalise): what the token may do, where.
    # Fixed when the token is made, so the per-process credentials cache never holds a stale copy.
    fine_grained = models.JSONField(null=True, blank=True)
    public_id = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_fine_grained(self) -> bool:
        return self.role == TokenRole.FINE_GRAINED

    @cached_property
    def fine_grained_permissions(self) -> permissions.FineGrained | None:
        if not self.is_fine_grained:
            return None
        return permissions.FineGrained.load(self.fine_grained or {})


class SignupInvitation(models.Model):
    """A sign-up link an operator made, for the invite-only sign-up mode: it makes one account,
    until it expires. Only a SHA-256 of its secret is stored (the link is shown once)."""

    digest = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True, help_text="When set, the account must use this email.")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


class SsoIdentity(models.Model):
    """An account's identity at an OpenID Connect provider: the provider's `sub` for it, which never
    changes (emails and user names at the provider may). SSO sign-in finds accounts through this
    row only (accounts.sso.services); an account has at most one identity per provider."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    # The email the provider sent at the last sign-in (shown to the user; never used to match).
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField()
    # Set when `sso_deprovision` acted on the identity; cleared by --reactivate or the next sign-in.
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_subject_unique"),
            models.UniqueConstraint(fields=["issuer", "user"], name="sso_identity_one_per_issuer"),
        ]
        indexes = [models.Index(fields=["issuer", "last_login_at"])]
