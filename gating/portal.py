"""Portal pages for asking for access and reviewing requests.

`/{repo_id}/ask-access` serves the browser (session + CSRF) and scripts alike: with a bearer
token and a JSON body it answers in JSON (see README, "Asking for access from a script").
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.models import User
from core.errors import AuthenticationRequired, BadRequest, HubError, NotFound
from core.http import error_response
from gating import selectors, services
from gating.gateform import COUNTRIES, answers_from_post, gate_form
from gating.models import NotifyMode
from gating.policy import Action, can, repo_role
from gating.serializers import access_report_row, access_request_item, to_csv
from registry.markdown import render_markdown
from registry.portal import PortalRepoView
from registry.selectors import resolve_revision

QUEUE_PAGE_SIZE = 50
REPORT_COLUMNS = ["user", "fullname", "status", "email", "time", "reviewedAt", "reviewedBy", "expiresAt"]
REPORT_COLUMNS += ["rejectionReason", "fields"]


def csrf_failure(request) -> HttpResponse | None:
    """SECURITY: cookie-authenticated posts need a CSRF token; bearer-token calls carry no ambient
    credentials, so they are exempt (the view itself is csrf_exempt for that reason only)."""
    if getattr(request, "auth", None) is not None:
        return None
    return CsrfViewMiddleware(lambda _: HttpResponse()).process_view(request, None, (), {})


def days_from_now(raw: str | None):
    """An optional 'access lasts N days' input, as an expiry time."""
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError as exc:
        raise BadRequest("The access duration must be a whole number of days.") from exc
    if not 1 <= days <= 3650:
        raise BadRequest("The access duration must be between 1 and 3650 days.")
    return timezone.now() + timedelta(days=days)


class GatingPage(PortalRepoView):
    def page_context(self) -> dict:
        context = self.base_context(resolve_revision(self.repo, self.repo.default_branch))
        context["can_review"] = can(self.principal, self.repo, Action.REVIEW)
        context["can_manage"] = can(self.principal, self.repo, Action.MANAGE)
        return context


class AskAccessPage(GatingPage):
    repo_actions = {"GET": Action.VIEW, "POST": Action.VIEW}

    def wants_json(self) -> bool:
        request = self.request
        accept = request.headers.get("Accept", "")
        return (
            getattr(request, "auth", None) is not None
            or request.content_type == "application/json"
            or ("application/json" in accept and "text/html" not in accept)
        )

    def error_response(self, exc: HubError):
        return error_response(exc) if self.wants_json() else super().error_response(exc)

    def form(self):
        return gate_form(self.repo.card_data, kind=self.repo.get_repo_type_display().lower())

    def get(self, request, namespace, name, repo_type=None):
        if self.wants_json():
            state = selectors.access_state(self.repo, self.principal.user)
            form = self.form()
            return JsonResponse(
                {
                    "gated": self.repo.gated or False,
                    "status": state.state,
                    "request": access_request_item(state.request) if state.request else None,
                    "form": {
                        "heading": form.heading,
                        "prompt": form.prompt,
                        "description": form.description,
                        "fields": [
                            {
                                "label": f.label,
                                "type": f.type,
                                "required": f.required,
                                "options": [o for o, _ in f.options],
                            }
                            for f in form.fields
                        ],
                    },
                }
            )
        return self.render_page(request)

    def post(self, request, namespace, name, repo_type=None):
        failure = csrf_failure(request)
        if failure is not None:
            return failure
        if self.wants_json():
            return self.post_json(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        answers = answers_from_post(self.form(), request.POST)
        try:
            access, created = services.access_request_submit(repo=self.repo, user=request.user, answers=answers)
        except HubError as exc:
            return self.render_page(request, error=exc.message, answers=answers, status=exc.status)
        if created:
            messages.success(request, "You have access now." if access.status == "accepted" else "Request sent.")
        return redirect(f"{self.repo.web_path}/ask-access")

    def post_json(self, request):
        if not request.user.is_authenticated:
            raise AuthenticationRequired("Send a bearer token (Authorization: Bearer hf_...) to ask for access.")
        try:
            answers = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise BadRequest("The body must be a JSON object of answers keyed by field label.") from exc
        access, created = services.access_request_submit(repo=self.repo, user=request.user, answers=answers)
        return JsonResponse(access_request_item(access), status=201 if created else 200)

    def render_page(self, request, *, error: str = "", answers: dict | None = None, status: int = 200):
        context = self.page_context()
        form = self.form()
        context.update(
            {
                "form": form,
                "access": selectors.access_state(self.repo, self.principal.user),
                "has_role": repo_role(self.principal, self.repo) is not None,
                "answers": answers or {},
                "error": error,
                "countries": COUNTRIES,
                "prompt_html": render_markdown(form.prompt),
            }
        )
        return render(request, "gating/ask_access.html", context, status=status)


class AccessQueuePage(GatingPage):
    """The review queue: filters, the answers to the form, bulk decisions, grants, exports."""

    repo_actions = {"GET": Action.REVIEW, "POST": Action.REVIEW}

    def get(self, request, namespace, name, repo_type=None):
        status = request.GET.get("status", "pending")
        if status not in selectors.QUEUE_FILTERS:
            status = "pending"
        search = request.GET.get("q", "").strip()[:100]
        queryset = selectors.access_requests_for(self.repo, status, search=search)
        context = self.page_context()
        context.update(
            {
                "page": Paginator(queryset, QUEUE_PAGE_SIZE).get_page(request.GET.get("page")),
                "status": status,
                "filters": selectors.QUEUE_FILTERS,
                "search": search,
                "pending": selectors.pending_count(self.repo),
                "reviewers": selectors.reviewers_of(self.repo),
                "config": selectors.gate_config(self.repo),
                "notify_modes": NotifyMode.values,
            }
        )
        response = render(request, "gating/queue.html", context)
        response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request, namespace, name, repo_type=None):
        try:
            if request.POST.get("grant_user"):
                self._grant(request)
            else:
                self._decide(request)
        except HubError as exc:
            messages.error(request, exc.message)
        back = request.POST.get("back", "")
        return redirect(f"{self.repo.web_path}/access-requests" + (back if back.startswith("?") else ""))

    def _decide(self, request) -> None:
        ids = request.POST.getlist("request")
        if not ids:
            raise BadRequest("Select at least one request.")
        try:
            request_ids = [int(value) for value in ids]
        except ValueError as exc:
            raise BadRequest("Unknown request.") from exc
        decision = request.POST.get("decision", "")
        decided = services.access_requests_decide(
            repo=self.repo,
            actor=request.user,
            request_ids=request_ids,
            status=decision,
            reason=request.POST.get("reason", "") if decision == "rejected" else "",
            expires_at=days_from_now(request.POST.get("days")) if decision == "accepted" else None,
        )
        messages.success(request, f"{len(decided)} request(s) {decision}.")

    def _grant(self, request) -> None:
        username = request.POST["grant_user"].strip()
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise NotFound(f"User {username!r} not found.")
        services.access_grant(
            repo=self.repo, actor=request.user, user=user, expires_at=days_from_now(request.POST.get("days"))
        )
        messages.success(request, f"{user.username} has access now.")


class AccessReportExport(GatingPage):
    """The access report as JSON (the Hub's format) or CSV, for reviewers; bearer tokens work too."""

    repo_actions = {"GET": Action.REVIEW}

    def get(self, request, namespace, name, fmt, repo_type=None):
        rows = [access_report_row(row) for row in selectors.access_requests_for(self.repo, "all").iterator()]
        return export_response(rows, REPORT_COLUMNS, fmt, f"{self.repo.name}-access-report")


def export_response(rows: list[dict], columns: list[str], fmt: str, stem: str) -> HttpResponse:
    if fmt == "csv":
        response = HttpResponse(to_csv(rows, columns), content_type="text/csv; charset=utf-8")
    else:
        response = JsonResponse(rows, safe=False, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
