"""History and storage housekeeping: super-squash, the LFS files of a repo and their deletion."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from core import edge
from core.errors import BadRequest
from core.pagination import next_page_link, page_bounds
from core.timeutil import isoformat_z
from gating.policy import Action
from gating.repo_views import RepoAPIView
from registry import services
from registry.api import schema
from registry.services.housekeeping import squashable_ref_name, validate_sha256_list
from registry.storage.usage import repo_lfs_files


class SuperSquashView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/super-squash/{branch} {"message"}: the branch (or refs/pr/N)
    becomes one root commit with its head's files. Writers only, as for any push to a branch."""

    repo_actions = {"POST": Action.WRITE}

    @extend_schema(request=schema.SuperSquashSerializer, responses=schema.SuperSquashResultSerializer)
    def post(self, request, namespace, name, branch, repo_type=None):
        data = edge.json_object(request)
        message = data.get("message") or f"Super-squash branch '{branch}'"
        if not isinstance(message, str):
            raise BadRequest("'message' must be a string.")
        ref_name = squashable_ref_name(self.repo, branch)
        commit = services.history_squash(repo=self.repo, ref_name=ref_name, message=message, author=request.user)
        return Response({"commitOid": commit.oid})


class LfsFilesView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}/lfs-files: the LFS content the repo's history names. Repo
    admins only (it lists what every revision holds, and is the first step of deleting)."""

    repo_actions = {"GET": Action.MANAGE}

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("cursor", str)],
        responses=schema.LfsFileSerializer(many=True),
    )
    def get(self, request, namespace, name, repo_type=None):
        size = settings.GATEHOUSE_LIST_PAGE_SIZE
        offset, size = page_bounds(request, default_size=size, max_size=size)
        files = repo_lfs_files(self.repo)
        response = Response(
            [
                {
                    "fileOid": item.content.sha256,
                    "oid": item.content.sha256,
                    "filename": item.content.path,
                    "pushedAt": isoformat_z(item.pushed_at),
                    "ref": item.ref,
                    "size": item.content.size,
                }
                for item in files[offset : offset + size]
            ]
        )
        if len(files) > offset + size:  # paginated by Link, which the client follows
            response["Link"] = next_page_link(request, offset + size)
        return response


class LfsFilesBatchView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/lfs-files/batch {"deletions": {"sha": [...], "rewriteHistory"}}"""

    repo_actions = {"POST": Action.MANAGE}

    @extend_schema(request=schema.LfsDeleteSerializer, responses=schema.LfsDeletedSerializer)
    def post(self, request, namespace, name, repo_type=None):
        deletions = edge.json_object(request).get("deletions")
        if not isinstance(deletions, dict):
            raise BadRequest("Expected {'deletions': {'sha': [...], 'rewriteHistory': bool}}.")
        sha256s = validate_sha256_list(deletions.get("sha"))
        deleted = services.lfs_files_delete(repo=self.repo, sha256s=sha256s, actor=request.user)
        return Response({"deleted": deleted})
