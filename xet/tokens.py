"""Xet access tokens and signed xorb URLs: self-contained, signed with the project's secret.

A token names its scope, the repo, the revision it was minted for (a commit for reads, a ref for
writes), the user and the Hub token they authenticated with. Every CAS call made with a token
re-checks that the Hub token is still active, so revoking it revokes the Xet tokens minted from
it (signed fetch URLs carry no token and simply expire).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils import timezone

from accounts.models import AccessToken, User
from core.errors import Forbidden, InvalidCredentials
from gating.policy import ANONYMOUS, CommitTarget, Principal

READ, WRITE = "read", "write"
_SALT = "gatehouse.xet.token"


@dataclass(frozen=True)
class XetToken:
    scope: str
    repo_pk: int
    revision: str
    user_pk: int | None
    hub_token_pk: int | None
    expires: int
    create_pr: bool = False  # write tokens: the push opens a new pull request (see policy.CommitTarget)

    def commit_target(self) -> CommitTarget:
        """Where the holder's upload may land, checked again when its shard registers."""
        return CommitTarget.parse(self.revision, create_pr=self.create_pr)


def mint(*, scope: str, repo_pk: int, revision: str, principal: Principal, create_pr: bool = False) -> tuple[str, int]:
    expires = int(time.time()) + settings.GATEHOUSE_XET_TOKEN_TTL
    hub_expiry = principal.token.expires_at if principal.token else None
    if hub_expiry is not None:
        # A Xet token never outlives the Hub token it was minted from (every CAS call re-checks
        # the Hub token too: principal_of); the client asks for a new one when it expires.
        expires = min(expires, int(hub_expiry.timestamp()))
    payload = {
        "s": scope,
        "r": repo_pk,
        "v": revision,
        "u": principal.user.pk if principal.user else None,
        "k": principal.token.pk if principal.token else None,
        "e": expires,
        "c": create_pr,
    }
    return signing.dumps(payload, salt=_SALT), expires


def parse(header: str | None) -> XetToken:
    """The token of an `Authorization: Bearer` header; 401 if it is missing, forged or expired."""
    if not header or not header.startswith("Bearer "):
        raise InvalidCredentials("A Xet access token is required.")
    try:
        data = signing.loads(header[len("Bearer ") :].strip(), salt=_SALT)
        # Tokens minted before "c" existed named a new pull request by the revision "None" alone.
        create_pr = bool(data.get("c", data["v"] == "None"))
        token = XetToken(data["s"], int(data["r"]), str(data["v"]), data["u"], data["k"], int(data["e"]), create_pr)
    except (signing.BadSignature, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidCredentials("Invalid Xet access token.") from exc
    if token.expires <= time.time():
        raise InvalidCredentials("The Xet access token has expired; request a new one.")
    return token


def require_write(token: XetToken) -> None:
    if token.scope != WRITE:
        raise Forbidden("This Xet token is read-only; request a write token to upload.")


def principal_of(token: XetToken) -> Principal:
    """Who the token acts for, checked again now: the user and their Hub token must still be active."""
    if token.user_pk is None:
        return ANONYMOUS
    user = User.objects.filter(pk=token.user_pk, is_active=True).first()
    if user is None:
        raise InvalidCredentials("The account behind this Xet token is no longer active.")
    hub_token = None
    if token.hub_token_pk is not None:
        hub_token = AccessToken.objects.filter(pk=token.hub_token_pk, user=user, revoked_at__isnull=True).first()
        if hub_token is None or (hub_token.expires_at is not None and hub_token.expires_at <= timezone.now()):
            raise InvalidCredentials("The Hub token behind this Xet token was revoked or has expired.")
    return Principal(user=user, token=hub_token)


# -- signed fetch URLs ----------------------------------------------------------------------------


def _fetch_signature(xorb: str, ranges: str, expires: int) -> str:
    key = hashlib.sha256(f"gatehouse.xet.fetch:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{xorb}|{ranges}|{expires}".encode(), hashlib.sha256).hexdigest()


def sign_fetch(xorb: str, ranges: str) -> tuple[int, str]:
    expires = int(time.time()) + settings.GATEHOUSE_XET_FETCH_URL_TTL
    return expires, _fetch_signature(xorb, ranges, expires)


def check_fetch(xorb: str, ranges: str, expires: str, signature: str) -> None:
    """403 (the client then asks for a fresh reconstruction) for a bad or expired signature."""
    try:
        when = int(expires)
    except ValueError as exc:
        raise Forbidden("Invalid signed URL.") from exc
    if not hmac.compare_digest(_fetch_signature(xorb, ranges, when), signature or ""):
        raise Forbidden("Invalid signed URL.")
    if when <= time.time():
        raise Forbidden("This signed URL has expired.")
