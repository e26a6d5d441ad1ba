"""Routes of the gating app. config/urls.py includes them *before* the registry's web routes,
whose `{ns}/{name}` catch-alls would otherwise take `/{ns}/{name}/ask-access` and friends.

Web routes refuse the namespace `datasets` (a reserved name): without that, the model-style
reading of `datasets/{ns}/access-requests` would shadow the page of a dataset called
`access-requests`.
"""

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from gating import api, portal, portal_admin

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
WEB = r"^(?:(?P<repo_type>datasets)/)?(?!datasets/)(?P<namespace>[^/]+)/(?P<name>[^/]+)"

api_urlpatterns = [
    re_path(
        rf"{API}/user-access-request/(?P<status>pending|accepted|rejected)$",
        api.AccessRequestListView.as_view(),
        name="access-requests",
    ),
    re_path(rf"{API}/user-access-request/handle$", api.AccessRequestHandleView.as_view(), name="access-handle"),
    re_path(rf"{API}/user-access-request/grant$", api.AccessGrantView.as_view(), name="access-grant"),
    re_path(rf"{API}/release$", api.ReleasePlanView.as_view(), name="release"),
    re_path(
        rf"{API}/release/(?P<operation>advance|pause|resume|rollback)$",
        api.ReleaseActionView.as_view(),
        name="release-action",
    ),
]

web_urlpatterns = [
    # csrf_exempt: bearer-token scripts post JSON here; the view enforces CSRF for cookie sessions.
    re_path(rf"{WEB}/ask-access$", csrf_exempt(portal.AskAccessPage.as_view()), name="ask-access"),
    re_path(rf"{WEB}/access-requests$", portal.AccessQueuePage.as_view(), name="queue"),
    re_path(rf"{WEB}/access-requests/export\.(?P<fmt>json|csv)$", portal.AccessReportExport.as_view(), name="report"),
    re_path(rf"{WEB}/access-requests/settings$", portal_admin.AccessSettingsAction.as_view(), name="settings"),
    re_path(rf"{WEB}/release$", portal_admin.ReleasePlanPage.as_view(), name="release"),
    re_path(rf"{WEB}/audit$", portal_admin.AuditPage.as_view(), name="audit"),
    re_path(rf"{WEB}/audit/export\.(?P<fmt>json|csv)$", portal_admin.AuditExport.as_view(), name="audit-export"),
]
