"""The URLconf of requests naming a mirrored namespace (set per request by
mirror.middleware.MirrorRoutingMiddleware): the read routes the Hub client uses, and a refusal
for everything else. Nothing under a mirrored namespace reaches the registry's routes, so no
local repo can answer for it and nothing falls through to the upstream."""

from django.urls import re_path

from mirror import views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
WEB = rf"^(?:(?P<repo_type>datasets)/)?{NS}"

metadata = views.MirrorMetadataView.as_view()

urlpatterns = [
    re_path(rf"{API}$", metadata, name="api-info"),
    re_path(rf"{API}/revision/.+$", metadata, name="api-info-revision"),
    re_path(rf"{API}/tree/.+$", metadata, name="api-tree"),
    re_path(rf"{API}/refs$", metadata, name="api-refs"),
    re_path(rf"{API}/commits/.+$", metadata, name="api-commits"),
    re_path(rf"{API}/paths-info/.+$", views.MirrorPathsInfoView.as_view(), name="api-paths-info"),
    re_path(rf"{API}/.*$", views.MirrorReadOnlyView.as_view(), name="api-other"),
    re_path(rf"{WEB}/resolve/(?P<rest>.+)$", views.MirrorResolveView.as_view(), name="resolve"),
    re_path(rf"{WEB}(?:/.*)?$", views.MirrorReadOnlyView.as_view(), name="web-other"),
    re_path(r"^.*$", views.MirrorNamespaceView.as_view(), name="namespace"),
]
