"""Repo info, listing and search."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import edge
from core.api import AllowAnyone
from core.errors import BadRequest
from core.http import json_object_stream_response
from core.pagination import next_page_link, page_bounds
from gating.policy import Action, Principal, repos_visible_to
from gating.repo_views import RepoAPIView
from registry.api import schema
from registry.api.serializers import repo_info, repo_summary, siblings
from registry.models import PLURAL_TYPES, Repo, RepoTag
from registry.selectors import resolve_revision

SIBLINGS_INLINE = 1000  # files of repo info answered in one body; more are streamed

SORT_FIELDS = {
    "lastModified": "-last_modified",
    "createdAt": "-created_at",
    "downloads": "-downloads",
    "likes": "-likes",
    "trendingScore": "-downloads",
    "id": "namespace",  # then the name: by id, alphabetically (the repo_id_order index)
}


class RepoInfoView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}[/revision/{rev}]: model_info, repo_exists, resolve_revision."""

    @extend_schema(
        operation_id="repo_info", parameters=schema.REPO_INFO_PARAMETERS, responses=schema.RepoInfoSerializer
    )
    def get(self, request, namespace, name, repo_type=None, revision=None):
        resolved = resolve_revision(self.repo, revision or self.repo.default_branch)
        blobs = edge.query_flag(request, "blobs")
        data = repo_info(self.repo, resolved, blobs=blobs, with_siblings=False)
        # `siblings` lists every file of the tree (model_info, snapshot_download and diffusers need
        # them all): past SIBLINGS_INLINE files the answer is streamed, so a web process's memory
        # does not grow with the tree (issue 17); a small repo's answer is one JSON body, as before.
        files = siblings(resolved, blobs=blobs)
        first = list(itertools.islice(files, SIBLINGS_INLINE + 1))
        if len(first) <= SIBLINGS_INLINE:
            return Response({**data, "siblings": first})
        return json_object_stream_response(data, "siblings", itertools.chain(first, files))


class RepoInfoAtRevisionView(RepoInfoView):
    @extend_schema(
        operation_id="repo_info_at_revision",
        parameters=schema.REPO_INFO_PARAMETERS,
        responses=schema.RepoInfoSerializer,
    )
    def get(self, request, namespace, name, repo_type=None, revision=None):
        return super().get(request, namespace, name, repo_type=repo_type, revision=revision)


class AuthCheckView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}/auth-check[/write]: 200 if the caller may read (or write)."""

    repo_actions = {"GET": Action.DOWNLOAD}

    @extend_schema(responses=schema.AuthCheckSerializer)
    def get(self, request, namespace, name, repo_type=None):
        return Response({"ok": True})


class AuthCheckWriteView(AuthCheckView):
    repo_actions = {"GET": Action.WRITE}


class RepoListView(APIView):
    """GET /api/models and /api/datasets: search, author, filter, sort, cursor pagination.

    Visibility comes from the policy's own list filter, so a listing never shows a repo that its
    detail route would hide."""

    permission_classes = [AllowAnyone]

    @extend_schema(
        operation_id="repo_list",
        parameters=[*schema.REPO_LIST_PARAMETERS, OpenApiParameter("sort", str, enum=list(SORT_FIELDS))],
        responses=schema.RepoListItemSerializer(many=True),
    )
    def get(self, request, repo_type):
        queryset = repos_visible_to(Principal.from_request(request)).filter(repo_type=PLURAL_TYPES[repo_type])
        queryset = self._filter(request, queryset)
        sort = request.GET.get("sort") or "lastModified"
        if sort not in SORT_FIELDS:
            raise BadRequest(f"Unknown sort {sort!r}; expected one of {', '.join(SORT_FIELDS)}.")
        order = [SORT_FIELDS[sort], "name"] if sort == "id" else [SORT_FIELDS[sort]]
        queryset = queryset.order_by(*order, "-pk")
        offset, size = page_bounds(
            request, default_size=settings.GATEHOUSE_LIST_PAGE_SIZE, max_size=settings.GATEHOUSE_LIST_PAGE_SIZE
        )
        rows = list(queryset.prefetch_related("tag_rows")[offset : offset + size + 1])
        items = [self._item(request, repo) for repo in rows[:size]]
        response = Response(items)
        if len(rows) > size:
            response["Link"] = next_page_link(request, offset + size)
        return response

    def _filter(self, request, queryset):
        terms = [term for term in request.GET.getlist("search") if term]
        if terms:
            queryset = queryset.annotate(full_id=Concat("namespace", Value("/"), "name"))
            for term in terms:
                queryset = queryset.filter(full_id__icontains=term)
        if request.GET.get("author"):
            queryset = queryset.filter(namespace__iexact=request.GET["author"])
        tags = [tag for tag in request.GET.getlist("filter") if tag]
        if request.GET.get("pipeline_tag"):
            queryset = queryset.filter(pipeline_tag=request.GET["pipeline_tag"])
        if request.GET.get("library"):
            tags.append(request.GET["library"])
        # One EXISTS per tag (served by the unique (repo, tag) index) rather than a join counted
        # per repo: the page can then be read along the sort's index and stop at its size.
        for tag in sorted(set(tags)):
            queryset = queryset.filter(Exists(RepoTag.objects.filter(repo=OuterRef("pk"), tag=tag)))
        gated = request.GET.get("gated")
        if gated in ("true", "false"):
            queryset = queryset.exclude(gated="") if gated == "true" else queryset.filter(gated="")
        return queryset

    def _item(self, request, repo: Repo) -> dict:
        item = repo_summary(repo)
        item["tags"] = sorted(row.tag for row in repo.tag_rows.all())
        if repo.pipeline_tag:
            item["pipeline_tag"] = repo.pipeline_tag
        if repo.library_name:
            item["library_name"] = repo.library_name
        if edge.query_flag(request, "full") or edge.query_flag(request, "cardData") or request.GET.getlist("expand"):
            resolved = resolve_revision(repo, repo.default_branch)
            full = repo_info(repo, resolved, card=True)
            item["sha"] = full["sha"]
            if edge.query_flag(request, "full"):
                item["siblings"] = full["siblings"]
            if edge.query_flag(request, "cardData") and "cardData" in full:
                item["cardData"] = full["cardData"]
            expand = request.GET.getlist("expand") + request.GET.getlist("expand[]")
            if expand:
                item = {key: value for key, value in {**full, **item}.items() if key in set(expand) | {"id", "_id"}}
        return item


class NamespacelessRepoAPIView(RepoAPIView):
    """/api/{type}s/{id}[/...] for an id without a namespace (`gpt2`): the policy answers it as
    a missing repo (401/404 RepoNotFound), as the Hub does, so `repo_exists` is False."""

    schema = None  # not a route of its own: the Hub routes above, for ids that cannot exist
    repo_actions = {method: Action.VIEW for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")}
