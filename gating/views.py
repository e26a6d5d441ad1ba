"""Portal pages and the ask-access endpoint.

/{repo}/ask-access             GET: the request form; POST: a browser form (session + CSRF) or a
                               JSON object of answers with a bearer token (for scripts and CLIs)
/{repo}/access-requests        reviewers: queue with filters and bulk decisions; exports
/{repo}/gating                 admins: reviewers, notifications, release plan
/{repo}/audit                  admins: the audit trail, exportable
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from core import edge, jsontext
from core.errors import BadRequest, HubError
from core.http import as_export, csv_response, csv_stream_response, error_response, json_stream_response
from core.pagination import slice_page
from core.timeutil import isoformat_z
from gating import release, services
from gating.access_form import form_for_repo
from gating.models import AccessRequest, ReleasePlan, RequestStatus
from gating.policy import Action, access_state, check_may_ask_access, may_read_license_text
from gating.repo_views import PortalRepoView
from gating.selectors import audit_for, audit_item, gating_config, request_item, requests_for
from licenses.models import AcknowledgmentSource
from licenses.selectors import has_acknowledged, license_at, shown_to
from licenses.services import acknowledgment_record
from registry.selectors import resolve_revision
from registry.services import repo_settings_update
from registry.storage.usage import repo_storage_usage

MAX_ANSWERS_BYTES = 64 * 1024


def _wants_json(request) -> bool:
    return bool(getattr(request, "auth", None)) or request.content_type == "application/json"


def _no_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("CsrfViewMiddleware.process_view only checks the token; it calls no view.")


def _csrf_failure(request: HttpRequest) -> HttpResponseBase | None:
    """SECURITY: the endpoint is csrf_exempt only so that bearer-token scripts can post; browser
    (session) posts are still checked exactly as the middleware would."""
    return CsrfViewMiddleware(_no_view).process_view(request, _no_view, (), {})


class AskAccessView(PortalRepoView):
    repo_actions = {"GET": Action.VIEW, "POST": Action.VIEW}

    @classmethod
    def as_view(cls, **initkwargs):
        # Bearer-token scripts post here; session posts are checked in post().
        return csrf_exempt(super().as_view(**initkwargs))

    def error_response(self, exc: HubError):
        return error_response(exc) if _wants_json(self.request) else super().error_response(exc)

    def get(self, request, namespace, name, repo_type=None):
        if not request.user.is_authenticated:
            return redirect(f"/login?next={request.path}")
        return self._render(request)

    def _render(self, request, *, answers=None, error="", status=200):
        state, access = access_state(request.user, self.repo)
        context = self.page_context(
            "card",
            form=form_for_repo(self.repo),
            state=state,
            access=access,
            is_member=self.access.role is not None,
            answers=answers or {},
            error=error,
            license=self._license_shown(request.user),
        )
        return render(request, "gating/ask_access.html", context, status=status)

    def _license_to_accept(self, user):
        """The default branch's license when it asks for acknowledgment and `user` has not given it."""
        current = license_at(
            self.repo, resolve_revision(self.repo, self.repo.default_branch), opt_in=self.access.acknowledgment_opt_in
        )
        return current if current.requires_acknowledgment and not has_acknowledged(user, self.repo, current) else None

    def _license_shown(self, user):
        current = self._license_to_accept(user)
        if current is None:
            return None
        return shown_to(current, may_read=may_read_license_text(self.access, current))

    def _accept_license(self, request) -> None:
        """Browser form: the license is accepted as part of the request (scripts use the license API)."""
        if _wants_json(request) or self._license_to_accept(request.user) is None:
            return
        if request.POST.get("accept_license") != "on":
            raise BadRequest("Read and accept the license to request access.")
        acknowledgment_record(
            user=request.user,
            repo=self.repo,
            version=request.POST.get("license_version", ""),
            source=AcknowledgmentSource.ACCESS_REQUEST,
        )

    def post(self, request, namespace, name, repo_type=None):
        if not request.user.is_authenticated:
            if _wants_json(request):
                return error_response(HubError("Log in or send a bearer token to ask for access.", status=401))
            return redirect(f"/login?next={request.path}")
        if request.auth is None and (failure := _csrf_failure(request)) is not None:
            return failure
        try:
            check_may_ask_access(self.access)
            answers = self._answers(request)
            with transaction.atomic():  # a refused request records no acknowledgment either
                self._accept_license(request)
                created = services.access_request_create(
                    repo=self.repo,
                    user=request.user,
                    answers=answers,
                    has_role=self.access.role is not None,
                )
        except HubError as exc:
            if _wants_json(request):
                return error_response(exc)
            return self._render(request, answers=request.POST, error=exc.message, status=exc.status)
        if _wants_json(request):
            return JsonResponse(request_item(created), status=201)
        return redirect(request.path)

    def _answers(self, request) -> dict:
        if request.content_type == "application/json":
            if len(request.body) > MAX_ANSWERS_BYTES:
                raise BadRequest("The answers are too large.")
            return jsontext.loads(
                request.body or b"{}", error="Send the answers as a JSON object keyed by field label."
            )
        form = form_for_repo(self.repo)
        answers = {}
        for index, spec in enumerate(form.fields):
            key = f"field_{index}"
            if spec.type == "checkbox":
                answers[spec.label] = key in request.POST
            elif request.POST.get(key, "") != "":
                answers[spec.label] = request.POST[key]
        return answers


