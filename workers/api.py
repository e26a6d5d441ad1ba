"""The preview API (native routes; error bodies {"error", "code"} as everywhere in Gatehouse).

    POST /api/models/{ns}/{name}/previews              ask for a preview (202, returns at once)
    GET  /api/models/{ns}/{name}/previews              the caller's previews of this repo
    GET  /api/models/{ns}/{name}/previews/{id}         status, progress, blocked notice, image URL
    GET  /api/models/{ns}/{name}/previews/verdicts     every safety verdict (repo admins)
    GET|PUT /api/models/{ns}/{name}/preview-settings   the authors' safety settings (repo admins)
    GET|POST /api/models/{ns}/{name}/bias-reports      published reports; admins start one
    GET  /api/models/{ns}/{name}/bias-reports/{id}     a report and its cells

Who may preview is the policy's download decision (gated weights need approval); the image
itself is served by workers.portal.PreviewImageView after the same check.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.models import User
from core import edge
from core.errors import AuthenticationRequired, BadRequest
from gating.policy import Action, Principal, can, check_may_run_inference
from gating.repo_views import RepoAPIView
from registry.selectors import resolve_revision
from workers import schema, selectors, serializers, services
from workers.access import PREVIEW_ACTION as PREVIEW
from workers.access import require_preview_files, visible_request


def _user(principal: Principal) -> User:
    if principal.user is None:
        raise AuthenticationRequired("Sign in to request previews.")
    return principal.user


class PreviewListView(RepoAPIView):
    repo_actions = {"GET": PREVIEW, "POST": PREVIEW}

    @extend_schema(operation_id="previews_list", responses=schema.PreviewSerializer(many=True))
    def get(self, request, namespace, name, repo_type=None):
        rows = selectors.history(repo=self.repo, user=_user(self.principal))
        return Response([serializers.request_json(row) for row in rows], headers={"Cache-Control": "private, no-store"})

    @extend_schema(
        operation_id="previews_create",
        request=schema.PreviewCreateSerializer,
        responses={202: schema.PreviewSerializer},
    )
    def post(self, request, namespace, name, repo_type=None):
        user = _user(self.principal)
        check_may_run_inference(self.principal)
        data = dict(edge.json_object(request))
        revision = data.pop("revision", None) or self.repo.default_branch
        if not isinstance(revision, str):
            raise BadRequest("'revision' must be a string.")
        resolved = resolve_revision(self.repo, revision)
        require_preview_files(self.access, resolved.tree_oid, resolved.commit_oid)
        preview = services.preview_request_create(repo=self.repo, user=user, resolved=resolved, data=data)
        response = Response(serializers.request_json(preview), status=202)
        response["Location"] = f"/api/models/{self.repo.repo_id}/previews/{preview.pk}"
        response["Cache-Control"] = "private, no-store"
        return response


class PreviewDetailView(RepoAPIView):
    repo_actions = {"GET": PREVIEW}

    @extend_schema(operation_id="previews_retrieve", responses=schema.PreviewSerializer)
    def get(self, request, namespace, name, preview_id, repo_type=None):
        preview = visible_request(self.access, preview_id)
        response = Response(serializers.request_json(preview))
        response["Cache-Control"] = "private, no-store"
        return response


class PreviewVerdictsView(RepoAPIView):
    repo_actions = {"GET": Action.MANAGE}

    @extend_schema(responses=schema.VerdictSerializer(many=True))
    def get(self, request, namespace, name, repo_type=None):
        rows = selectors.verdicts(repo=self.repo)
        return Response([serializers.verdict_json(row) for row in rows], headers={"Cache-Control": "private"})


def settings_json(repo) -> dict:
    row = selectors.settings_for(repo)
    return {
        "enabled": row.enabled,
        "sld_preset": row.sld_preset,
        "extra_blocked_concepts": row.extra_blocked_concepts,
        "bias_professions": row.bias_professions,
        "bias_adjectives": row.bias_adjectives,
    }


class PreviewSettingsView(RepoAPIView):
    repo_actions = {"GET": Action.MANAGE, "PUT": Action.MANAGE}

    @extend_schema(responses=schema.PreviewSettingsSerializer)
    def get(self, request, namespace, name, repo_type=None):
        return Response(settings_json(self.repo))

    @extend_schema(request=schema.PreviewSettingsSerializer, responses=schema.PreviewSettingsSerializer)
    def put(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        known = {"enabled", "sld_preset", "extra_blocked_concepts", "bias_professions", "bias_adjectives"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadRequest(f"Unknown settings: {', '.join(unknown)}.")
        for key in known - {"enabled"}:
            if key in data and not isinstance(data[key], str):
                raise BadRequest(f"'{key}' must be a string.")
        edge.json_bool(data, "enabled", default=None)
        services.preview_settings_update(repo=self.repo, **{key: data[key] for key in known if key in data})
        return Response(settings_json(self.repo))


class BiasReportListView(RepoAPIView):
    repo_actions = {"GET": Action.VIEW, "POST": Action.MANAGE}

    @extend_schema(operation_id="bias_reports_list", responses=schema.BiasReportSerializer(many=True))
    def get(self, request, namespace, name, repo_type=None):
        is_admin = can(self.access, Action.MANAGE)
        rows = selectors.reports(repo=self.repo, is_admin=is_admin)[:50]
        return Response([serializers.report_json(row, with_cells=False) for row in rows])

    @extend_schema(request=schema.BiasReportCreateSerializer, responses={202: schema.BiasReportSerializer})
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        for key in ("seeds", "num_inference_steps", "side"):
            if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)):
                raise BadRequest(f"'{key}' must be an integer.")
        for key in ("professions", "adjectives"):
            if key in data and not isinstance(data[key], str):
                raise BadRequest(f"'{key}' must be a comma-separated string.")
        if "revision" in data and not isinstance(data["revision"], str):
            raise BadRequest("'revision' must be a branch, tag or commit id.")
        resolved = resolve_revision(self.repo, data.get("revision") or self.repo.default_branch)
        report = services.bias_report_create(
            repo=self.repo,
            user=_user(self.principal),
            resolved=resolved,
            professions=data.get("professions"),
            adjectives=data.get("adjectives"),
            seeds=data.get("seeds", 4),
            steps=data.get("num_inference_steps"),
            side=data.get("side"),
        )
        return Response(serializers.report_json(report, with_cells=True), status=202)


class BiasReportDetailView(RepoAPIView):
    repo_actions = {"GET": Action.VIEW}

    @extend_schema(operation_id="bias_reports_retrieve", responses=schema.BiasReportSerializer)
    def get(self, request, namespace, name, report_id, repo_type=None):
        is_admin = can(self.access, Action.MANAGE)
        report = selectors.report_for(repo=self.repo, report_id=report_id, is_admin=is_admin)
        return Response(serializers.report_json(report, with_cells=True))
