"""Refs and commit history."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core import edge
from core.pagination import next_page_link, page_bounds
from gating.repo_views import RepoAPIView
from registry.api import schema
from registry.api.serializers import commit_item, ref_item
from registry.models import RefKind
from registry.selectors import history, list_refs, resolve_revision


class RefsView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}/refs[?include_prs=1]"""

    @extend_schema(parameters=schema.REFS_PARAMETERS, responses=schema.RefsSerializer)
    def get(self, request, namespace, name, repo_type=None):
        grouped = list_refs(self.repo)
        data = {
            "branches": [ref_item(ref) for ref in grouped[RefKind.BRANCH]],
            "converts": [],
            "tags": [ref_item(ref) for ref in grouped[RefKind.TAG]],
        }
        if edge.query_flag(request, "include_prs"):
            data["pullRequests"] = [ref_item(ref) for ref in grouped[RefKind.PULL_REQUEST]]
        return Response(data)


class CommitsView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}/commits/{rev}[?expand[]=formatted], paginated by Link."""

    @extend_schema(parameters=schema.COMMITS_PARAMETERS, responses=schema.CommitItemSerializer(many=True))
    def get(self, request, namespace, name, revision, repo_type=None):
        resolved = resolve_revision(self.repo, revision)
        offset, size = page_bounds(
            request, default_size=settings.GATEHOUSE_COMMITS_PAGE_SIZE, max_size=settings.GATEHOUSE_COMMITS_PAGE_SIZE
        )
        commits, has_more = history(self.repo, resolved.commit_oid, offset=offset, limit=size)
        formatted = "formatted" in request.GET.getlist("expand") + request.GET.getlist("expand[]")
        response = Response([commit_item(commit, formatted=formatted) for commit in commits])
        if has_more:
            response["Link"] = next_page_link(request, offset + size)
        return response
