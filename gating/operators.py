"""Operators take repos down and put them back: `POST /api/repos/takedown` and
`/api/repos/takedown/lift` (Gatehouse's own, write token), and the portal's `/operators/takedowns`.

Repos are found through gating.policy.resolve_repo_for_operator: to anyone but an operator these
routes answer as for a repo that does not exist (404 signed in, 401 anonymous), and the page is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import edge
from core.api import SignedIn
from core.errors import BadRequest, HubError, NotFound
from core.timeutil import isoformat_z
from core.views import render_error
from gating import takedown
from gating.policy import Principal, is_operator, resolve_repo_for_operator
from registry.models import Repo, RepoType

TYPES = {None: RepoType.MODEL, "model": RepoType.MODEL, "dataset": RepoType.DATASET}

_ADDRESS = inline_serializer(
    "TakedownRequest",
    {
        "repo": serializers.CharField(),
        "type": serializers.ChoiceField(choices=["model", "dataset"], required=False),
        "reason": serializers.CharField(required=False),
    },
)
_STATE = inline_serializer(
    "TakedownState",
    {
        "id": serializers.CharField(),
        "type": serializers.CharField(),
        "disabled": serializers.BooleanField(),
        "reason": serializers.CharField(),
        "disabledAt": serializers.DateTimeField(allow_null=True),
        "disabledBy": serializers.CharField(allow_null=True),
    },
)


def describe(repo: Repo) -> dict:
    return {
        "id": repo.repo_id,
        "type": repo.repo_type,
        "disabled": repo.disabled,
        "reason": repo.disabled_reason,
        "disabledAt": isoformat_z(repo.disabled_at) if repo.disabled_at else None,
        "disabledBy": repo.disabled_by.username if repo.disabled_by else None,
    }


def _addressed(principal: Principal, data) -> tuple[Repo, str]:
    repo_id, repo_type, reason = data.get("repo"), data.get("type") or None, data.get("reason", "")
    if not isinstance(repo_id, str) or repo_type not in TYPES or not isinstance(reason, str):
        raise BadRequest('Expected {"repo": "namespace/name", "type": "model" or "dataset", "reason": "..."}.')
    return resolve_repo_for_operator(principal, TYPES[repo_type], repo_id), reason


class TakedownView(APIView):
    """POST /api/repos/takedown {"repo", "type"?, "reason"}: disable a repo, the reason shown to visitors."""

    permission_classes = [SignedIn]

    @extend_schema(request=_ADDRESS, responses=_STATE)
    def post(self, request):
        principal = Principal.from_request(request)
        repo, reason = _addressed(principal, edge.json_object(request))
        return Response(describe(takedown.repo_takedown(repo=repo, operator=request.user, reason=reason)))


class TakedownLiftView(APIView):
    """POST /api/repos/takedown/lift {"repo", "type"?, "reason"?}: put a repo taken down back."""

    permission_classes = [SignedIn]

    @extend_schema(request=_ADDRESS, responses=_STATE)
    def post(self, request):
        principal = Principal.from_request(request)
        repo, reason = _addressed(principal, edge.json_object(request))
        return Response(describe(takedown.repo_takedown_lift(repo=repo, operator=request.user, reason=reason)))


class TakedownsPage(LoginRequiredMixin, View):
    """GET: the repos taken down, and a form to take one down. POST: take down or lift."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not is_operator(Principal.from_request(request)):
            return render_error(request, NotFound("Page not found"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        repos = Repo.objects.filter(disabled=True, deleted_at__isnull=True).select_related("disabled_by")
        context = {
            "repos": repos.order_by("-disabled_at", "pk")[:500],
            "prefill": request.GET.get("repo", "")[:200],
            "prefill_type": request.GET.get("type", "model"),
        }
        response = render(request, "gating/operator_takedowns.html", context)
        response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request):
        principal = Principal.from_request(request)
        try:
            repo, reason = _addressed(principal, request.POST)
            if request.POST.get("action") == "lift":
                takedown.repo_takedown_lift(repo=repo, operator=request.user, reason=reason)
                messages.success(request, f"{repo.repo_id} is back.")
            else:
                takedown.repo_takedown(repo=repo, operator=request.user, reason=reason)
                messages.success(request, f"{repo.repo_id} is taken down.")
        except HubError as exc:
            messages.error(request, exc.message)
        return redirect("operators:takedowns")
