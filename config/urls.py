from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from accounts.api import RevokeLeakedView, WhoAmIView
from community import operators as community_operators
from community import urls as community_urls
from core import health, metrics
from core import views as core_views
from gating import operators as gating_operators
from gating import urls as gating_urls
from githttp import urls as githttp_urls
from licenses import urls as licenses_urls
from mirror import api as mirror_api
from registry.api import deleted as deleted_repos
from registry.urls import (
    api_urlpatterns,
    download_urlpatterns,
    lfs_urlpatterns,
    namespaceless_urlpatterns,
    web_urlpatterns,
)
from webhooks import urls as webhook_urls
from workers import urls as preview_urls
from xet import urls as xet_urls

# Operators' pages and routes (User.is_operator; missing to everyone else), under reserved names.
operator_urlpatterns = [
    path("admin/reports", community_operators.ReportQueuePage.as_view(), name="reports"),
    path("admin/takedowns", gating_operators.TakedownsPage.as_view(), name="takedowns"),
    path("api/repos/takedown", gating_operators.TakedownView.as_view(), name="api-takedown"),
    path("api/repos/takedown/lift", gating_operators.TakedownLiftView.as_view(), name="api-takedown-lift"),
]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"

urlpatterns = [
    path("", include((download_urlpatterns, "registry"), namespace="download")),
    # Public endpoints the Hub client calls implicitly.
    path("api/agent-harnesses", core_views.agent_harnesses, name="agent-harnesses"),
    re_path(r"^api/telemetry(?:/(?P<topic>.*))?$", core_views.telemetry, name="telemetry"),
    path("api/whoami-v2", WhoAmIView.as_view(), name="whoami"),
    path("api/credentials/revoke", RevokeLeakedView.as_view(), name="credentials-revoke"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include((gating_urls.api_urlpatterns, "gating"), namespace="gating-api")),
    path("", include((licenses_urls.api_urlpatterns, "licenses"), namespace="licenses-api")),
    path("", include((community_urls.api_urlpatterns, "community"), namespace="community-api")),
    path("", include((xet_urls.api_urlpatterns, "xet"), namespace="xet-api")),
    path("", include((xet_urls.cas_urlpatterns, "xet"), namespace="xet-cas")),
    path("", include((deleted_repos.urlpatterns, "registry"), namespace="deleted-repos")),
    path("", include((operator_urlpatterns, "operators"), namespace="operators")),
    path("", include((api_urlpatterns, "registry"), namespace="api")),
    path("", include((lfs_urlpatterns, "registry"), namespace="lfs")),
    path("", include((githttp_urls.urlpatterns, "githttp"), namespace="githttp")),
    path("", include((preview_urls.api_urlpatterns, "workers"), namespace="previews-api")),
    path("", include((webhook_urls.api_urlpatterns, "webhooks"), namespace="webhooks-api")),
    path("", include((mirror_api.api_urlpatterns, "mirror"), namespace="mirror-api")),
    path("", include("accounts.urls")),
    path("", include((gating_urls.web_urlpatterns, "gating"), namespace="gating")),
    path("", include((licenses_urls.web_urlpatterns, "licenses"), namespace="licenses")),
    path("", include((community_urls.web_urlpatterns, "community"), namespace="community")),
    path("", include((preview_urls.web_urlpatterns, "workers"), namespace="previews")),
    path("", include((webhook_urls.web_urlpatterns, "webhooks"), namespace="webhooks")),
    path("", include((web_urlpatterns, "registry"), namespace="registry")),
    # Last: ids without a namespace answer RepoNotFound only where no other route matched.
    path("", include((namespaceless_urlpatterns, "registry"), namespace="namespaceless")),
]
