"""GET /api/whoami-v2, as the Hub client reads it; POST /api/credentials/revoke, the Hub's
leaked-token report."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import AccessToken, Membership
from accounts.schema import RevokeLeakedSerializer, WhoAmISerializer
from core.api import AllowAnyone, SignedIn
from core.timeutil import isoformat_z

logger = logging.getLogger(__name__)

# A report names a handful of tokens; anything longer than this is not a token report.
MAX_REPORTED = 100
MAX_REPORT_BYTES = 64 * 1024


def _access_token_info(token: AccessToken) -> dict[str, object]:
    info: dict[str, object] = {
        "displayName": token.name,
        "role": token.role,
        "createdAt": isoformat_z(token.created_at),
    }
    if token.is_fine_grained:
        # The interface layer may read through the policy's selectors (STYLE.md): names of the
        # repos and organisations the token's scopes hold, as the user may see them now.
        from gating.selectors import fine_grained_description

        info["fineGrained"] = fine_grained_description(token)
    if token.expires_at is not None:
        info["expiresAt"] = isoformat_z(token.expires_at)
    return info


class WhoAmIView(APIView):
    permission_classes = [SignedIn]

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request):
        user = request.user
        memberships = Membership.objects.filter(user=user).select_related("org").order_by("org__name")
        token = request.auth if isinstance(request.auth, AccessToken) else None
        auth: dict[str, object] = {"type": "session"}
        if token is not None:
            auth = {"type": "access_token", "accessToken": _access_token_info(token)}
        return Response(
            {
                "type": "user",
                "id": f"{user.pk:024x}",
                "name": user.username,
                "fullname": user.fullname or user.username,
                "email": user.email or None,
                "emailVerified": user.email_verified,
                "isPro": False,
                "canPay": False,
                "avatarUrl": None,
                "periodEnd": None,
                "orgs": [
                    {
                        "type": "org",
                        "id": f"{m.org.pk:024x}",
                        "name": m.org.name,
                        "fullname": m.org.fullname or m.org.name,
                        "roleInOrg": m.role,
                    }
                    for m in memberships
                ],
                "auth": auth,
            }
        )


def _reported(data: object) -> list[str]:
    """The token strings a report names. The Hub documents the route but not its body, so any
    of these is read: {"credential": str}, {"token": str}, {"credentials"|"tokens": [str]}, a
    JSON list of strings, or a plain-text body of tokens separated by white space."""
    if isinstance(data, str):
        return data.split()
    if isinstance(data, list):
        return [item for item in data if isinstance(item, str)]
    if isinstance(data, dict):
        found: list[str] = []
        for key in ("credential", "token", "value"):
            if isinstance(data.get(key), str):
                found.append(data[key])
        for key in ("credentials", "tokens"):
            if isinstance(data.get(key), list):
                found.extend(item for item in data[key] if isinstance(item, str))
        return found
    return []


class RevokeLeakedView(APIView):
    """Anyone who found a token may have it revoked, without rights over it (as on the Hub).

    SECURITY: the answer is always the same 202, whatever the body (a valid token, a revoked one,
    someone else's, garbage), so the route tells nothing about which tokens exist or work. (A
    body over GATEHOUSE_MAX_BODY_BYTES is refused with 413 before it is read, as on every route:
    that answer depends on the size alone, never on the tokens.) It
    takes no credentials (a leaked token must not be needed to kill itself) and no session (no
    CSRF: it can only ever revoke)."""

    authentication_classes: list = []
    permission_classes = [AllowAnyone]

    @extend_schema(operation_id="credentials_revoke", request=RevokeLeakedSerializer, responses={202: None})
    def post(self, request):
        revoked = 0
        if len(request.body) <= MAX_REPORT_BYTES:
            try:
                data = request.data
            except Exception:  # noqa: BLE001 - any unreadable body gets the same answer
                data = request.body.decode("utf-8", "replace")
            for candidate in _reported(data)[:MAX_REPORTED]:
                revoked += services.token_revoke_leaked(candidate=candidate.strip())
        if revoked:
            logger.warning("tokens revoked by a leak report", extra={"revoked": revoked})
        return Response(status=202)
