"""Portal pages for accounts: sign up, tokens, organisations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from accounts import invitations, lifecycle, mail, permissions, services, throttle
from accounts.forms import MemberForm, OrganizationForm, SignupForm, TokenForm
from accounts.models import Membership, Organization, Role, TokenRole, User
from accounts.sso import config as sso_config
from core.edge import form_int
from core.errors import BadRequest, Forbidden, HubError, NotFound, RateLimited, RepoMoved, RepoNotFound
from core.http import client_ip
from core.views import render_error
from gating.policy import Action, Principal, can_manage_org, resolve_repo
from gating.selectors import fine_grained_description


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


def _expiry(day: date | None) -> datetime | None:
    """The end of `day` in UTC: a token made to expire on a date works all that day."""
    if day is None:
        return None
    return datetime.combine(day, time.max, tzinfo=UTC)


def _fine_grained(user: User, data: dict) -> dict:
    """The scopes the form names, with each repo resolved through the policy as the user sees
    it (SECURITY: a repo they cannot see is "not found", as everywhere)."""
    principal = Principal(user=user)
    scoped: list[tuple[str, int, list[str]]] = []
    for line in data["repos"].splitlines()[:200]:
        repo_id = line.strip().strip("/")
        if not repo_id:
            continue
        repo_type = "model"
        if repo_id.startswith("datasets/"):
            repo_type, repo_id = "dataset", repo_id[len("datasets/") :]
        try:
            repo = resolve_repo(principal, repo_type, repo_id, Action.VIEW).repo
        except (RepoNotFound, RepoMoved):
            raise BadRequest(f"No {repo_type} {repo_id[:200]!r} that you can see.") from None
        scoped.append((permissions.REPO, repo.pk, data["repo_permissions"]))
    for org in Organization.objects.filter(name__in=data["orgs"], memberships__user=user):
        scoped.append((permissions.ORG, org.pk, data["org_permissions"]))
    scoped.append((permissions.USER, user.pk, data["own_permissions"]))
    return permissions.normalise(
        scoped=scoped, global_permissions=data["global_permissions"], gated=data["can_read_gated_repos"]
    )


class TokenSettingsView(LoginRequiredMixin, View):
    """The user's tokens: create (read, write or fine-grained, with an optional expiry date),
    see when each was last used, revoke."""

    def get(self, request):
        return self._render(request, self._form(request))

    def _form(self, request, data=None) -> TokenForm:
        org_names = list(request.user.organizations.order_by("name").values_list("name", flat=True))
        return TokenForm(data, org_names=org_names)

    def post(self, request):
        if "revoke" in request.POST:
            try:
                services.token_revoke(user=request.user, token_id=int(request.POST["revoke"]))
                messages.success(request, "Token revoked.")
            except (HubError, ValueError):
                messages.error(request, "No such token.")
            return redirect("accounts:tokens")
        form = self._form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                fine = _fine_grained(request.user, data) if data["role"] == TokenRole.FINE_GRAINED else None
                token, plaintext = services.token_create(
                    user=request.user,
                    name=data["name"],
                    role=data["role"],
                    expires_at=_expiry(data["expires_on"]),
                    fine_grained=fine,
                )
            except HubError as exc:
                form.add_error(None, exc.message)
            else:
                # Shown once, on this response only; only its hash is stored.
                return self._render(request, self._form(request), new_token=plaintext, new_token_name=token.name)
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200, **extra):
        tokens = list(request.user.access_tokens.all())
        for token in tokens:
            token.scopes = fine_grained_description(token) if token.is_fine_grained else None
        context = {"form": form, "tokens": tokens, "now": timezone.now(), **extra}
        response = render(request, "accounts/tokens.html", context, status=status)
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
                    site=mail.base_url(request),
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
            if request.user.email.casefold() == invitation.email.casefold() and not request.user.email_verified:
                return render_error(request, Forbidden(invitations.VERIFY_FIRST))
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
