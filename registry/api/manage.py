"""Repo settings (visibility, gating mode)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core import edge
from gating.policy import Action
from gating.repo_views import RepoAPIView
from registry import services
from registry.api import schema
from registry.storage.usage import repo_storage_usage


class RepoSettingsView(RepoAPIView):
    """PUT /api/{type}s/{ns}/{name}/settings with {"gated"?: false|"auto"|"manual",
    "visibility"?: "public"|"private"} (or the legacy {"private": bool}). GET (a Gatehouse
    extension, for settings pages) answers the settings and the storage the repo uses."""

    repo_actions = {"GET": Action.MANAGE, "PUT": Action.MANAGE}

    @extend_schema(responses=schema.RepoSettingsStateSerializer)
    def get(self, request, namespace, name, repo_type=None):
        repo = self.repo
        storage = repo_storage_usage(repo).as_json()
        return Response({"private": repo.private, "gated": repo.gated or False, "storage": storage})

    @extend_schema(request=schema.RepoSettingsSerializer, responses=schema.RepoSettingsResultSerializer)
    def put(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        repo = services.repo_settings_update(
            repo=self.repo, private=edge.json_private(data, default=None), gated=data.get("gated"), actor=request.user
        )
        return Response({"private": repo.private, "gated": repo.gated or False})
