from django.apps import AppConfig


class OidcProviderConfig(AppConfig):
    name = "tests.support.oidc_provider"
    label = "oidc_provider"
    default_auto_field = "django.db.models.BigAutoField"
