"""Portal pages for previews: the repo-page widget, history, a preview's page, image bytes,
the authors' safety settings, and bias reports.

Every page works without JavaScript (forms post here; a pending preview's page refreshes itself);
static/gatehouse/previews.js adds in-place submission and progress polling (CSP forbids inline
scripts). SECURITY: image bytes are served only from here, after the policy check of the base
class, to the requester or the repo's admins, never as a link into storage.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string

from core import edge
from core.errors import BadRequest, HubError
from gating.policy import Action, RepoAccess, can, check_may_run_inference
from gating.repo_views import PortalRepoView
from registry.selectors import Resolved, resolve_revision
from workers import conf, selectors, serializers, services
from workers.access import PREVIEW_ACTION as PREVIEW
from workers.access import require_preview_files, visible_request
from workers.loading import is_diffusers_tree
from workers.media import preview_store
from workers.models import JobStatus, SafetyPreset


def preview_sidebar_panel(request, access: RepoAccess, resolved: Resolved) -> str:
    """The preview widget for the repo page (registered in registry.hooks), or '' when the repo
    is not a diffusers pipeline at all."""
    repo = access.repo
    if repo.repo_type != "model" or not is_diffusers_tree(resolved.tree_oid):
        return ""
    context = {"repo": repo, "reason": "", "can_preview": False, "is_admin": can(access, Action.MANAGE)}
    if access.principal.user is None:
        context["reason"] = "Sign in to try this model."
    elif not can(access, PREVIEW):
        context["reason"] = "Previews of this model are for approved users: request access first."
    else:
        try:
            selectors.check_previewable(repo, resolved)
            require_preview_files(access, resolved.tree_oid, resolved.commit_oid)
            context["can_preview"] = True
        except HubError as exc:
            context["reason"] = exc.message
    return render_to_string("workers/_preview_widget.html", context, request=request)


def _image_response(sha256: str, *, public: bool) -> FileResponse:
    response = FileResponse(preview_store().open(sha256), content_type="image/png")
    # SECURITY: anything not public must not land in shared caches.
    response["Cache-Control"] = "public, max-age=300" if public else "private, max-age=3600"
    response["ETag"] = f'"{sha256}"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Vary"] = "Authorization, Cookie"
    return response


def _is_public(repo) -> bool:
    return not repo.private and not repo.gated and not repo.disabled


class PreviewHistoryPage(PortalRepoView):
    """GET: the caller's previews of this repo. POST: the widget's form, without JavaScript."""

    repo_actions = {"GET": PREVIEW, "POST": PREVIEW}

    def get(self, request, namespace, name, repo_type=None):
        context = self.page_context("previews", history=selectors.history(repo=self.repo, user=self.principal.user))
        return render(request, "workers/history.html", context)

    def post(self, request, namespace, name, repo_type=None):
        if self.principal.user is None:
            return HttpResponseRedirect(f"/login?next={self.repo.web_path}")
        check_may_run_inference(self.principal)
        data = {"prompt": request.POST.get("prompt", ""), "negative_prompt": request.POST.get("negative_prompt", "")}
        for field in ("seed", "num_inference_steps", "width", "height"):
            value = request.POST.get(field, "").strip()
            if value:
                data[field] = int(value) if value.isdigit() else value
        if request.POST.get("guidance_scale", "").strip():
            try:
                data["guidance_scale"] = float(request.POST["guidance_scale"])
            except ValueError:
                data["guidance_scale"] = request.POST["guidance_scale"]
        resolved = resolve_revision(self.repo, self.repo.default_branch)
        require_preview_files(self.access, resolved.tree_oid, resolved.commit_oid)
        with self.flashing_errors() as outcome:
            preview = services.preview_request_create(
                repo=self.repo, user=self.principal.user, resolved=resolved, data=data
            )
        if outcome.failed:
            return HttpResponseRedirect(self.repo.web_path)
        return HttpResponseRedirect(f"{self.repo.web_path}/previews/{preview.pk}")


class PreviewDetailPage(PortalRepoView):
    repo_actions = {"GET": PREVIEW}

    def get(self, request, namespace, name, preview_id, repo_type=None):
        preview = visible_request(self.access, preview_id)
        context = self.page_context("previews", preview=preview, data=serializers.request_json(preview))
        response = render(request, "workers/detail.html", context)
        response["Cache-Control"] = "private, no-store"
        return response


class PreviewImageView(PortalRepoView):
    repo_actions = {"GET": PREVIEW, "HEAD": PREVIEW}

    def get(self, request, namespace, name, preview_id, repo_type=None):
        preview = visible_request(self.access, preview_id)
        if preview.job.status != JobStatus.SUCCEEDED:
            raise selectors.PreviewNotFound("This preview has no image.")
        # Previews belong to one user: never cacheable by shared caches.
        return _image_response(preview.job.result_sha256, public=False)


class PreviewSettingsPage(PortalRepoView):
    """The authors' safety settings, the verdict log, and the button that starts a bias report."""

    repo_actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        context = self.page_context(
            "previews",
            settings=selectors.settings_for(self.repo),
            presets=SafetyPreset.values,
            operator_minimum=settings.GATEHOUSE_PREVIEW_SLD_MINIMUM,
            operator_concepts=conf.operator_concepts(),
            verdicts=selectors.verdicts(repo=self.repo, limit=100),
        )
        return render(request, "workers/settings.html", context)

    def post(self, request, namespace, name, repo_type=None):
        with self.flashing_errors():
            services.preview_settings_update(
                repo=self.repo,
                enabled=request.POST.get("enabled") == "on",
                sld_preset=request.POST.get("sld_preset"),
                extra_blocked_concepts=request.POST.get("extra_blocked_concepts", ""),
                bias_professions=request.POST.get("bias_professions", ""),
                bias_adjectives=request.POST.get("bias_adjectives", ""),
            )
            messages.success(request, "Preview settings saved.")
        return HttpResponseRedirect(f"{self.repo.web_path}/previews/settings")


