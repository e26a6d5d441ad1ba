"""Hub-compatible API routes, the download route and the portal pages for repos.

`repo_type` is the API's plural ('models', 'datasets'); web routes have an optional 'datasets/'
prefix. Revisions may contain slashes (they arrive %2F-decoded), so they are matched greedily and
split against the repo's refs in the views.
"""

from django.urls import path, re_path

from registry import download, portal
from registry.api import files, history, manage, repos

app_name = "registry"

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
WEB = rf"^(?:(?P<repo_type>datasets)/)?{NS}"

api_urlpatterns = [
    re_path(r"^api/(?P<repo_type>models|datasets)$", repos.RepoListView.as_view(), name="api-list"),
    re_path(rf"{API}$", repos.RepoInfoView.as_view(), name="api-info"),
    re_path(rf"{API}/revision/(?P<revision>.+)$", repos.RepoInfoView.as_view(), name="api-info-revision"),
    re_path(rf"{API}/tree/(?P<rest>.+)$", files.TreeView.as_view(), name="api-tree"),
    re_path(rf"{API}/paths-info/(?P<revision>.+)$", files.PathsInfoView.as_view(), name="api-paths-info"),
    re_path(rf"{API}/refs$", history.RefsView.as_view(), name="api-refs"),
    re_path(rf"{API}/commits/(?P<revision>.+)$", history.CommitsView.as_view(), name="api-commits"),
    re_path(rf"{API}/auth-check$", repos.AuthCheckView.as_view(), name="api-auth-check"),
    re_path(rf"{API}/auth-check/write$", repos.AuthCheckWriteView.as_view(), name="api-auth-check-write"),
    re_path(rf"{API}/settings$", manage.RepoSettingsView.as_view(), name="api-settings"),
]

web_urlpatterns = [
    path("", portal.HomeView.as_view(), name="home"),
    re_path(r"^(?P<repo_type>models|datasets)$", portal.RepoListPage.as_view(), name="list"),
    re_path(rf"{WEB}/resolve/(?P<rest>.+)$", download.ResolveView.as_view(), name="resolve"),
    re_path(rf"{WEB}/tree/(?P<rest>.+)$", portal.TreePage.as_view(), name="tree"),
    re_path(rf"{WEB}/blob/(?P<rest>.+)$", portal.BlobPage.as_view(), name="blob"),
    re_path(rf"{WEB}/commits/(?P<revision>.+)$", portal.CommitsPage.as_view(), name="commits"),
    re_path(rf"{WEB}$", portal.RepoPage.as_view(), name="repo"),
    re_path(r"^(?P<namespace>[^/]+)$", portal.NamespacePage.as_view(), name="namespace"),
]
