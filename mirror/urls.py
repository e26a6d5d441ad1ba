"""The URLconf of requests naming a mirrored namespace (set per request by
mirror.middleware.MirrorRoutingMiddleware): the read routes the Hub client uses, and a refusal
for everything else. Nothing under a mirrored namespace reaches the registry's routes, so no
local repo can answer for it and nothing falls through to the upstream."""

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from mirror import views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
WEB = rf"^(?:(?P<repo_type>datasets)/)?{NS}"

# CSRF: paths-info is a read sent as POST; the others only refuse (read-only) or answer 404.
metadata = views.MirrorMetadataView.as_view()
paths_info = csrf_exempt(views.MirrorPathsInfoView.as_view())
read_only = csrf_exempt(views.MirrorReadOnlyView.as_view())

urlpatterns = [
    re_path(rf"{API}$", metadata, name="api-info"),
    re_path(rf"{API}/revision/.+$", metadata, name="api-info-revision"),
    re_path(rf"{API}/tree/.+$", metadata, name="api-tree"),
    re_path(rf"{API}/refs$", metadata, name="api-refs"),
    re_path(rf"{API}/commits/.+$", metadata, name="api-commits"),
    re_path(rf"{API}/paths-info/.+$", paths_info, name="api-paths-info"),
    re_path(rf"{API}/.*$", read_only, name="api-other"),
    re_path(rf"{WEB}/resolve/(?P<rest>.+)$", views.MirrorResolveView.as_view(), name="resolve"),
    re_path(rf"{WEB}$", views.MirrorRepoPage.as_view(), name="repo"),
    re_path(rf"{WEB}/mirror-purge$", views.MirrorPurgeView.as_view(), name="purge"),
    re_path(rf"{WEB}(?:/.*)?$", read_only, name="web-other"),
    re_path(r"^.*$", csrf_exempt(views.MirrorNamespaceView.as_view()), name="namespace"),
]
