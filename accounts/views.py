"""Portal pages for accounts: sign up, tokens, organisations."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from accounts import invitations, lifecycle, mail, services, throttle
from accounts.forms import MemberForm, OrganizationForm, SignupForm, TokenForm
from accounts.models import Membership, Organization, Role, User
from accounts.sso import config as sso_config
from core.edge import form_int
from core.errors import BadRequest, HubError, NotFound, RateLimited
from core.http import client_ip
from core.views import render_error
from gating.policy import Principal, can_manage_org


def _refused(request, template: str, context: dict, exc: RateLimited):
    """The form again, with the refusal, as a 429 with the RateLimit headers."""
    context["refusal"] = exc.message
    response = render(request, template, context, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _password_refused(request, template: str, context: dict):
    """SSO-only mode: the page says to use single sign-on; nothing is checked or created."""
    context["refusal"] = "Passwords are turned off here: sign in with single sign-on."
    return render(request, template, context, status=403)


class LoginView(auth_views.LoginView):
    """Django's login page, throttled per address and account (accounts.throttle), with the
    single sign-on button when SSO is configured (only the button in SSO-only mode)."""

    template_name = "accounts/login.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = sso_config.sso_enabled()
        context["sso_provider_name"] = settings.GATEHOUSE_OIDC_PROVIDER_NAME
        context["password_login_enabled"] = sso_config.password_login_enabled()
        return context

    def post(self, request, *args, **kwargs):
        if not sso_config.password_login_enabled():
            return _password_refused(request, self.template_name, self.get_context_data(form=self.get_form_class()()))
        try:
            with throttle.login_attempt(ip=client_ip(request), username=request.POST.get("username", "")) as attempt:
                self.attempt = attempt
                return super().post(request, *args, **kwargs)
        except RateLimited as exc:
            # An unbound form: a bound one would check the password while refusing to.
            context = self.get_context_data(form=self.get_form_class()(request))
            return _refused(request, self.template_name, context, exc)

    def form_valid(self, form):
        self.attempt.succeeded()
        return super().form_valid(form)


class SignupView(View):
    """The sign-up form, as GATEHOUSE_SIGNUP_MODE allows: open, by an operator's invitation link
    (`?invite=`), or closed (and never in SSO-only mode). The new account is sent a verification
    mail (accounts.lifecycle)."""

    def get(self, request):
        if not sso_config.password_login_enabled():
            return _password_refused(request, "accounts/signup.html", {"form": None})
        return self._render(request, SignupForm(), invite=request.GET.get("invite", ""))

    def post(self, request):
        if not sso_config.password_login_enabled():
            return _password_refused(request, "accounts/signup.html", {"form": None})
        form = SignupForm(request.POST)
        invite = request.POST.get("invite", "")
        try:
            throttle.signup_attempt(ip=client_ip(request))
        except RateLimited as exc:
            return _refused(request, "accounts/signup.html", self._context(form, invite), exc)
        if form.is_valid():
            try:
                user = lifecycle.signup(
                    username=form.cleaned_data["username"],
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    fullname=form.cleaned_data["fullname"],
                    invitation=invite,
                    site=mail.base_url(request),
                )
            except HubError as exc:
                form.add_error(None, exc.message)
                return self._render(request, form, invite=invite, status=exc.status)
            login(request, user, backend="accounts.sso.backend.PasswordBackend")
            messages.info(request, f"Welcome! We sent a link to {user.email}: follow it to verify your address.")
            return redirect("registry:home")
        return self._render(request, form, invite=invite, status=400)

    def _context(self, form, invite: str) -> dict:
        mode = lifecycle.signup_mode()
        invited = mode != lifecycle.INVITE or lifecycle.invitation_find(invite) is not None
        return {"form": form, "mode": mode, "invite": invite, "invited": invited}

    def _render(self, request, form, *, invite: str, status: int = 200):
        context = self._context(form, invite)
        if status == 200 and (context["mode"] == lifecycle.CLOSED or not context["invited"]):
            status = 403
        return render(request, "accounts/signup.html", context, status=status)


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
        org = _org_for_admin(request, name)
        if org is None:
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


def _org_for_admin(request, name: str) -> Organization | None:
    """The organisation, if the caller administers it (gating.policy.can_manage_org); else None,
    which the pages answer with a 404, as for an organisation that does not exist."""
    org = Organization.objects.filter(name__iexact=name).first()
    if org is None or not can_manage_org(Principal.from_request(request), org.pk):
        return None
    return org


class OrganizationSettingsView(LoginRequiredMixin, View):
    """An organisation's settings, for its admins: members and roles, invitations by email, the
    default visibility of new repos. POST `action`: member, invite, revoke, settings."""

    def get(self, request, name):
        org = _org_for_admin(request, name)
        if org is None:
            return render_error(request, NotFound("No such organisation"))
        context = {
            "org": org,
            "memberships": Membership.objects.filter(org=org).select_related("user").order_by("user__username"),
            "invitations": invitations.open_invitations(org),
            "roles": Role.choices,
        }
        response = render(request, "accounts/org_settings.html", context)
        response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request, name):
        org = _org_for_admin(request, name)
        if org is None:
            return render_error(request, NotFound("No such organisation"))
        action = request.POST.get("action")
        try:
            if action == "member":
                self._member(request, org)
            elif action == "invite":
                invitations.invitation_create(
                    org=org,
                    email=request.POST.get("email", ""),
                    role=request.POST.get("role", ""),
                    invited_by=request.user,
                )
                messages.success(request, "Invitation sent.")
            elif action == "revoke":
                invitations.invitation_revoke(org=org, invitation_id=form_int(request.POST, "invitation", default=0))
                messages.success(request, "Invitation revoked.")
            elif action == "settings":
                services.org_settings_update(
                    org=org,
                    fullname=request.POST.get("fullname", ""),
                    repos_private_by_default=request.POST.get("visibility") == "private",
                )
                messages.success(request, "Settings saved.")
            else:
                raise BadRequest("Unknown action.")
        except HubError as exc:
            messages.error(request, exc.message)
        return redirect("accounts:org_settings", name=org.name)

    def _member(self, request, org: Organization) -> None:
        user = User.objects.filter(username__iexact=request.POST.get("username", "")).first()
        if user is None:
            raise BadRequest("No such user.")
        role = request.POST.get("role", "")
        services.membership_set(org=org, user=user, role=None if role == "remove" else role)
        messages.success(request, f"{user.username}: {'removed' if role == 'remove' else role}.")


class InvitationView(LoginRequiredMixin, View):
    """The link of an invitation mail: GET shows it, POST accepts it (the signed-in user's email
    must be the invited one; anything else is the same 404)."""

    def get(self, request, token):
        try:
            invitation = invitations.invitation_from_token(token)
        except HubError as exc:
            return render_error(request, exc)
        if not invitations.may_accept(invitation, request.user):
            return render_error(request, NotFound(invitations.INVALID))
        response = render(request, "accounts/invitation.html", {"invitation": invitation})
        response["Cache-Control"] = "private, no-store"
        return response

    def post(self, request, token):
        try:
            invitation = invitations.invitation_from_token(token)
            membership = invitations.invitation_accept(invitation=invitation, user=request.user)
        except HubError as exc:
            return render_error(request, exc)
        messages.success(request, f"You joined {membership.org.name} as {membership.role}.")
        return redirect("registry:namespace", namespace=membership.org.name)
