"""Discussion routes: the Hub API under /api/{type}s/{ns}/{name}/discussions and the portal's
community tab under /{[datasets/]}{ns}/{name}/discussions."""

from django.urls import re_path

from community import api, portal, portal_thread
from registry.urls import API, WEB

NUM = r"(?P<num>[0-9]{1,9})"
COMMENT = r"(?P<comment_id>[0-9A-Fa-f]{1,64})"

api_urlpatterns = [
    re_path(rf"{API}/discussions$", api.DiscussionsView.as_view(), name="api-discussions"),
    re_path(rf"{API}/discussions/{NUM}$", api.DiscussionDetailView.as_view(), name="api-discussion"),
    re_path(rf"{API}/discussions/{NUM}/comment$", api.CommentView.as_view(), name="api-comment"),
    re_path(rf"{API}/discussions/{NUM}/title$", api.TitleView.as_view(), name="api-title"),
    re_path(rf"{API}/discussions/{NUM}/status$", api.StatusView.as_view(), name="api-status"),
    re_path(rf"{API}/discussions/{NUM}/merge$", api.MergeView.as_view(), name="api-merge"),
    re_path(rf"{API}/discussions/{NUM}/comment/{COMMENT}/edit$", api.CommentEditView.as_view(), name="api-edit"),
    re_path(rf"{API}/discussions/{NUM}/comment/{COMMENT}/hide$", api.CommentHideView.as_view(), name="api-hide"),
    re_path(rf"{API}/discussions/{NUM}/pin$", api.PinView.as_view(), name="api-pin"),
    re_path(rf"{API}/discussions/{NUM}/lock$", api.LockView.as_view(), name="api-lock"),
    re_path(rf"{API}/discussions/{NUM}/report$", api.ReportView.as_view(), name="api-report"),
    re_path(rf"{API}/community-settings$", api.CommunitySettingsView.as_view(), name="api-settings"),
]

web_urlpatterns = [
    re_path(rf"{WEB}/discussions$", portal.CommunityPage.as_view(), name="list"),
    re_path(rf"{WEB}/discussions/new$", portal.NewThreadPage.as_view(), name="new"),
    re_path(rf"{WEB}/discussions/{NUM}$", portal_thread.ThreadPage.as_view(), name="thread"),
    re_path(rf"{WEB}/discussions/{NUM}/files$", portal_thread.PullRequestFilesPage.as_view(), name="files"),
]