class AccessQueueView(PortalRepoView):
    repo_actions = {"GET": Action.REVIEW_READ, "POST": Action.REVIEW}

    def get(self, request, namespace, name, repo_type=None):
        status = request.GET.get("status", RequestStatus.PENDING)
        search = request.GET.get("q", "").strip()
        export = request.GET.get("export")
        rows = requests_for(self.repo, status=status if status in RequestStatus.values else None, search=search)
        if export == "json":
            items = (request_item(row) for row in _in_slices(rows))
            return json_stream_response(f"{self.repo.name}-access.json", items)
        if export == "csv":
            labels = [spec.label for spec in form_for_repo(self.repo).fields]
            return csv_stream_response(f"{self.repo.name}-access.csv", _request_rows(rows, labels))
        page = slice_page(rows, request.GET.get("page"), size=settings.GATEHOUSE_PORTAL_PAGE_SIZE)
        context = self.page_context(
            "access",
            rows=page.object_list,
            page=page,
            query=urlencode({"status": status, "q": search}),
            status=status,
            q=search,
            statuses=RequestStatus.values,
            form=form_for_repo(self.repo),
        )
        return render(request, "gating/queue.html", context)

    def post(self, request, namespace, name, repo_type=None):
        action = request.POST.get("action")
        ids = request.POST.getlist("request")
        reason = request.POST.get("reason", "")
        days = request.POST.get("days", "")
        expires = timezone.now() + timedelta(days=int(days)) if days.isdigit() and int(days) > 0 else None
        done = 0
        for request_id in ids:
            try:
                if action == "reset":
                    row = AccessRequest.objects.filter(repo=self.repo, pk=int(request_id, 16)).first()
                    if row is not None:
                        services.access_request_reset(
                            repo=self.repo, reviewer=request.user, user_name=row.user.username
                        )
                else:
                    services.access_request_decide(
                        repo=self.repo,
                        reviewer=request.user,
                        status=action,
                        request_id=request_id,
                        reason=reason if action == RequestStatus.REJECTED else "",
                        expires_at=expires if action == RequestStatus.ACCEPTED else None,
                    )
                done += 1
            except (HubError, ValueError) as exc:
                messages.error(request, getattr(exc, "message", str(exc)))
        if done:
            messages.success(request, f"{done} request(s) updated.")
        return redirect(f"{self.repo.web_path}/access-requests?status={request.POST.get('back', 'pending')}")


# Exports read the queue in slices of this many rows, one query each.
EXPORT_ROWS_PER_QUERY = 2000


def _in_slices(rows):
    """The queue newest first, `size` rows a query, each slice starting below the last one's
    (created_at, pk): a short range read along the queue's index per slice. A server-side cursor
    (WITH HOLD outside a transaction, as a streamed response is) made PostgreSQL read the whole
    queue before the first row, about 0.8 s on 200,000 requests; no transaction is held open
    while a slow client downloads, either."""
    rows, size, after = rows.order_by("-created_at", "-pk"), EXPORT_ROWS_PER_QUERY, None
    while True:
        page = (
            rows if after is None else rows.filter(Q(created_at__lt=after[0]) | Q(created_at=after[0], pk__lt=after[1]))
        )
        batch = list(page[:size])
        yield from batch
        if len(batch) < size:
            return
        after = (batch[-1].created_at, batch[-1].pk)


