"""OpenAPI description of Gatehouse's bearer tokens (loaded by AccountsConfig.ready)."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal access token (gth_...)."}


class GatehouseSessionScheme(SessionScheme):
    """The portal's session cookie (core.bodies.SessionAuthentication: DRF's, with a CSRF check
    that reads at most 64 KiB of a body)."""

    target_class = "core.bodies.SessionAuthentication"
