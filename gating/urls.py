from django.urls import path, re_path

from gating import account_deletion_views, api, views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}/user-access-request"
WEB = rf"^(?:(?P<repo_type>datasets)/)?{NS}"

api_urlpatterns = [
    re_path(rf"{API}/(?P<status>pending|accepted|rejected)$", api.AccessRequestListView.as_view(), name="list"),
    re_path(rf"{API}/handle$", api.AccessRequestHandleView.as_view(), name="handle"),
    re_path(rf"{API}/grant$", api.AccessGrantView.as_view(), name="grant"),
    re_path(rf"{API}/reset$", api.AccessRequestResetView.as_view(), name="reset"),
]

web_urlpatterns = [
    path("settings/account/delete", account_deletion_views.AccountDeleteView.as_view(), name="account_delete"),
    re_path(rf"{WEB}/ask-access$", views.AskAccessView.as_view(), name="ask-access"),
    re_path(rf"{WEB}/access-requests$", views.AccessQueueView.as_view(), name="queue"),
    re_path(rf"{WEB}/gating$", views.GatingSettingsView.as_view(), name="settings"),
    re_path(rf"{WEB}/audit$", views.AuditView.as_view(), name="audit"),
]
