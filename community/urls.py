"""Discussion routes: the Hub API under /api/{type}s/{ns}/{name}/discussions and the portal's
community tab under /{[datasets/]}{ns}/{name}/discussions; likes (/api/{type}s/{ns}/{name}/like,
/likers, /api/users/{user}/likes) and collections (/api/collections..., /collections...)."""

from django.urls import re_path

from community import api, portal, portal_thread
from community.collections import api as collections_api
from community.collections import portal as collections_portal
from community.likes import api as likes_api
from community.likes import portal as likes_portal
from registry.urls import API, WEB

NUM = r"(?P<num>[0-9]{1,9})"
COMMENT = r"(?P<comment_id>[0-9A-Fa-f]{1,64})"
COLLECTION = r"^api/collections/(?P<namespace>[^/]+)/(?P<slug>[^/]+)"

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
    re_path(rf"{API}/like$", likes_api.LikeView.as_view(), name="api-like"),
    re_path(rf"{API}/likers$", likes_api.LikersView.as_view(), name="api-likers"),
    re_path(r"^api/users/(?P<username>[^/]+)/likes$", likes_api.UserLikesView.as_view(), name="api-user-likes"),
    re_path(r"^api/collections$", collections_api.CollectionsView.as_view(), name="api-collections"),
    re_path(rf"{COLLECTION}$", collections_api.CollectionView.as_view(), name="api-collection"),
    re_path(rf"{COLLECTION}/items$", collections_api.CollectionItemsView.as_view(), name="api-collection-items"),
    re_path(
        rf"{COLLECTION}/items/(?P<item_id>[^/]+)$",
        collections_api.CollectionItemView.as_view(),
        name="api-collection-item",
    ),
]

web_urlpatterns = [
    re_path(r"^collections$", collections_portal.CollectionListPage.as_view(), name="collections"),
    re_path(
        r"^collections/(?P<namespace>[^/]+)$", collections_portal.CollectionListPage.as_view(), name="collections-of"
    ),
    re_path(
        r"^collections/(?P<namespace>[^/]+)/(?P<slug>[^/]+)$",
        collections_portal.CollectionPage.as_view(),
        name="collection",
    ),
    re_path(rf"{WEB}/like$", likes_portal.LikePage.as_view(), name="like"),
    re_path(rf"{WEB}/discussions$", portal.CommunityPage.as_view(), name="list"),
    re_path(rf"{WEB}/discussions/new$", portal.NewThreadPage.as_view(), name="new"),
    re_path(rf"{WEB}/discussions/{NUM}$", portal_thread.ThreadPage.as_view(), name="thread"),
    re_path(rf"{WEB}/discussions/{NUM}/files$", portal_thread.PullRequestFilesPage.as_view(), name="files"),
]
