"""Bearer-token authentication, shared by DRF views and the plain download views."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts import tokens
from accounts.models import AccessToken, User
from core.errors import InvalidCredentials
from core.prepared import PreparedQuery

LAST_USED_RESOLUTION = timedelta(minutes=5)


# Every authenticated API call and download looks these up: compiled once per process
# (core.prepared). Two small queries instead of one select_related, which cannot be prepared.
_TOKEN_BY_PUBLIC_ID = PreparedQuery(lambda public_id: AccessToken.objects.filter(public_id=public_id)[:1])
_USER_BY_ID = PreparedQuery(lambda user_id: User.objects.filter(pk=user_id)[:1])


def authenticate_bearer(authorization: str | None) -> tuple[User, AccessToken] | None:
    """None when no bearer token was sent; InvalidCredentials for any token that does not work.

    SECURITY: malformed, unknown, revoked and expired tokens all give the same error, and the
    digest comparison is constant-time.
    """
    if not authorization:
        return None
    scheme, _, candidate = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    candidate = candidate.strip()
    public_id = tokens.parse_public_id(candidate)
    if public_id is None:
        raise InvalidCredentials()
    found = _TOKEN_BY_PUBLIC_ID(public_id=public_id)
    token = found[0] if found else None
    if token is None or not tokens.secrets.compare_digest(token.digest, tokens.digest(candidate)):
        raise InvalidCredentials()
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        raise InvalidCredentials()
    users = _USER_BY_ID(user_id=token.user_id)
    if not users or not users[0].is_active:
        raise InvalidCredentials()
    token.user = users[0]
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return authenticate_bearer(request.META.get("HTTP_AUTHORIZATION"))

    def authenticate_header(self, request) -> str:
        return "Bearer"


def authenticate_request(request) -> None:
    """For plain Django views: a bearer token, when sent, takes precedence over the session.

    Raises InvalidCredentials for a bad token, so a stale token never silently degrades to
    anonymous access.
    """
    result = authenticate_bearer(request.META.get("HTTP_AUTHORIZATION"))
    if result is not None:
        request.user, request.auth = result
    else:
        request.auth = None
