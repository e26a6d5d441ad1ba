"""Portal pages of the community tab: the thread list with filters, a thread, the forms to open
a discussion or a pull request, moderation actions, and a pull request's diff.

Pages use the same policy gate as the API (PortalRepoView) and the same checks in
community.permissions; errors from a form action come back as a message on the page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from community import permissions, selectors, services
from core import bodies
from core.errors import AuthenticationRequired, BadRequest, HubError
from gating.policy import Action, CommitTarget, check_push
from gating.repo_views import PortalRepoView
from registry import limits
from registry import services as registry_services
from registry.selectors import gitattributes_at, resolve_revision

MAX_PR_FILES = 100


class CommunityView(PortalRepoView):
    def error_response(self, exc: HubError):
        if isinstance(exc, AuthenticationRequired):
            return redirect_to_login(self.request.get_full_path())
        return super().error_response(exc)

    def context(self, **extra) -> dict:
        context = self.base_context(resolve_revision_or_none(self.repo))
        context.update(
            {
                "tab": "community",
                "is_moderator": permissions.is_moderator(self.access),
                "discussions_enabled": permissions.discussions_enabled(self.repo),
                "community_url": f"{self.repo.web_path}/discussions",
            }
        )
        context.update(extra)
        return context


def resolve_revision_or_none(repo):
    """The default branch for the header's links; an empty repo has none yet."""
    try:
        return resolve_revision(repo, repo.default_branch)
    except HubError:
        return None


class CommunityPage(CommunityView):
    """GET: the thread list (?status=, ?type=, ?author=, ?page=). POST: watch, the settings
    switch, resolving reports."""

    repo_actions = {"GET": Action.READ_DISCUSSIONS, "POST": Action.PARTICIPATE}

    def get(self, request, namespace, name, repo_type=None):
        status = request.GET.get("status") if request.GET.get("status") in selectors.STATUS_FILTERS else "open"
        kind = request.GET.get("type") if request.GET.get("type") in selectors.TYPE_FILTERS else "all"
        author = request.GET.get("author", "").strip()[:96]
        queryset = selectors.discussions_for_repo(self.repo, status=status, kind=kind, author=author or None)
        page = Paginator(queryset, settings.GATEHOUSE_DISCUSSIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        filters = {"status": status, "type": kind, "author": author}
        context = self.context(
            page=page,
            filters=filters,
            query=urlencode({k: v for k, v in filters.items() if v}),
            watching=selectors.is_watching(request.user, self.repo),
        )
        if context["is_moderator"]:
            context["reports"] = selectors.open_reports(self.repo)[:50]
        return render(request, "community/list.html", context)

    def post(self, request, namespace, name, repo_type=None):
        action = request.POST.get("action")
        with self.flashing_errors():
            if action in ("watch", "unwatch"):
                services.watch_set(user=request.user, repo=self.repo, watching=action == "watch")
            elif action in ("disable", "enable"):
                permissions.require_moderator(self.access)
                services.community_settings_update(repo=self.repo, discussions_disabled=action == "disable")
            elif action == "resolve-report":
                permissions.require_moderator(self.access)
                report = selectors.open_reports(self.repo).filter(pk=request.POST.get("report")).first()
                if report is not None:
                    services.report_resolve(report=report, moderator=request.user)
            else:
                raise BadRequest("Unknown action.")
        return redirect(f"{self.repo.web_path}/discussions")


class NewThreadPage(CommunityView):
    """A new discussion, or a new pull request with files to upload (a draft without files)."""

    repo_actions = {"GET": Action.PARTICIPATE, "POST": Action.PARTICIPATE}
    body_policy = bodies.PORTAL_UPLOAD

    def get(self, request, namespace, name, repo_type=None):
        permissions.require_post(self.access)
        kind = "pull_request" if request.GET.get("type") == "pull_request" else "discussion"
        return render(request, "community/new.html", self.context(kind=kind, form={}))

    def post(self, request, namespace, name, repo_type=None):
        kind = "pull_request" if request.POST.get("type") == "pull_request" else "discussion"
        form = {key: request.POST.get(key, "") for key in ("title", "description", "directory", "summary")}
        texts = {"title": form["title"], "description": form["description"]}
        try:
            permissions.require_post(self.access)
            if kind == "pull_request":
                discussion = self._open_pull_request(request, **texts)
            else:
                discussion = services.discussion_create(repo=self.repo, author=request.user, **texts)
        except HubError as exc:
            messages.error(request, exc.message)
            return render(request, "community/new.html", self.context(kind=kind, form=form), status=exc.status)
        return redirect(f"{self.repo.web_path}/discussions/{discussion.num}")

    def _open_pull_request(self, request, *, title: str, description: str):
        files = limits.uploaded_files(request)
        if len(files) > MAX_PR_FILES:
            raise BadRequest(f"Choose at most {MAX_PR_FILES} files.")
        directory = request.POST.get("directory", "").strip().strip("/")
        staged = [("/".join(part for part in (directory, upload.name) if part), upload) for upload in files]
        # Limits and paths are checked before any byte is charged, stored or the pull request is opened.
        limits.check_uploads(staged)
        # A pull request opened against the default branch: the push rule that the API's would meet.
        is_writer = check_push(self.access, CommitTarget(branch=None, ref_name=None, create_pr=True)).is_writer
        if files and not is_writer:
            # SECURITY: the same daily quota as a contributor's API and Xet uploads.
            limits.charge_contributor(user=request.user, amount=sum(upload.size or 0 for upload in files))
        operations = registry_services.blob_stage_uploads(
            repo=self.repo,
            files=staged,
            gitattributes=gitattributes_at(self.repo, self.repo.default_branch),
            proof_from=None if is_writer else request.user,
        )
        return services.pull_request_open_with_files(
            repo=self.repo,
            author=request.user,
            title=title,
            description=description,
            operations=operations,
            summary=request.POST.get("summary") or f"Upload {len(operations)} file(s)",
        )
