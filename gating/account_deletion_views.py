"""The portal's page for deleting one's own account: a choice per repo (delete it, or transfer
it to an organisation the user administers), the username typed to confirm, the password."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from accounts import throttle
from core.errors import HubError, RateLimited
from core.http import client_ip
from gating import account_deletion


class AccountDeleteView(LoginRequiredMixin, View):
    template_name = "accounts/delete.html"

    def get(self, request):
        return self._render(request)

    def post(self, request):
        user = request.user
        if request.POST.get("confirm", "") != user.username:
            return self._render(request, error="Type your username to confirm.", status=400)
        if user.has_usable_password():
            try:
                # SECURITY: under the sign-in throttles, so a borrowed session cannot guess it here.
                with throttle.login_attempt(ip=client_ip(request), username=user.username) as attempt:
                    if user.check_password(request.POST.get("password", "")):
                        attempt.succeeded()
            except RateLimited as exc:
                return self._render(request, error=exc.message, status=exc.status)
            if not attempt.is_success:
                return self._render(request, error="Your password is not right.", status=400)
        choices = {repo.pk: request.POST.get(f"repo-{repo.pk}", "") for repo in account_deletion.repos_to_settle(user)}
        try:
            account_deletion.account_delete(user=user, choices=choices)
        except HubError as exc:
            return self._render(request, error=exc.message, status=exc.status)
        logout(request)
        return render(request, "accounts/deleted.html")

    def _render(self, request, *, error: str = "", status: int = 200):
        user = request.user
        context = {
            "repos": list(account_deletion.repos_to_settle(user)),
            "targets": account_deletion.transfer_targets(user),
            "orgs_alone": account_deletion.orgs_left_without_admin(user),
            "error": error,
            "chosen": request.POST,
        }
        response = render(request, self.template_name, context, status=status)
        response["Cache-Control"] = "no-store"
        return response
