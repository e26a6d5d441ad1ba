"""The repo settings page (/{repo}/settings), for the repo's admins: rename or transfer, delete,
the storage the repo uses, and the sections other apps add (discussions, previews) through
`registry.hooks.repo_settings_sections`.

Every action goes through the same services as the API (`/api/repos/move`, `/api/repos/delete`,
`/api/{type}s/{repo}/community-settings`, `/api/models/{repo}/preview-settings`), so the page can
do nothing the API refuses, and the API nothing the page enforces on its own."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from accounts.models import Membership
from accounts.selectors import canonical_namespace
from core.errors import BadRequest, Forbidden
from core.names import split_repo_id
from gating.policy import CREATOR_ROLES, Action, can_create_in, check_name_takeover
from gating.repo_views import PortalRepoView
from registry import hooks, services
from registry.storage.usage import repo_storage_usage


class RepoSettingsPage(PortalRepoView):
    # SECURITY: admins only (the policy's MANAGE), for reading the page as for each action.
    repo_actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        return render(request, "registry/settings.html", self._context())

    def _context(self) -> dict:
        user = self.principal.user
        assert user is not None  # MANAGE is never granted to anonymous callers
        writable = Membership.objects.filter(user=user, role__in=CREATOR_ROLES)
        orgs = writable.values_list("org__name", flat=True)
        sections = [section.render(self.request, self.access) for section in hooks.repo_settings_sections]
        return self.page_context(
            "settings",
            namespaces=sorted({user.username, self.repo.namespace, *orgs}, key=str.lower),
            storage=repo_storage_usage(self.repo),
            sections=[mark_safe(html) for html in sections if html],  # noqa: S308 (rendered by templates)
        )

    def post(self, request, namespace, name, repo_type=None):
        action = request.POST.get("action", "")
        if action == "delete":
            with self.flashing_errors() as outcome:
                self._delete(request.POST.get("confirm", ""))
            if not outcome.failed:
                messages.success(request, f"Deleted {self.repo.repo_id}.")
                return redirect("/")
        elif action == "move":
            with self.flashing_errors() as outcome:
                moved = self._move(request.POST.get("namespace", ""), request.POST.get("name", "").strip())
            if not outcome.failed:
                messages.success(request, f"Moved to {moved.repo_id}; the old address redirects here.")
                return redirect(f"{moved.web_path}/settings")
        else:
            with self.flashing_errors():
                self._section_action(request, action)
                messages.success(request, "Saved.")
        return redirect(f"{self.repo.web_path}/settings")

    def _delete(self, confirm: str) -> None:
        """The repo's id typed in full (any case: ids are case-insensitive) confirms it."""
        if confirm.strip().lower() != self.repo.repo_id.lower():
            raise BadRequest(f"Type {self.repo.repo_id} to confirm the deletion.")
        services.repo_delete(repo=self.repo)

    def _move(self, to_namespace: str, to_name: str):
        """As /api/repos/move: a transfer needs the right to create repos in the new namespace."""
        to_namespace, to_name = split_repo_id(f"{to_namespace}/{to_name}")
        to_namespace = canonical_namespace(to_namespace)
        if to_namespace != self.repo.namespace and not can_create_in(self.principal, to_namespace):
            raise Forbidden(f"You don't have the rights to create a repo under the namespace '{to_namespace}'.")
        check_name_takeover(self.principal, self.repo.repo_type, to_namespace, to_name)
        with transaction.atomic():
            return services.repo_move(repo=self.repo, to_namespace=to_namespace, to_name=to_name)

    def _section_action(self, request, action: str) -> None:
        for section in hooks.repo_settings_sections:
            if action in section.actions:
                section.handle(request, self.access, action)
                return
        raise BadRequest("Unknown action.")
