"""Hub-compatible API routes, the download route and the portal pages for repos.

`repo_type` is the API's plural ('models', 'datasets'); web routes have an optional 'datasets/'
prefix. Revisions may contain slashes (they arrive %2F-decoded), so they are matched greedily and
split against the repo's refs in the views.
"""

from django.urls import path, re_path

from registry.api import commit, files, history, housekeeping, manage, repo_admin, repos, validate
from registry.views import download, lfs, portal, portal_write, repo_settings

app_name = "registry"

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"
WEB = rf"^(?:(?P<repo_type>datasets)/)?{NS}"

api_urlpatterns = [
    re_path(r"^api/repos/create$", repo_admin.RepoCreateView.as_view(), name="api-repo-create"),
    re_path(r"^api/repos/delete$", repo_admin.RepoDeleteView.as_view(), name="api-repo-delete"),
    re_path(r"^api/repos/move$", repo_admin.RepoMoveView.as_view(), name="api-repo-move"),
    re_path(r"^api/validate-yaml$", validate.ValidateYamlView.as_view(), name="api-validate-yaml"),
    re_path(r"^api/(?P<repo_type>models|datasets)$", repos.RepoListView.as_view(), name="api-list"),
    re_path(rf"{API}$", repos.RepoInfoView.as_view(), name="api-info"),
    re_path(rf"{API}/revision/(?P<revision>.+)$", repos.RepoInfoAtRevisionView.as_view(), name="api-info-revision"),
    re_path(rf"{API}/tree/(?P<rest>.+)$", files.TreeView.as_view(), name="api-tree"),
    re_path(rf"{API}/paths-info/(?P<revision>.+)$", files.PathsInfoView.as_view(), name="api-paths-info"),
    re_path(rf"{API}/refs$", history.RefsView.as_view(), name="api-refs"),
    re_path(rf"{API}/commits/(?P<revision>.+)$", history.CommitsView.as_view(), name="api-commits"),
    re_path(rf"{API}/auth-check$", repos.AuthCheckView.as_view(), name="api-auth-check"),
    re_path(rf"{API}/auth-check/write$", repos.AuthCheckWriteView.as_view(), name="api-auth-check-write"),
    re_path(rf"{API}/settings$", manage.RepoSettingsView.as_view(), name="api-settings"),
    re_path(rf"{API}/branch/(?P<branch>.+)$", repo_admin.BranchView.as_view(), name="api-branch"),
    re_path(rf"{API}/tag/(?P<revision>.+)$", repo_admin.TagView.as_view(), name="api-tag"),
    re_path(rf"{API}/preupload/(?P<revision>.+)$", commit.PreuploadView.as_view(), name="api-preupload"),
    re_path(rf"{API}/commit/(?P<revision>.+)$", commit.CommitView.as_view(), name="api-commit"),
    re_path(rf"{API}/super-squash/(?P<branch>.+)$", housekeeping.SuperSquashView.as_view(), name="api-super-squash"),
    re_path(rf"{API}/lfs-files$", housekeeping.LfsFilesView.as_view(), name="api-lfs-files"),
    re_path(rf"{API}/lfs-files/batch$", housekeeping.LfsFilesBatchView.as_view(), name="api-lfs-files-batch"),
]

LFS_REPO = r"^(?:(?P<repo_type>datasets)/)?(?P<namespace>[^/]+)/(?P<name>[^/]+?)\.git/info/lfs/objects"
lfs_urlpatterns = [
    re_path(rf"{LFS_REPO}/batch$", lfs.LfsBatchView.as_view(), name="lfs-batch"),
    re_path(rf"{LFS_REPO}/verify$", lfs.LfsVerifyView.as_view(), name="lfs-verify"),
    re_path(r"^lfs/objects/(?P<oid>[^/]+)$", lfs.LfsUploadView.as_view(), name="lfs-upload"),
    re_path(r"^lfs/objects/(?P<oid>[^/]+)/parts/(?P<number>[0-9]{1,6})$", lfs.LfsPartView.as_view(), name="lfs-part"),
    re_path(r"^lfs/objects/(?P<oid>[^/]+)/complete$", lfs.LfsCompleteView.as_view(), name="lfs-complete"),
]

# The download route is the hottest one (a HEAD before every file a client fetches): it is tried
# first, so that resolving a download does not walk every other app's patterns (about a third
# of a HEAD's cost before). It cannot shadow them: "api" is a reserved namespace, excluded here,
# and every other route differs in its third path segment.
download_urlpatterns = [
    re_path(rf"^(?!api/){WEB[1:]}/resolve/(?P<rest>.+)$", download.ResolveView.as_view(), name="resolve"),
]

# Ids without a namespace (`gpt2`): tried after every other route (config.urls), so that they
# never shadow a route of a real repo; the empty `namespace` group makes the id `/gpt2`, which the
# policy answers as missing (gating.policy.resolve_repo).
ONE = r"(?P<namespace>)(?P<name>[^/]+)"
API_ROUTES = (
    "revision|tree|paths-info|refs|commits|auth-check|settings|branch|tag|preupload|commit|discussions|"
    "xet-read-token|xet-write-token|super-squash|lfs-files|user-access-request|treesize|likers|scan"
)
namespaceless_urlpatterns = [
    re_path(
        rf"^api/(?P<repo_type>models|datasets)/{ONE}(?:/(?:{API_ROUTES})(?:/.*)?)?$",
        repos.NamespacelessRepoAPIView.as_view(),
        name="api-namespaceless",
    ),
    re_path(
        rf"^(?:(?P<repo_type>datasets)/)?{ONE}/resolve/(?P<rest>.+)$",
        download.NamespacelessResolveView.as_view(),
        name="resolve-namespaceless",
    ),
]

web_urlpatterns = [
    path("", portal.HomeView.as_view(), name="home"),
    re_path(r"^(?P<repo_type>models|datasets)$", portal.RepoListPage.as_view(), name="list"),
    path("new", portal_write.NewRepoView.as_view(), name="new"),
    re_path(rf"{WEB}/tree/(?P<rest>.+)$", portal.TreePage.as_view(), name="tree"),
    re_path(rf"{WEB}/blob/(?P<rest>.+)$", portal.BlobPage.as_view(), name="blob"),
    re_path(rf"{WEB}/commits/(?P<revision>.+)$", portal.CommitsPage.as_view(), name="commits"),
    re_path(rf"{WEB}/upload/(?P<revision>.+)$", portal_write.UploadView.as_view(), name="upload"),
    re_path(rf"{WEB}/edit/(?P<revision>.+)/README\.md$", portal_write.EditCardView.as_view(), name="edit-card"),
    re_path(rf"{WEB}/delete/(?P<rest>.+)$", portal_write.DeleteFileView.as_view(), name="delete-file"),
    re_path(rf"{WEB}/refs$", portal_write.RefsView.as_view(), name="refs"),
    re_path(rf"{WEB}/settings$", repo_settings.RepoSettingsPage.as_view(), name="settings"),
    re_path(rf"{WEB}$", portal.RepoPage.as_view(), name="repo"),
    re_path(r"^(?P<namespace>[^/]+)$", portal.NamespacePage.as_view(), name="namespace"),
]
