"""Deleted repos: list, restore and purge (/api/repos/deleted, /restore, /purge; Gatehouse's own).

A deleted repo is missing to every other route (gating.policy). These resolve it through
gating.policy.resolve_deleted_repo, which finds it only for its owner, an admin of its org, or an
operator, with a write token or a session; anyone else gets the 404 of a repo that never existed.
"""

from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import edge
from core.api import SignedIn
from core.errors import BadRequest
from core.timeutil import isoformat_z
from gating.policy import Principal, deleted_repos_restorable_by, resolve_deleted_repo
from registry import services
from registry.api import schema
from registry.models import Repo, RepoType
from registry.selectors import repo_purge_due

TYPES = {None: RepoType.MODEL, "model": RepoType.MODEL, "dataset": RepoType.DATASET}


def _describe(repo: Repo) -> dict:
    assert repo.deleted_at is not None
    return {
        "id": repo.repo_id,
        "type": repo.repo_type,
        "private": repo.private,
        "deletedAt": isoformat_z(repo.deleted_at),
        "purgeAt": isoformat_z(repo_purge_due(repo=repo)),
    }


def _addressed(request) -> Repo:
    """The body names the repo: {"repo": "namespace/name", "type": "model"|"dataset"}."""
    data = edge.json_object(request)
    repo_id, repo_type = data.get("repo"), data.get("type")
    if not isinstance(repo_id, str) or not isinstance(repo_type, str | None) or repo_type not in TYPES:
        raise BadRequest('Expected {"repo": "namespace/name", "type": "model" or "dataset"}.')
    return resolve_deleted_repo(Principal.from_request(request), TYPES[repo_type], repo_id)


class DeletedReposView(APIView):
    """GET /api/repos/deleted: the deleted repos the caller may restore."""

    permission_classes = [SignedIn]

    @extend_schema(responses=schema.DeletedRepoSerializer(many=True))
    def get(self, request):
        repos = deleted_repos_restorable_by(Principal.from_request(request)).order_by("-deleted_at", "pk")[:1000]
        return Response([_describe(repo) for repo in repos])


class RepoRestoreView(APIView):
    """POST /api/repos/restore {"repo", "type"?}"""

    permission_classes = [SignedIn]

    @extend_schema(request=schema.DeletedRepoAddressSerializer, responses=schema.RepoRestoredSerializer)
    def post(self, request):
        repo = services.repo_restore(repo=_addressed(request))
        return Response({"id": repo.repo_id, "type": repo.repo_type, "restored": True})


class RepoPurgeView(APIView):
    """POST /api/repos/purge {"repo", "type"?}: delete for good now, freeing the name."""

    permission_classes = [SignedIn]

    @extend_schema(request=schema.DeletedRepoAddressSerializer, responses=schema.RepoPurgedSerializer)
    def post(self, request):
        services.repo_purge(repo=_addressed(request))
        return Response({"purged": True})


urlpatterns = [
    re_path(r"^api/repos/deleted$", DeletedReposView.as_view(), name="api-repos-deleted"),
    re_path(r"^api/repos/restore$", RepoRestoreView.as_view(), name="api-repo-restore"),
    re_path(r"^api/repos/purge$", RepoPurgeView.as_view(), name="api-repo-purge"),
]
