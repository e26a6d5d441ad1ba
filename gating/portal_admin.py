"""Portal pages for the repo's admins: review settings, the release plan, the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from accounts.models import User
from core.errors import BadRequest, HubError, NotFound
from gating import selectors, services
from gating.models import StageMode
from gating.policy import Action
from gating.portal import GatingPage, export_response
from gating.serializers import audit_row

PLAN_ROWS = 6
AUDIT_PAGE_SIZE = 100
AUDIT_COLUMNS = ["id", "time", "action", "actor", "repo", "subject", "reason", "data"]


class AccessSettingsAction(GatingPage):
    """POST only: delegated reviewers, notifications and the gating mode."""

    repo_actions = {"POST": Action.MANAGE}

    def post(self, request, namespace, name, repo_type=None):
        operation = request.POST.get("op", "")
        try:
            if operation in ("add_reviewer", "remove_reviewer"):
                user = self._user(request.POST.get("username", ""))
                change = services.reviewer_add if operation == "add_reviewer" else services.reviewer_remove
                change(repo=self.repo, actor=request.user, user=user)
            elif operation == "notifications":
                services.gate_config_update(
                    repo=self.repo,
                    actor=request.user,
                    notify_mode=request.POST.get("notify_mode", ""),
                    notify_email=request.POST.get("notify_email", ""),
                )
            elif operation == "mode":
                gated = request.POST.get("gated", "")
                services.gate_mode_set(repo=self.repo, actor=request.user, gated=gated or False)
            else:
                raise BadRequest("Unknown settings change.")
            messages.success(request, "Settings saved.")
        except HubError as exc:
            messages.error(request, exc.message)
        return redirect(f"{self.repo.web_path}/access-requests")

    @staticmethod
    def _user(username: str) -> User:
        user = User.objects.filter(username__iexact=username.strip(), is_active=True).first()
        if user is None:
            raise NotFound(f"User {username.strip()!r} not found.")
        return user


def _parse_local(raw: str) -> datetime | None:
    """`datetime-local` inputs, read as UTC (the page says so)."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadRequest(f"Not a date and time: {raw[:40]!r}.") from exc


def stage_specs_from_post(post) -> list[services.StageSpec]:
    specs = []
    for index in range(PLAN_ROWS):
        mode = post.get(f"mode_{index}", "")
        if not mode:
            continue
        patterns = [part.strip() for part in post.get(f"withheld_{index}", "").replace(",", "\n").splitlines()]
        specs.append(
            services.StageSpec(
                mode=mode,
                scheduled_at=_parse_local(post.get(f"when_{index}", "")),
                withheld_patterns=[pattern for pattern in patterns if pattern],
                note=post.get(f"note_{index}", "").strip(),
            )
        )
    return specs


class ReleasePlanPage(GatingPage):
    repo_actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        plan = selectors.release_plan_of(self.repo)
        stages = list(plan.stages.all()) if plan else []
        upcoming = [stage for stage in stages if plan and stage.position > plan.position]
        context = self.page_context()
        context.update(
            {
                "plan": plan,
                "stages": stages,
                "rows": upcoming + [None] * max(PLAN_ROWS - len(upcoming), 0),
                "modes": StageMode.values,
            }
        )
        return render(request, "gating/release.html", context)

    def post(self, request, namespace, name, repo_type=None):
        operation = request.POST.get("op", "")
        try:
            if operation == "save":
                specs = stage_specs_from_post(request.POST)
                services.release_plan_set(repo=self.repo, actor=request.user, stages=specs)
            else:
                services.release_operate(repo=self.repo, actor=request.user, operation=operation)
            messages.success(request, "Release plan updated.")
        except HubError as exc:
            messages.error(request, exc.message)
        return redirect(f"{self.repo.web_path}/release")


class AuditPage(GatingPage):
    repo_actions = {"GET": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        context = self.page_context()
        context["page"] = Paginator(selectors.audit_events_for(self.repo), AUDIT_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        response = render(request, "gating/audit.html", context)
        response["Cache-Control"] = "private, no-store"
        return response


class AuditExport(GatingPage):
    repo_actions = {"GET": Action.MANAGE}

    def get(self, request, namespace, name, fmt, repo_type=None):
        rows = [audit_row(event) for event in selectors.audit_events_for(self.repo).iterator()]
        return export_response(rows, AUDIT_COLUMNS, fmt, f"{self.repo.name}-audit")
