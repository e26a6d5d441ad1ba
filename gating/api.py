"""Hub-compatible access-request routes (hub-api.md §6), for repo reviewers:

GET  /api/{t}/{ns}/{name}/user-access-request/{pending|accepted|rejected}   (paginated by Link)
POST /api/{t}/{ns}/{name}/user-access-request/handle  {"user"|"requestId", "status", "rejectionReason"?,
                                                       "expiresAt"? (Gatehouse: ISO time, for accepted)}
POST /api/{t}/{ns}/{name}/user-access-request/grant   {"user", "expiresAt"?}   -> the request, as JSON
POST /api/{t}/{ns}/{name}/user-access-request/reset   {"user"}   (Gatehouse: forget a decision)
"""

from __future__ import annotations

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.models import User
from core import edge
from core.errors import BadRequest, NotFound
from core.pagination import next_page_link, page_bounds
from gating import schema, services
from gating.policy import Action, Principal, repo_role
from gating.repo_views import RepoAPIView
from gating.selectors import request_item, requests_for, require_gated


def _expiry(data: dict):
    raw = data.get("expiresAt")
    if raw in (None, ""):
        return None
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest("'expiresAt' must be an ISO 8601 time with a time zone, e.g. 2027-01-01T00:00:00Z.")
    return parsed


class AccessRequestListView(RepoAPIView):
    repo_actions = {"GET": Action.REVIEW_READ}

    @extend_schema(operation_id="access_requests_list", responses=schema.AccessRequestSerializer(many=True))
    def get(self, request, namespace, name, status, repo_type=None):
        require_gated(self.repo)
        offset, size = page_bounds(request, default_size=100, max_size=settings.GATEHOUSE_LIST_PAGE_SIZE)
        rows = list(requests_for(self.repo, status=status)[offset : offset + size + 1])
        response = Response([request_item(row) for row in rows[:size]])
        if len(rows) > size:
            response["Link"] = next_page_link(request, offset + size)
        return response


class AccessRequestHandleView(RepoAPIView):
    repo_actions = {"POST": Action.REVIEW}

    @extend_schema(
        operation_id="access_requests_handle",
        request=schema.AccessRequestHandleSerializer,
        responses=schema.AccessRequestSerializer,
    )
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        reason = data.get("rejectionReason") or ""
        if not isinstance(reason, str):
            raise BadRequest("'rejectionReason' must be text.")
        decided = services.access_request_decide(
            repo=self.repo,
            reviewer=request.user,
            status=data.get("status"),
            user_name=data.get("user"),
            request_id=data.get("requestId"),
            reason=reason,
            expires_at=_expiry(data),
        )
        return Response(request_item(decided))


class AccessGrantView(RepoAPIView):
    repo_actions = {"POST": Action.REVIEW}

    @extend_schema(
        operation_id="access_requests_grant",
        request=schema.AccessGrantSerializer,
        responses=schema.AccessRequestSerializer,
    )
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        user = User.objects.filter(username=str(data.get("user", ""))).first()
        if user is None:
            raise NotFound("No such user.")

        granted = services.access_grant(
            repo=self.repo,
            reviewer=request.user,
            user=user,
            has_role=repo_role(Principal(user=user), self.repo) is not None,
            expires_at=_expiry(data),
        )
        return Response(request_item(granted))


class AccessRequestResetView(RepoAPIView):
    repo_actions = {"POST": Action.REVIEW}

    @extend_schema(
        operation_id="access_requests_reset",
        request=schema.AccessResetSerializer,
        responses=schema.AccessResetResultSerializer,
    )
    def post(self, request, namespace, name, repo_type=None):
        services.access_request_reset(
            repo=self.repo, reviewer=request.user, user_name=str(edge.json_object(request).get("user"))
        )
        return Response({"reset": True})
