"""git's smart HTTP routes, at the repo's web path with or without `.git` (datasets under /datasets/)."""

from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from githttp import views

app_name = "githttp"

# "api" is the API's namespace, never a repo's; a trailing ".git" is not part of the name.
GIT_REPO = r"^(?!api/)(?:(?P<repo_type>datasets)/)?(?P<namespace>[^/]+)/(?P<name>[^/]+?)(?:\.git)?"

# SECURITY: csrf_exempt is safe here: git sends no cookies, a token authenticates each request
# (never the session: RepoView reads Basic only where `accepts_basic_auth`), and the POSTs carry
# content types a browser cannot send cross-site without a preflight.
urlpatterns = [
    re_path(rf"{GIT_REPO}/info/refs$", csrf_exempt(views.InfoRefsView.as_view()), name="info-refs"),
    re_path(rf"{GIT_REPO}/git-upload-pack$", csrf_exempt(views.UploadPackView.as_view()), name="upload-pack"),
    re_path(rf"{GIT_REPO}/git-receive-pack$", csrf_exempt(views.ReceivePackView.as_view()), name="receive-pack"),
]
