"""Portal pages for accounts: sign up, tokens, organisations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from accounts import services
from accounts.forms import MemberForm, OrganizationForm, SignupForm, TokenForm
from accounts.models import Membership, Organization, Role, User
from core.errors import HubError


class SignupView(View):
    def get(self, request):
        return render(request, "accounts/signup.html", {"form": SignupForm()})

    def post(self, request):
        form = SignupForm(request.POST)
        if form.is_valid():
            try:
                user = services.user_create(
                    username=form.cleaned_data["username"],
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    fullname=form.cleaned_data["fullname"],
                )
            except HubError as exc:
                form.add_error(None, exc.message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("registry:home")
        return render(request, "accounts/signup.html", {"form": form}, status=400)


class TokenSettingsView(LoginRequiredMixin, View):
    def get(self, request):
        return self._render(request, TokenForm())

    def post(self, request):
        if "revoke" in request.POST:
            try:
                services.token_revoke(user=request.user, token_id=int(request.POST["revoke"]))
                messages.success(request, "Token revoked.")
            except (HubError, ValueError):
                messages.error(request, "No such token.")
            return redirect("accounts:tokens")
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                token, plaintext = services.token_create(
                    user=request.user, name=form.cleaned_data["name"], role=form.cleaned_data["role"]
                )
            except HubError as exc:
                form.add_error(None, exc.message)
            else:
                # Shown once, on this response only; only its hash is stored.
                return self._render(request, TokenForm(), new_token=plaintext, new_token_name=token.name)
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200, **extra):
        tokens = request.user.access_tokens.all()
        response = render(request, "accounts/tokens.html", {"form": form, "tokens": tokens, **extra}, status=status)
        response["Cache-Control"] = "no-store"
        return response


class OrganizationCreateView(LoginRequiredMixin, View):
    def get(self, request):
        return render(request, "accounts/org_new.html", {"form": OrganizationForm()})

    def post(self, request):
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                org = services.org_create(
                    name=form.cleaned_data["name"], fullname=form.cleaned_data["fullname"], creator=request.user
                )
            except HubError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("registry:namespace", namespace=org.name)
        return render(request, "accounts/org_new.html", {"form": form}, status=400)


class OrganizationMembersView(LoginRequiredMixin, View):
    """POST only: org admins add, change or remove members from the organisation page."""

    def post(self, request, name):
        org = Organization.objects.filter(name=name).first()
        is_admin = org and Membership.objects.filter(org=org, user=request.user, role=Role.ADMIN).exists()
        if not is_admin:
            return render(request, "errors/404.html", status=404)
        form = MemberForm(request.POST)
        if form.is_valid():
            user = User.objects.filter(username=form.cleaned_data["username"]).first()
            role = form.cleaned_data["role"]
            if user is None:
                messages.error(request, "No such user.")
            else:
                try:
                    services.membership_set(org=org, user=user, role=None if role == "remove" else role)
                    messages.success(request, "Members updated.")
                except HubError as exc:
                    messages.error(request, exc.message)
        return redirect("registry:namespace", namespace=org.name)
