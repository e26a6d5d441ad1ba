"""The like button of repo pages: POST {repo}/like with action=like|unlike, then back to the repo
page. The same policy gate and the same services as the API (community.likes.api)."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from community.likes import services
from core.errors import AuthenticationRequired, BadRequest, HubError
from gating.policy import Action
from gating.repo_views import PortalRepoView


class LikePage(PortalRepoView):
    repo_actions = {"POST": Action.PARTICIPATE}

    def error_response(self, exc: HubError):
        if isinstance(exc, AuthenticationRequired):
            return redirect_to_login(self.request.path.removesuffix("/like"))  # back to the repo page
        return super().error_response(exc)

    def post(self, request, namespace, name, repo_type=None):
        action = request.POST.get("action")
        with self.flashing_errors():
            if action == "like":
                services.like_create(user=request.user, repo=self.repo)
            elif action == "unlike":
                services.like_delete(user=request.user, repo=self.repo)
            else:
                raise BadRequest("Expected action=like or action=unlike.")
        return redirect(self.repo.web_path)
