"""/api/mirror/upstreams: the upstream hubs, and each user's own token for them (a Gatehouse
extension; the Hub client has no such call). The token is checked against the upstream
(`whoami-v2`) before it is stored, encrypted; it is never answered back."""

from __future__ import annotations

import json

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import edge
from core.api import SignedIn
from core.errors import BadRequest, Forbidden, NotFound
from gating.policy import Principal
from mirror import client, schema, services
from mirror.config import Upstream, upstream_named, upstreams
from mirror.models import UpstreamCredential


def _upstream(name: str) -> Upstream:
    upstream = upstream_named(name)
    if upstream is None:
        raise NotFound(f"No upstream hub is called {name!r}.")
    return upstream


class UpstreamListView(APIView):
    """GET: the upstreams, their namespaces, and whether the caller stored a token for each."""

    permission_classes = [SignedIn]

    @extend_schema(responses=schema.UpstreamSerializer(many=True))
    def get(self, request):
        mine = set(UpstreamCredential.objects.filter(user=request.user).values_list("upstream", flat=True))
        return Response(
            [
                {
                    "name": upstream.name,
                    "endpoint": upstream.endpoint,
                    "namespaces": sorted(upstream.namespaces),
                    "hasToken": upstream.name in mine,
                }
                for upstream in upstreams().values()
            ]
        )


class UpstreamTokenView(APIView):
    """PUT {"token": "..."}: store the caller's own token for the upstream (checked there first);
    DELETE: forget it. Both need a write token (or a session)."""

    permission_classes = [SignedIn]

    def _writer(self, request):
        if not Principal.from_request(request).may_write:
            raise Forbidden("Storing an upstream token needs a write token.")
        return request.user

    @extend_schema(request=schema.UpstreamTokenRequestSerializer, responses=schema.UpstreamTokenSerializer)
    def put(self, request, upstream_name: str):
        user = self._writer(request)
        upstream = _upstream(upstream_name)
        token = edge.json_object(request).get("token")
        if not isinstance(token, str):
            raise BadRequest("'token' is required.")
        services.check_token_text(token)
        response = client.request(upstream, "GET", "/api/whoami-v2", token=token)
        if response.status != 200:
            raise BadRequest(
                f"The upstream hub {upstream.name!r} did not accept this token.", code="UpstreamCredentialsRefused"
            )
        try:
            name = str(json.loads(response.data).get("name", ""))
        except (ValueError, AttributeError):
            name = ""
        services.credential_set(user=user, upstream=upstream, token=token, upstream_username=name)
        return Response({"upstream": upstream.name, "upstreamUser": name, "hasToken": True})

    @extend_schema(responses=schema.UpstreamTokenSerializer)
    def delete(self, request, upstream_name: str):
        user = self._writer(request)
        services.credential_delete(user=user, upstream=_upstream(upstream_name))
        return Response({"upstream": upstream_name, "hasToken": False})


api_urlpatterns = [
    re_path(r"^api/mirror/upstreams$", UpstreamListView.as_view(), name="api-upstreams"),
    re_path(
        r"^api/mirror/upstreams/(?P<upstream_name>[^/]+)/token$", UpstreamTokenView.as_view(), name="api-upstream-token"
    ),
]
