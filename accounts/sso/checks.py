"""`manage.py check` (and every start) says what is wrong with the SSO settings, before a sign-in."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from accounts.sso import config


@register()
def sso_settings_check(app_configs, **kwargs):
    errors = []
    if settings.GATEHOUSE_SSO_ONLY and not config.sso_enabled():
        errors.append(
            Error(
                "GATEHOUSE_SSO_ONLY is set but single sign-on is not configured: nobody could sign in.",
                hint="Set GATEHOUSE_OIDC_ISSUER and GATEHOUSE_OIDC_CLIENT_ID, or unset GATEHOUSE_SSO_ONLY.",
                id="gatehouse.E040",
            )
        )
    if config.sso_enabled() and not settings.GATEHOUSE_OIDC_CLIENT_SECRET:
        errors.append(
            Error(
                "GATEHOUSE_OIDC_CLIENT_SECRET is empty.", hint="Set the secret the provider gave.", id="gatehouse.E041"
            )
        )
    try:
        config.group_roles()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="gatehouse.E042"))
    return errors
