"""System checks of Gatehouse's own, for `manage.py check --deploy`."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string


@checks.register(checks.Tags.security, deploy=True)
def check_csrf_middleware(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """In place of Django's security.W003 (silenced in settings), which knows only its own class
    by name: some subclass of CsrfViewMiddleware must be installed."""
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return []
    return [
        checks.Error(
            "No CSRF middleware: no subclass of django.middleware.csrf.CsrfViewMiddleware is in MIDDLEWARE.",
            id="gatehouse.E018",
        )
    ]
