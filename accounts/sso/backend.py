"""Authentication backends: passwords (off in SSO-only mode) and OpenID Connect.

OidcBackend keeps mozilla-django-oidc's code flow (token exchange, PKCE, JWKS lookup, userinfo)
and changes what it must: settings come from accounts.sso.config (discovery, read when a sign-in
happens, not at import); the ID token's audience and issuer are checked (the library skips the
audience); accounts are matched by (issuer, sub), not by email (accounts.sso.services); a disabled
account's session stops working.
"""

from __future__ import annotations

import logging

import jwt
import requests
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from accounts.models import User
from accounts.sso import config
from accounts.sso.services import SsoRefused, sso_sign_in

logger = logging.getLogger("gatehouse.sso")

CALLBACK_URL_NAME = "accounts:sso_callback"


def library_settings(provider: config.Provider) -> dict:
    """mozilla-django-oidc's setting names, answered from the operator's GATEHOUSE_OIDC_* ones."""
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": provider.authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": provider.token_endpoint,
        "OIDC_OP_USER_ENDPOINT": provider.userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": provider.jwks_uri,
        "OIDC_RP_CLIENT_ID": provider.client_id,
        "OIDC_RP_CLIENT_SECRET": provider.client_secret,
        "OIDC_RP_SIGN_ALGO": provider.sign_algo,
        "OIDC_RP_IDP_SIGN_KEY": None,
        "OIDC_RP_SCOPES": provider.scopes,
        "OIDC_TIMEOUT": provider.timeout,
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_VERIFY_SSL": True,
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
        "OIDC_AUTHENTICATION_CALLBACK_URL": CALLBACK_URL_NAME,
    }


class PasswordBackend(ModelBackend):
    """Django's user name and password check, refused in SSO-only mode on every path that asks."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not config.password_login_enabled():
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class OidcBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # The library reads its settings here, for every backend instance Django makes (each
        # authenticate() and each session lookup); ours are read only when a sign-in happens.
        self.UserModel = User
        self._settings: dict = {}

    def get_settings(self, attr, *args):
        if attr in self._settings:
            return self._settings[attr]
        return import_from_settings(attr, *args)

    def authenticate(self, request, **kwargs):
        # Only the SSO callback view passes `nonce`; password sign-ins pass username/password.
        if request is None or "nonce" not in kwargs or not config.sso_enabled():
            return None
        try:
            provider = config.provider()
        except config.ProviderUnavailable as exc:
            return self._refuse(request, "unavailable", str(exc))
        self.configure(provider)
        try:
            return super().authenticate(request, **kwargs)
        except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
            logger.warning("sso: sign-in failed talking to the provider: %s", exc)
            return self._refuse(request, "unavailable", "The sign-in provider could not be reached; try again.")
        except SuspiciousOperation as exc:
            logger.warning("sso: the provider's answer failed verification: %s", exc)
            return self._refuse(request, "rejected", "The sign-in provider's answer failed verification.")

    def configure(self, provider: config.Provider) -> None:
        """What the library's __init__ would have read from settings."""
        self._provider = provider
        self._settings = library_settings(provider)
        for name in ("TOKEN", "USER", "JWKS"):
            key = f"OIDC_OP_{name}_ENDPOINT"
            setattr(self, key, self._settings[key])
        self.OIDC_RP_CLIENT_ID = provider.client_id
        self.OIDC_RP_CLIENT_SECRET = provider.client_secret
        self.OIDC_RP_SIGN_ALGO = provider.sign_algo
        self.OIDC_RP_IDP_SIGN_KEY = None

    def _refuse(self, request, code: str, message: str) -> None:
        request.sso_refusal = SsoRefused(code, message)
        return None

    def verify_token(self, token, **kwargs):
        """The ID token: signed by a key of the provider's JWKS with the expected algorithm, for
        this client (`aud`), from this issuer (`iss`), unexpired, with the nonce of this sign-in."""
        key = self.retrieve_matching_jwk(token)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self._provider.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"ID token rejected: {exc}") from exc
        if payload.get("nonce") != kwargs.get("nonce"):
            raise SuspiciousOperation("JWT Nonce verification failed.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: userinfo's sub must be the ID token's, or it is not this user.
        if not isinstance(userinfo, dict) or userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo names another subject than the ID token")
        claims = {**payload, **userinfo}
        try:
            return sso_sign_in(
                issuer=self._provider.issuer,
                claims=claims,
                group_roles=config.group_roles(),
                groups_claim=import_from_settings("GATEHOUSE_OIDC_GROUPS_CLAIM"),
                provider_name=import_from_settings("GATEHOUSE_OIDC_PROVIDER_NAME"),
            )
        except SsoRefused as exc:
            self.request.sso_refusal = exc
            return None

    def get_user(self, user_id):
        """SECURITY: the library's get_user returns disabled accounts too; Django's does not."""
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
