"""Preview routes: the API under /api/models/{ns}/{name}/..., pages under /{ns}/{name}/...

Models only (previews render text-to-image pipelines). Every view is repo-scoped and inherits the
policy gate of RepoAPIView / RepoView (tests/test_routes.py checks this).
"""

from django.urls import re_path

from workers import api, portal

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/models/{NS}"
WEB = rf"^{NS}"
UUID = r"[0-9a-fA-F-]{36}"

api_urlpatterns = [
    re_path(rf"{API}/previews$", api.PreviewListView.as_view(), name="api-previews"),
    re_path(rf"{API}/previews/verdicts$", api.PreviewVerdictsView.as_view(), name="api-preview-verdicts"),
    re_path(rf"{API}/previews/(?P<preview_id>{UUID})$", api.PreviewDetailView.as_view(), name="api-preview"),
    re_path(rf"{API}/preview-settings$", api.PreviewSettingsView.as_view(), name="api-preview-settings"),
    re_path(rf"{API}/bias-reports$", api.BiasReportListView.as_view(), name="api-bias-reports"),
    re_path(rf"{API}/bias-reports/(?P<report_id>{UUID})$", api.BiasReportDetailView.as_view(), name="api-bias-report"),
]

web_urlpatterns = [
    re_path(rf"{WEB}/previews$", portal.PreviewHistoryPage.as_view(), name="previews"),
    re_path(rf"{WEB}/previews/settings$", portal.PreviewSettingsPage.as_view(), name="preview-settings"),
    re_path(rf"{WEB}/previews/(?P<preview_id>{UUID})$", portal.PreviewDetailPage.as_view(), name="preview"),
    re_path(rf"{WEB}/previews/(?P<preview_id>{UUID})/image$", portal.PreviewImageView.as_view(), name="preview-image"),
    re_path(rf"{WEB}/bias-reports$", portal.BiasReportListPage.as_view(), name="bias-reports"),
    re_path(rf"{WEB}/bias-reports/(?P<report_id>{UUID})$", portal.BiasReportPage.as_view(), name="bias-report"),
    re_path(
        rf"{WEB}/bias-reports/(?P<report_id>{UUID})/images/(?P<cell_id>\d+)$",
        portal.BiasImageView.as_view(),
        name="bias-image",
    ),
]
