"""Base classes for every repo-scoped view, of every app: the policy's gate at the edge.

SECURITY: the repo is resolved through `gating.policy` before any handler runs; subclasses
declare the action per HTTP method and never override `initial`/`dispatch` (a test walks the
URLconf and checks this). `RepoAPIView` serves the Hub API (DRF), `RepoView` the download path
(plain Django, no DRF overhead) and `PortalRepoView` the HTML pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.views import View
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.views import APIView

from accounts.auth import authenticate_request
from core.api import AllowAnyone
from core.errors import HubError, NotFound, RepoMoved
from core.http import answers_errors, error_response, moved_response
from core.views import render_error
from gating.policy import Action, Principal, RepoAccess, can, resolve_repo
from registry.models import PLURAL_TYPES
from registry.selectors import Resolved, list_refs, resolve_revision


def action_for(repo_actions: dict[str, Action], method: str) -> Action | None:
    """The declared action; HEAD needs what GET needs unless declared on its own."""
    if method == "HEAD" and "HEAD" not in repo_actions:
        method = "GET"
    return repo_actions.get(method)


def repo_type_from_kwargs(kwargs: dict) -> str:
    """API routes carry the plural ('models'); web routes an optional 'datasets' prefix."""
    plural = kwargs.get("repo_type") or "models"
    if plural not in PLURAL_TYPES:
        raise NotFound(f"Unsupported repo type {plural!r}")
    return PLURAL_TYPES[plural]


class RepoAPIView(APIView):
    """DRF base for the Hub API routes under /api/{type}s/{namespace}/{name}/..."""

    # The policy call in `initial` is the gate; it raises before any handler for callers it refuses.
    permission_classes = [AllowAnyone]
    repo_actions: dict[str, Action] = {"GET": Action.VIEW}
    access: RepoAccess  # the policy's answer: the repo, the caller and what was learnt deciding

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        action = action_for(self.repo_actions, request.method)
        if action is None:
            raise MethodNotAllowed(request.method)
        repo_type, repo_id = self.repo_lookup(request, kwargs)
        self.access = resolve_repo(Principal.from_request(request), repo_type, repo_id, action)
        self.principal, self.repo = self.access.principal, self.access.repo

    def repo_lookup(self, request, kwargs) -> tuple[str, str]:
        """(repo type, repo id) from the URL; routes that name the repo in the body override this."""
        return repo_type_from_kwargs(kwargs), f"{kwargs['namespace']}/{kwargs['name']}"

    def handle_exception(self, exc):
        if isinstance(exc, RepoMoved):
            return moved_response(self.request, exc)
        return super().handle_exception(exc)


class RepoView(View):
    """Plain Django base (download path and portal): no DRF overhead on the hottest route."""

    repo_actions: dict[str, Action] = {"GET": Action.VIEW, "HEAD": Action.VIEW}
    access: RepoAccess

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        authenticate_request(request)
        action = action_for(self.repo_actions, request.method)
        if action is None:
            return self.http_method_not_allowed(request, *args, **kwargs)
        self.access = resolve_repo(
            Principal.from_request(request),
            repo_type_from_kwargs(kwargs),
            f"{kwargs['namespace']}/{kwargs['name']}",
            action,
            revision_candidates=self.revision_candidates(kwargs),
        )
        self.principal, self.repo = self.access.principal, self.access.repo
        return super().dispatch(request, *args, **kwargs)

    def revision_candidates(self, kwargs) -> list[str] | None:
        """Ref names the URL's revision may be, to fetch with the repo (the download path)."""
        return None

    def error_response(self, exc: HubError):
        return error_response(exc)


class PortalRepoView(RepoView):
    """Repo-scoped pages: the same policy gate as the API, with HTML error pages."""

    def error_response(self, exc: HubError):
        return render_error(self.request, exc)

    def base_context(self, resolved) -> dict:
        refs = list_refs(self.repo)
        return {
            "repo": self.repo,
            "repo_access": self.access,  # for the template tags: the caller's role, learnt once
            "resolved": resolved,
            "branches": refs["branch"],
            "tags": refs["tag"],
            "can_download": self._can(Action.DOWNLOAD),
            "can_write": self._can(Action.WRITE),
            "can_review": self.principal.user is not None and self._can(Action.REVIEW),
            "can_manage": self.principal.user is not None and self._can(Action.MANAGE),
        }

    def page_context(self, tab: str, resolved: Resolved | None = None, **extra: Any) -> dict:
        """A repo page's context: its header and tabs at `resolved` (the default branch when
        None), the page's `tab` selected, and the page's own `extra` values."""
        if resolved is None:
            resolved = resolve_revision(self.repo, self.repo.default_branch)
        return {**self.base_context(resolved), "tab": tab, **extra}

    @contextmanager
    def flashing_errors(self) -> Iterator[Flashed]:
        """For a form's POST that redirects whatever happens: a refusal is flashed to the user on
        the next page (`messages.error`) instead of answering an error page; `.failed` says so."""
        outcome = Flashed()
        try:
            yield outcome
        except HubError as exc:
            messages.error(self.request, exc.message)
            outcome.failed = True

    def _can(self, action: Action) -> bool:
        return can(self.access, action)


@dataclass
class Flashed:
    failed: bool = False