class BiasReportListPage(PortalRepoView):
    """GET: the reports (published ones; admins see all). POST (admins): start a new report."""

    repo_actions = {"GET": Action.VIEW, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        is_admin = can(self.access, Action.MANAGE)
        context = self.page_context(
            "bias", reports=selectors.reports(repo=self.repo, is_admin=is_admin)[:20], is_admin=is_admin
        )
        return render(request, "workers/bias_list.html", context)

    def post(self, request, namespace, name, repo_type=None):
        if self.principal.user is None:  # MANAGE has refused anonymous callers already
            return HttpResponseRedirect(f"/login?next={self.repo.web_path}")
        with self.flashing_errors() as outcome:
            seeds = edge.form_int(request.POST, "seeds", default=4)
            resolved = resolve_revision(self.repo, self.repo.default_branch)
            report = services.bias_report_create(
                repo=self.repo, user=self.principal.user, resolved=resolved, seeds=seeds
            )
        if outcome.failed:
            return HttpResponseRedirect(f"{self.repo.web_path}/bias-reports")
        return HttpResponseRedirect(f"{self.repo.web_path}/bias-reports/{report.pk}")


class BiasReportPage(PortalRepoView):
    repo_actions = {"GET": Action.VIEW, "POST": Action.MANAGE}

    def get(self, request, namespace, name, report_id, repo_type=None):
        is_admin = can(self.access, Action.MANAGE)
        report = selectors.report_for(repo=self.repo, report_id=report_id, is_admin=is_admin)
        context = self.page_context("bias", report=report, grid=selectors.report_grid(report), is_admin=is_admin)
        response = render(request, "workers/bias_report.html", context)
        if not (_is_public(self.repo) and report.published):
            response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request, namespace, name, report_id, repo_type=None):
        report = selectors.report_for(repo=self.repo, report_id=report_id, is_admin=True)
        action = request.POST.get("action")
        if action not in ("publish", "unpublish"):
            raise BadRequest("Unknown action.")
        services.bias_report_publish(report=report, published=action == "publish")
        return HttpResponseRedirect(f"{self.repo.web_path}/bias-reports/{report.pk}")


class BiasImageView(PortalRepoView):
    repo_actions = {"GET": Action.VIEW, "HEAD": Action.VIEW}

    def get(self, request, namespace, name, report_id, cell_id, repo_type=None):
        is_admin = can(self.access, Action.MANAGE)
        report = selectors.report_for(repo=self.repo, report_id=report_id, is_admin=is_admin)
        cell = report.cells.select_related("job").filter(pk=cell_id if str(cell_id).isdigit() else -1).first()
        if cell is None or cell.job.status != JobStatus.SUCCEEDED:
            raise selectors.PreviewNotFound("No such image.")
        return _image_response(cell.job.result_sha256, public=_is_public(self.repo) and report.published)
