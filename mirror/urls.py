"""The URLconf of requests naming a mirrored namespace (set per request by
mirror.middleware.MirrorRoutingMiddleware): the read routes the Hub client uses, and a refusal
for everything else. Nothing under a mirrored namespace reaches the registry's routes, so no
local repo can answer for it and nothing falls through to the upstream."""

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from mirror import license_views, portal, views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"


def repo_patterns(repo: str) -> list:
    """The routes of mirrored repos whose id the regex `repo` matches (`namespace/name`, or a
    namespace-less id for mirror.legacy_urls)."""
    api = rf"^api/(?P<repo_type>models|datasets)/{repo}"
    web = rf"^(?:(?P<repo_type>datasets)/)?{repo}"
    # CSRF: paths-info is a read sent as POST; the others only refuse (read-only) or answer 404.
    metadata = views.MirrorMetadataView.as_view()
    read_only = csrf_exempt(views.MirrorReadOnlyView.as_view())
    return [
        re_path(rf"{api}$", metadata, name="api-info"),
        re_path(rf"{api}/revision/.+$", metadata, name="api-info-revision"),
        re_path(rf"{api}/tree/.+$", metadata, name="api-tree"),
        re_path(rf"{api}/refs$", metadata, name="api-refs"),
        re_path(rf"{api}/commits/.+$", metadata, name="api-commits"),
        re_path(rf"{api}/paths-info/.+$", csrf_exempt(views.MirrorPathsInfoView.as_view()), name="api-paths-info"),
        re_path(rf"{api}/license$", license_views.MirrorLicenseView.as_view(), name="api-license"),
        # CSRF: the API accepts with a token only (sessions accept on the page, which checks it).
        re_path(
            rf"{api}/license/accept$",
            csrf_exempt(license_views.MirrorLicenseAcceptView.as_view()),
            name="api-license-accept",
        ),
        re_path(rf"{api}/.*$", read_only, name="api-other"),
        re_path(rf"{web}/resolve/(?P<rest>.+)$", views.MirrorResolveView.as_view(), name="resolve"),
        re_path(rf"{web}$", portal.MirrorRepoPage.as_view(), name="repo"),
        re_path(rf"{web}/mirror-purge$", portal.MirrorPurgeView.as_view(), name="purge"),
        re_path(rf"{web}/license$", license_views.MirrorLicensePage.as_view(), name="license"),
        re_path(rf"{web}(?:/.*)?$", read_only, name="web-other"),
        re_path(r"^.*$", csrf_exempt(views.MirrorNamespaceView.as_view()), name="namespace"),
    ]


urlpatterns = repo_patterns(NS)
