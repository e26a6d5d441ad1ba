"""Portal pages of one's own account: email verification, account settings (name, email,
password, linked sign-on identity), password reset by mail."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views import View

from accounts import lifecycle, mail, throttle
from accounts.models import SsoIdentity, User
from core.errors import HubError, RateLimited
from core.http import client_ip


class ProfileForm(forms.Form):
    fullname = forms.CharField(max_length=200, required=False, label="Full name")
    email = forms.EmailField()
    # Needed to change the email (found by a review: with a borrowed session, changing the email,
    # verifying it and resetting the password kept the account).
    current_password = forms.CharField(required=False, widget=forms.PasswordInput, label="Current password")


def linked_identities(user: User) -> list[SsoIdentity]:
    """The single sign-on identities linked to `user` (accounts.sso), newest sign-in first."""
    return list(SsoIdentity.objects.filter(user=user).order_by("-last_login_at"))


class VerifyEmailView(View):
    """The link of a verification mail. A GET verifies (mail scanners that open links prove the
    mailbox too); a bad, expired or spent link says so and offers a new one."""

    def get(self, request, token):
        user = mail.user_for_verification_token(token)
        if user is None:
            return render(request, "accounts/verify_failed.html", status=400)
        lifecycle.email_verify(user=user)
        messages.success(request, f"Thank you: {user.email} is verified.")
        if request.user.is_authenticated and request.user.pk == user.pk:
            return redirect("accounts:account_settings")
        return redirect("accounts:login")


class AccountSettingsView(LoginRequiredMixin, View):
    """Name and email (a new email is verified again), password, the verification mail again,
    and the linked sign-on identity. Each form posts its own `action`."""

    def get(self, request):
        return self._render(request)

    def post(self, request):
        action = request.POST.get("action")
        if action == "profile":
            return self._profile(request)
        if action == "password":
            return self._password(request)
        if action == "resend":
            try:
                lifecycle.email_verification_send(user=request.user, site=mail.base_url(request))
                messages.success(request, f"We sent a new verification link to {request.user.email}.")
            except HubError as exc:
                messages.error(request, exc.message)
            return redirect("accounts:account_settings")
        return self._render(request, status=400)

    def _profile(self, request):
        form = ProfileForm(request.POST)
        if not form.is_valid():
            return self._render(request, profile_form=form, status=400)
        user = request.user
        new_email = form.cleaned_data["email"].strip()
        if new_email.casefold() != (user.email or "").casefold() and user.has_usable_password():
            try:
                with throttle.login_attempt(ip=client_ip(request), username=user.username) as attempt:
                    if user.check_password(form.cleaned_data["current_password"] or ""):
                        attempt.succeeded()
                    else:
                        form.add_error("current_password", "Enter your current password to change your email.")
            except RateLimited as exc:
                form.add_error(None, exc.message)
                return self._render(request, profile_form=form, status=exc.status)
            if form.errors:
                return self._render(request, profile_form=form, status=400)
        try:
            changed = lifecycle.profile_update(
                user=request.user,
                fullname=form.cleaned_data["fullname"],
                email=form.cleaned_data["email"],
                site=mail.base_url(request),
            )
        except HubError as exc:
            form.add_error(None, exc.message)
            return self._render(request, profile_form=form, status=exc.status)
        if changed:
            messages.success(request, f"Saved. Follow the link we sent to {request.user.email} to verify it.")
        else:
            messages.success(request, "Saved.")
        return redirect("accounts:account_settings")

    def _password(self, request):
        if not request.user.has_usable_password():
            return self._render(request, status=400)  # signs in through single sign-on only
        form = PasswordChangeForm(request.user, request.POST)
        try:
            # SECURITY: the current password is checked under the sign-in throttles, so a borrowed
            # session cannot guess it here.
            with throttle.login_attempt(ip=client_ip(request), username=request.user.username) as attempt:
                if request.user.check_password(request.POST.get("old_password", "")):
                    attempt.succeeded()
        except RateLimited as exc:
            response = self._render(request, password_refusal=exc.message, status=exc.status)
            for name, value in exc.headers.items():
                response[name] = value
            return response
        if not form.is_valid():
            return self._render(request, password_form=form, status=400)
        form.save()
        update_session_auth_hash(request, form.user)  # this session stays; every other one ends
        messages.success(request, "Password changed. Your other sessions were signed out.")
        return redirect("accounts:account_settings")

    def _render(self, request, status=200, password_refusal: str = "", **forms_):
        user = request.user
        context = {
            "password_refusal": password_refusal,
            "profile_form": forms_.get("profile_form")
            or ProfileForm(initial={"fullname": user.fullname, "email": user.email}),
            "password_form": forms_.get("password_form") or PasswordChangeForm(user),
            "linked_identities": linked_identities(user),
            "sso_provider_name": settings.GATEHOUSE_OIDC_PROVIDER_NAME,
        }
        response = render(request, "accounts/settings.html", context, status=status)
        response["Cache-Control"] = "no-store"
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's page, throttled (accounts.throttle.password_reset_attempt), mailing through the
    outbox (accounts.mail). SECURITY: every valid form gets the same redirect to the same page,
    whether or not an account has the address (no user enumeration)."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: PasswordResetForm):
        email = form.cleaned_data["email"]
        try:
            may_mail = throttle.password_reset_attempt(ip=client_ip(self.request), email=email)
        except RateLimited as exc:
            response = render(self.request, self.template_name, {"form": form, "refusal": exc.message}, status=429)
            for name, value in exc.headers.items():
                response[name] = value
            return response
        if may_mail:
            site = mail.base_url(self.request)
            for user in form.get_users(email):
                if user.deleted_at is None:
                    mail.mail_queue(kind=mail.RESET, user=user, site=site)
        return redirect(self.success_url)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        # SECURITY: a disabled or deleted account gets no new password (and so no way back in).
        return user if user is not None and user.is_active and user.deleted_at is None else None


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
