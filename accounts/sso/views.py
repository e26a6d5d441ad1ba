"""The two SSO routes: start a sign-in at the provider, and come back from it."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.sso import config
from accounts.sso.backend import library_settings
from accounts.sso.services import SsoRefused


def _refusal_page(request, refusal: SsoRefused):
    status = 503 if refusal.code == "unavailable" else 403
    context = {"refusal": refusal, "provider_name": settings.GATEHOUSE_OIDC_PROVIDER_NAME}
    response = render(request, "accounts/sso_refused.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


class SsoLoginView(OIDCAuthenticationRequestView):
    """Redirects to the provider with state, nonce and a PKCE challenge kept in the session."""

    def __init__(self, *args, **kwargs):
        # The library reads its settings in __init__; ours need discovery, done in get().
        self._settings: dict = {}

    def get_settings(self, attr, *args):
        if attr in self._settings:
            return self._settings[attr]
        return super().get_settings(attr, *args)

    def get(self, request):
        if not config.sso_enabled():
            raise Http404
        try:
            provider = config.provider()
        except config.ProviderUnavailable:
            return _refusal_page(
                request, SsoRefused("unavailable", "The sign-in provider could not be reached; try again later.")
            )
        self._settings = library_settings(provider)
        self.OIDC_OP_AUTH_ENDPOINT = provider.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = provider.client_id
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here; OidcBackend signs the account in or says why not."""

    def get(self, request):
        if not config.sso_enabled():
            raise Http404
        return super().get(request)

    def login_failure(self):
        refusal = getattr(self.request, "sso_refusal", None)
        if refusal is None:
            if self.request.GET.get("error"):
                refusal = SsoRefused("provider_error", "The sign-in provider did not sign you in.")
            else:
                refusal = SsoRefused("failed", "Sign-in did not complete; start again from the login page.")
        return _refusal_page(self.request, refusal)
