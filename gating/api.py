"""Hub-compatible access-request routes (hub-api.md section 6) and Gatehouse's release-plan API.

Under /api/{type}s/{ns}/{name}/:
- GET  user-access-request/{pending|accepted|rejected}   paginated by Link
- POST user-access-request/handle   {"user"|"requestId", "status", "rejectionReason"?, "expiresAt"?}
- POST user-access-request/grant    {"user", "expiresAt"?}  -> the request as JSON
- GET, PUT release; POST release/{advance|pause|resume|rollback}   (native)
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.response import Response

from accounts.models import User
from core.errors import BadRequest, NotFound
from core.pagination import next_page_link, page_bounds
from gating import selectors, services
from gating.policy import Action
from gating.serializers import access_request_item, release_plan_item
from registry.api.base import RepoAPIView

PAGE_SIZE = 100
HANDLE_KEYS = {"user", "requestId", "status", "rejectionReason", "expiresAt"}
GRANT_KEYS = {"user", "expiresAt"}


def json_object(data, allowed: set[str]) -> dict:
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}.")
    return data


def parse_when(value, key: str = "expiresAt") -> datetime | None:
    """An ISO 8601 datetime (UTC when no offset is given); None when absent."""
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
    if parsed is None:
        raise BadRequest(f"'{key}' must be an ISO 8601 datetime such as 2030-01-31T00:00:00Z.")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _string(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, (str, int)):
        raise BadRequest(f"'{key}' must be a string.")
    return None if value is None else str(value)


class AccessRequestListView(RepoAPIView):
    repo_actions = {"GET": Action.REVIEW}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, namespace, name, status, repo_type=None):
        services.require_gated(self.repo)
        offset, size = page_bounds(request, default_size=PAGE_SIZE, max_size=PAGE_SIZE)
        rows = list(selectors.access_requests_for(self.repo, status)[offset : offset + size + 1])
        response = Response([access_request_item(row) for row in rows[:size]])
        if len(rows) > size:
            response["Link"] = next_page_link(request, offset + size)
        response["Cache-Control"] = "private, no-store"
        return response


class AccessRequestHandleView(RepoAPIView):
    repo_actions = {"POST": Action.REVIEW}

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, namespace, name, repo_type=None):
        data = json_object(request.data, HANDLE_KEYS)
        services.require_gated(self.repo)
        username, request_id = _string(data, "user"), _string(data, "requestId")
        if (username is None) == (request_id is None):
            raise BadRequest("Give exactly one of 'user' or 'requestId'.")
        status = _string(data, "status")
        if status is None:
            raise BadRequest("'status' is required: 'accepted', 'rejected' or 'pending'.")
        target = selectors.find_access_request(self.repo, username=username, request_id=request_id)
        [decided] = services.access_requests_decide(
            repo=self.repo,
            actor=request.user,
            request_ids=[target.pk],
            status=status,
            reason=_string(data, "rejectionReason") or "",
            expires_at=parse_when(data.get("expiresAt")),
        )
        return Response(access_request_item(decided))


class AccessGrantView(RepoAPIView):
    repo_actions = {"POST": Action.REVIEW}

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, namespace, name, repo_type=None):
        data = json_object(request.data, GRANT_KEYS)
        services.require_gated(self.repo)
        username = _string(data, "user")
        if not username:
            raise BadRequest("'user' is required.")
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise NotFound(f"User {username!r} not found.")
        granted = services.access_grant(
            repo=self.repo, actor=request.user, user=user, expires_at=parse_when(data.get("expiresAt"))
        )
        return Response(access_request_item(granted))


def _stage_specs(data) -> list[services.StageSpec]:
    stages = json_object(data, {"stages"}).get("stages")
    if not isinstance(stages, list):
        raise BadRequest("'stages' must be a list.")
    specs = []
    for stage in stages:
        stage = json_object(stage, {"mode", "scheduledAt", "withheld", "note"})
        withheld = stage.get("withheld") or []
        if not isinstance(withheld, list):
            raise BadRequest("'withheld' must be a list of file patterns.")
        specs.append(
            services.StageSpec(
                mode=str(stage.get("mode", "")),
                scheduled_at=parse_when(stage.get("scheduledAt"), "scheduledAt"),
                withheld_patterns=withheld,
                note=str(stage.get("note") or ""),
            )
        )
    return specs


class ReleasePlanView(RepoAPIView):
    """GET the plan; PUT {"stages": [{"mode", "scheduledAt"?, "withheld"?, "note"?}]} replaces the
    stages still to come."""

    repo_actions = {"GET": Action.MANAGE, "PUT": Action.MANAGE}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, namespace, name, repo_type=None):
        return Response(release_plan_item(selectors.release_plan_of(self.repo)))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def put(self, request, namespace, name, repo_type=None):
        services.release_plan_set(repo=self.repo, actor=request.user, stages=_stage_specs(request.data))
        return Response(release_plan_item(selectors.release_plan_of(self.repo)))


class ReleaseActionView(RepoAPIView):
    repo_actions = {"POST": Action.MANAGE}

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, namespace, name, operation, repo_type=None):
        services.release_operate(repo=self.repo, actor=request.user, operation=operation)
        return Response(release_plan_item(selectors.release_plan_of(self.repo)))
