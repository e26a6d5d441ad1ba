"""Like routes: POST/DELETE /api/{type}s/{ns}/{name}/like, GET .../likers (repo-scoped, through
the policy bases) and GET /api/users/{username}/likes (filtered by the policy's visibility)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from community.likes import schema, services
from community.models import Like
from core.api import AllowAnyone
from core.errors import NotFound
from core.pagination import next_page_link, page_bounds
from core.timeutil import isoformat_z
from gating.policy import Action, Principal, repos_visible_to
from gating.repo_views import RepoAPIView
from registry.models import Repo

PAGE_PARAMETERS = [OpenApiParameter("limit", int), OpenApiParameter("cursor", str)]


def _page(request, queryset, render):
    size = settings.GATEHOUSE_LIST_PAGE_SIZE
    offset, size = page_bounds(request, default_size=size, max_size=size)
    rows = list(queryset[offset : offset + size + 1])
    response = Response([render(row) for row in rows[:size]])
    if len(rows) > size:
        response["Link"] = next_page_link(request, offset + size)
    return response


class LikeView(RepoAPIView):
    """POST likes the repo, DELETE (`unlike`) takes the like back; both idempotent. Liking is a
    signed-in act, like posting: a read token cannot (Action.PARTICIPATE)."""

    repo_actions = {"POST": Action.PARTICIPATE, "DELETE": Action.PARTICIPATE}

    def _state(self, liked: bool) -> Response:
        likes = Repo.objects.filter(pk=self.repo.pk).values_list("likes", flat=True).first() or 0
        return Response({"liked": liked, "likes": likes})

    @extend_schema(operation_id="repo_like", request=None, responses=schema.LikeStateSerializer)
    def post(self, request, namespace, name, repo_type=None):
        services.like_create(user=request.user, repo=self.repo)
        return self._state(True)

    @extend_schema(operation_id="repo_unlike", request=None, responses=schema.LikeStateSerializer)
    def delete(self, request, namespace, name, repo_type=None):
        services.like_delete(user=request.user, repo=self.repo)
        return self._state(False)


class LikersView(RepoAPIView):
    """GET …/likers: list_repo_likers, newest first, paginated by Link."""

    repo_actions = {"GET": Action.VIEW}

    @extend_schema(operation_id="repo_likers", parameters=PAGE_PARAMETERS, responses=schema.LikerSerializer(many=True))
    def get(self, request, namespace, name, repo_type=None):
        likes = Like.objects.filter(repo=self.repo).select_related("user").order_by("-created_at", "-pk")
        return _page(
            request,
            likes,
            lambda like: {
                "user": like.user.username,
                "fullname": like.user.display_name,
                "avatarUrl": None,
                "type": "user",
                "isPro": False,
            },
        )


class UserLikesView(APIView):
    """GET /api/users/{username}/likes: list_liked_repos. SECURITY: only repos the *caller* may see
    (the liker may see more than the caller)."""

    permission_classes = [AllowAnyone]

    @extend_schema(operation_id="user_likes", parameters=PAGE_PARAMETERS, responses=schema.LikeSerializer(many=True))
    def get(self, request, username):
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise NotFound("User not found")
        visible = repos_visible_to(Principal.from_request(request)).values("pk")
        likes = Like.objects.filter(user=user, repo__in=visible).select_related("repo").order_by("-created_at", "-pk")
        return _page(
            request,
            likes,
            lambda like: {
                "createdAt": isoformat_z(like.created_at),
                "repo": {"name": like.repo.repo_id, "type": like.repo.repo_type},
            },
        )
