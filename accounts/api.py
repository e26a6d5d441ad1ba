"""GET /api/whoami-v2, as the Hub client reads it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccessToken, Membership
from accounts.schema import WhoAmISerializer
from core.api import SignedIn
from core.timeutil import isoformat_z


class WhoAmIView(APIView):
    permission_classes = [SignedIn]

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request):
        user = request.user
        memberships = Membership.objects.filter(user=user).select_related("org").order_by("org__name")
        token = request.auth if isinstance(request.auth, AccessToken) else None
        auth: dict[str, object] = {"type": "session"}
        if token is not None:
            auth = {
                "type": "access_token",
                "accessToken": {
                    "displayName": token.name,
                    "role": token.role,
                    "createdAt": isoformat_z(token.created_at),
                },
            }
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
