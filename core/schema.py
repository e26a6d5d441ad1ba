"""OpenAPI pieces shared by the routes of several apps, for the schema only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

# `create_pr`, read by gating.policy.CommitTarget for preupload, commits and Xet write tokens.
PULL_REQUEST_PARAMETERS = [OpenApiParameter("create_pr", bool, description="Open a pull request with it.")]
