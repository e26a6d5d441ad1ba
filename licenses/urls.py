from django.urls import re_path

from licenses import api, views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
# The namespace can never be 'datasets' (reserved), so '/datasets/a/license' stays the page of dataset a/license.
WEB = r"^(?:(?P<repo_type>datasets)/)?(?P<namespace>(?!datasets/)[^/]+)/(?P<name>[^/]+)"
LICENSE_ID = r"(?P<license_id>[A-Za-z0-9][A-Za-z0-9.+-]{0,63})"

api_urlpatterns = [
    re_path(r"^api/licenses$", api.CatalogueView.as_view(), name="api-catalogue"),
    re_path(rf"^api/licenses/{LICENSE_ID}$", api.CatalogueEntryView.as_view(), name="api-catalogue-entry"),
    re_path(r"^api/license-acknowledgments$", api.MyAcknowledgmentsView.as_view(), name="api-mine"),
    re_path(rf"{API}/license$", api.RepoLicenseView.as_view(), name="api-repo-license"),
    re_path(rf"{API}/license/accept$", api.LicenseAcceptView.as_view(), name="api-accept"),
    re_path(rf"{API}/license/acknowledgments$", api.RepoAcknowledgmentsView.as_view(), name="api-acknowledgments"),
    re_path(rf"{API}/license/settings$", api.RepoLicenseSettingsView.as_view(), name="api-settings"),
    re_path(rf"{API}/derivatives$", api.DerivativesView.as_view(), name="api-derivatives"),
]

web_urlpatterns = [
    re_path(r"^licenses$", views.CataloguePage.as_view(), name="catalogue"),
    re_path(rf"^licenses/{LICENSE_ID}$", views.CatalogueEntryPage.as_view(), name="catalogue-entry"),
    re_path(r"^settings/licenses$", views.MyAcknowledgmentsPage.as_view(), name="mine"),
    re_path(rf"{WEB}/license$", views.RepoLicensePage.as_view(), name="repo-license"),
    re_path(rf"{WEB}/license/acknowledgments$", views.RepoAcknowledgmentsPage.as_view(), name="acknowledgments"),
    re_path(rf"{WEB}/derivatives$", views.DerivativesPage.as_view(), name="derivatives"),
]
