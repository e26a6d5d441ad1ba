"""Bearer-token authentication, shared by DRF views and the plain download views; HTTP Basic with
a token as the password for git and git-lfs (githttp), as on the Hub."""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts import tokens
from accounts.models import AccessToken, User
from core import lookup_cache
from core.errors import InvalidCredentials
from core.prepared import PreparedQuery

LAST_USED_RESOLUTION = timedelta(minutes=5)


# Every authenticated API call and download looks these up: compiled once per process
# (core.prepared). Two small queries instead of one select_related, which cannot be prepared.
_TOKEN_BY_PUBLIC_ID = PreparedQuery(lambda public_id: AccessToken.objects.filter(public_id=public_id)[:1])
_USER_BY_ID = PreparedQuery(lambda user_id: User.objects.filter(pk=user_id)[:1])


@dataclass
class _Credentials:
    """A token row and its account, as read together; copied out of the cache for each request."""

    token: AccessToken
    user: User | None

    def __copy__(self) -> _Credentials:
        return _Credentials(copy.copy(self.token), copy.copy(self.user))


def _read_credentials(public_id: str) -> _Credentials | None:
    found = _TOKEN_BY_PUBLIC_ID(public_id=public_id)
    if not found:
        return None
    users = _USER_BY_ID(user_id=found[0].user_id)
    return _Credentials(found[0], users[0] if users else None)


def _credentials(public_id: str) -> _Credentials | None:
    """The token with that public id and its account: on PostgreSQL kept per process until the
    token, the account or anything else of the user's changes (core.lookup_cache; triggers of
    gating migration 0007). SECURITY: unknown ids are not kept (a prober cannot fill the cache,
    and a later token with that id is found); the digest, the revocation, the expiry and the
    account's state are still checked on every request, against the row as last committed."""
    return lookup_cache.remember(
        ("token", public_id),
        lambda found: (lookup_cache.user_scope(found.token.user_id),),
        lambda: _read_credentials(public_id),
        keep_none=False,
    )


def _touch(token: AccessToken, now) -> None:
    """Record a use, at most once per LAST_USED_RESOLUTION per token across every process: the
    UPDATE matches nothing when another process wrote a recent time (no row lock waited on)."""
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    AccessToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)


def basic_password(authorization: str | None) -> str | None:
    """The password of an `Authorization: Basic` header (any user name), None for other schemes.
    git and git-lfs send the token this way; the user name means nothing, as on the Hub."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip()[:4096], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidCredentials() from None
    _, colon, password = decoded.partition(":")
    if not colon or not password:
        raise InvalidCredentials()
    return password


def authenticate_bearer(authorization: str | None, *, basic: bool = False) -> tuple[User, AccessToken] | None:
    """None when no bearer token was sent; InvalidCredentials for any token that does not work.
    With `basic` (git routes only), also a token sent as the password of HTTP Basic.

    SECURITY: malformed, unknown, revoked and expired tokens all give the same error, and the
    digest comparison is constant-time. Basic is never accepted on the portal's or the API's
    routes: browsers replay Basic credentials on their own, as they do cookies (CSRF).
    """
    if not authorization:
        return None
    scheme, _, candidate = authorization.partition(" ")
    if basic and scheme.lower() == "basic":
        candidate = basic_password(authorization) or ""
    elif scheme.lower() != "bearer":
        return None
    candidate = candidate.strip()
    public_id = tokens.parse_public_id(candidate)
    if public_id is None:
        raise InvalidCredentials()
    found = _credentials(public_id)
    token = found.token if found else None
    if token is None or not tokens.secrets.compare_digest(token.digest, tokens.digest(candidate)):
        raise InvalidCredentials()
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        raise InvalidCredentials()
    user = found.user if found else None
    if user is None or not user.is_active:
        raise InvalidCredentials()
    token.user = user
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        _touch(token, now)
        lookup_cache.cache.forget(("token", public_id))  # no trigger watches last_used_at
    return token.user, token


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return authenticate_bearer(request.META.get("HTTP_AUTHORIZATION"))

    def authenticate_header(self, request) -> str:
        return "Bearer"


class BasicOrBearerTokenAuthentication(BearerTokenAuthentication):
    """For the Git LFS batch API, which git-lfs calls with Basic and huggingface_hub with Bearer."""

    def authenticate(self, request):
        return authenticate_bearer(request.META.get("HTTP_AUTHORIZATION"), basic=True)

    def authenticate_header(self, request) -> str:
        return 'Basic realm="Gatehouse"'


def authenticate_request(request, *, basic: bool = False) -> None:
    """For plain Django views: a bearer token, when sent, takes precedence over the session;
    with `basic` (the git routes), a token as the password of HTTP Basic too.

    Raises InvalidCredentials for a bad token, so a stale token never silently degrades to
    anonymous access.
    """
    result = authenticate_bearer(request.META.get("HTTP_AUTHORIZATION"), basic=basic)
    if result is not None:
        request.user, request.auth = result
    else:
        request.auth = None
