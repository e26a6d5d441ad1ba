"""The operators' queue of reports across every repo (`/admin/reports`).

A report is private to the repo's moderators (community.services.report_create); operators see
every open one here, oldest last, and act on it: resolve it, hide the reported comment, or go
to take the repo down (gating.operators). To anyone but an operator the page is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views import View

from community import selectors, services
from core.edge import form_int
from core.errors import BadRequest, HubError, NotFound
from core.views import render_error
from gating.policy import Principal, is_operator


class ReportQueuePage(LoginRequiredMixin, View):
    """GET: the open reports across repos (?page=). POST: act on one (`report`, `action`)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not is_operator(Principal.from_request(request)):
            return render_error(request, NotFound("Page not found"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        reports = selectors.open_reports_across_repos()
        page = Paginator(reports, settings.GATEHOUSE_PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
        response = render(request, "community/operator_reports.html", {"page": page, "total": page.paginator.count})
        response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request):
        action = request.POST.get("action")
        try:
            report_id = form_int(request.POST, "report", default=0)
            report = selectors.open_reports_across_repos().filter(pk=report_id).first()
            if report is None:
                raise BadRequest("That report is resolved already, or does not exist.")
            if action == "hide":
                services.report_resolve(report=report, moderator=request.user, hide_comment=True)
                messages.success(request, "Comment hidden; report resolved.")
            elif action == "resolve":
                services.report_resolve(report=report, moderator=request.user)
                messages.success(request, "Report resolved.")
            else:
                raise BadRequest("Unknown action.")
        except HubError as exc:
            messages.error(request, exc.message)
        return redirect("operators:reports")