def _request_rows(rows, labels: list[str]):
    """The header names the access form's labels (the repo's current form), then `otherAnswers`:
    the answers to labels the form no longer asks, as a JSON object (empty when none). Every
    column is known before any row is read, so the first rows go out at once; listing every label
    ever answered took a query over the whole queue (about a second on 200,000 requests) first."""
    asked = set(labels)
    yield [
        *("user", "fullname", "email", "status", "time", "reviewedAt", "expiresAt", "rejectionReason"),
        *labels,
        "otherAnswers",
    ]
    for row in _in_slices(rows):
        other = {label: value for label, value in row.fields.items() if label not in asked}
        yield [
            row.user.username,
            row.user.fullname,
            row.shared_email or "",
            row.status,
            isoformat_z(row.created_at),
            isoformat_z(row.decided_at) or "",
            isoformat_z(row.expires_at) or "",
            row.rejection_reason,
            *[row.fields.get(label, "") for label in labels],
            json.dumps(other, ensure_ascii=False, sort_keys=True) if other else "",
        ]


class GatingSettingsView(PortalRepoView):
    """Visibility and gating mode, reviewers, notifications and the release plan."""

    repo_actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        plan = ReleasePlan.objects.filter(repo=self.repo).first()
        context = self.page_context(
            "gating",
            config=gating_config(self.repo),
            reviewers=self.repo.reviewers.select_related("user"),
            plan=plan,
            stages=list(plan.stages.all()) if plan else [],
            modes=release.StageMode.choices,
            storage=repo_storage_usage(self.repo),
        )
        return render(request, "gating/settings.html", context)

    def post(self, request, namespace, name, repo_type=None):
        with self.flashing_errors():
            self._handle(request, request.POST.get("action", ""))
            messages.success(request, "Saved.")
        return redirect(f"{self.repo.web_path}/gating")

    def _handle(self, request, action: str) -> None:
        actor = request.user
        if action in ("add-reviewer", "remove-reviewer"):
            user = User.objects.filter(username=request.POST.get("username", "")).first()
            if user is None:
                raise BadRequest("No such user.")
            if action == "add-reviewer":
                services.reviewer_add(repo=self.repo, actor=actor, user=user)
            else:
                services.reviewer_remove(repo=self.repo, actor=actor, user=user)
        elif action == "notifications":
            services.gating_config_update(
                repo=self.repo,
                actor=actor,
                notify_mode=request.POST.get("notify_mode", ""),
                notify_email=request.POST.get("notify_email", ""),
                auto_grant_days=edge.form_int(request.POST, "auto_grant_days", default=0),
            )
        elif action == "access":
            # The Hub's own settings: visibility and gating mode, without a release plan.
            visibility = request.POST.get("visibility")
            if visibility not in ("public", "private"):
                raise BadRequest("Choose the visibility: public or private.")
            repo_settings_update(
                repo=self.repo, actor=actor, private=visibility == "private", gated=request.POST.get("gated") or False
            )
        elif action == "plan":
            release.release_plan_set(repo=self.repo, actor=actor, stages=_stages_from_form(request.POST))
        elif action == "advance":
            release.release_advance(repo=self.repo, actor=actor)
        elif action == "rollback":
            release.release_rollback(repo=self.repo, actor=actor)
        elif action in ("pause", "resume"):
            release.release_pause(repo=self.repo, actor=actor, paused=action == "pause")
        else:
            raise BadRequest("Unknown action.")


def _stages_from_form(post) -> list[release.StageSpec]:
    specs = []
    for index in range(release.MAX_STAGES):
        mode = post.get(f"mode_{index}", "")
        if not mode:
            continue
        when = post.get(f"at_{index}", "").strip()
        try:  # parse_datetime raises ValueError for a well-formed but impossible time (Feb 31)
            scheduled = parse_datetime(when) if when else None
        except ValueError:
            scheduled = None
        if when and scheduled is None:
            raise BadRequest(f"Stage {index + 1}: the time must look like 2027-01-31T12:00.")
        if scheduled is not None and scheduled.tzinfo is None:
            scheduled = scheduled.replace(tzinfo=UTC)
        patterns = tuple(p.strip() for p in post.get(f"withheld_{index}", "").split(",") if p.strip())
        specs.append(
            release.StageSpec(
                mode=mode,
                scheduled_at=scheduled,
                withheld_patterns=patterns,
                previews_public=bool(post.get(f"previews_{index}")),
            )
        )
    return specs


class AuditView(PortalRepoView):
    repo_actions = {"GET": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        events = audit_for(self.repo)
        export = request.GET.get("export")
        if export == "json":
            return as_export(
                JsonResponse([audit_item(event) for event in events], safe=False), f"{self.repo.name}-audit.json"
            )
        if export == "csv":
            rows = [["time", "action", "actor", "subject", "reason", "data"]] + [
                [isoformat_z(e.created_at), e.action, e.actor_label, e.subject_label, e.reason, json.dumps(e.data)]
                for e in events
            ]
            return csv_response(f"{self.repo.name}-audit.csv", rows)
        context = self.page_context("audit", events=events[:500])
        return render(request, "gating/audit.html", context)
