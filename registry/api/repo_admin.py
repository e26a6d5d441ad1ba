"""Repo creation, deletion and moves (/api/repos/*), and branch and tag management."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import canonical_namespace
from core import edge
from core.api import SignedIn
from core.errors import AuthenticationRequired, BadRequest, Conflict, Forbidden
from core.names import refuse_mirrored_namespace, split_repo_id, validate_namespace_name
from gating.policy import Action, Principal, can_create_in, check_name_takeover, check_verified
from gating.repo_views import RepoAPIView
from registry import services
from registry.api import schema
from registry.models import RepoType

TYPES = {None: RepoType.MODEL, "model": RepoType.MODEL, "dataset": RepoType.DATASET}


def _repo_type(value) -> str:
    if not (value is None or isinstance(value, str)) or value not in TYPES:
        raise BadRequest(f"Unsupported repo type {value!r}; expected 'model' or 'dataset'.")
    return TYPES[value]


def _repo_url(request, repo) -> str:
    # Built from the host the client called: the client only trusts URLs on its endpoint's host.
    return request.build_absolute_uri(repo.web_path)


class RepoCreateView(APIView):
    """POST /api/repos/create {"name", "organization"?, "visibility"?|"private"?, "type"?}"""

    permission_classes = [SignedIn]

    @extend_schema(request=schema.RepoCreateSerializer, responses=schema.RepoCreatedSerializer)
    def post(self, request):
        data = edge.json_object(request)
        principal = Principal.from_request(request)
        name = data.get("name")
        if not isinstance(name, str):
            raise BadRequest("'name' is required.")
        namespace = data.get("organization") or request.user.username
        if not isinstance(namespace, str):
            raise BadRequest("'organization' must be a string.")
        validate_namespace_name(namespace)
        namespace = canonical_namespace(namespace)
        # Not said: the organisation's default visibility (registry.services.repo_create), as on the Hub.
        private = edge.json_private(data, default=None)
        check_verified(principal)
        if not can_create_in(principal, namespace):
            raise Forbidden(f"You don't have the rights to create a repo under the namespace '{namespace}'.")
        repo_type = _repo_type(data.get("type"))
        check_name_takeover(principal, repo_type, namespace, name)
        try:
            repo = services.repo_create(
                namespace=namespace, name=name, repo_type=repo_type, private=private, creator=request.user
            )
        except Conflict as exc:
            # The client reads `url` from the 409 of create_repo(exist_ok=True). The caller may
            # create in this namespace, so it may see what is there.
            prefix = "" if repo_type == RepoType.MODEL else f"{repo_type}s/"
            exc.extra["url"] = request.build_absolute_uri(f"/{prefix}{namespace}/{name}")
            raise
        return Response({"url": _repo_url(request, repo), "name": repo.repo_id, "id": f"{repo.pk:024x}"})


class BodyAddressedRepoView(RepoAPIView):
    """Routes that name the repo in the JSON body ({"name", "organization", "type"})."""

    def repo_lookup(self, request, kwargs) -> tuple[str, str]:
        if not request.user.is_authenticated:
            raise AuthenticationRequired()
        data = edge.json_object(request)
        name = data.get("name")
        if not isinstance(name, str):
            raise BadRequest("'name' is required.")
        namespace = data.get("organization") or request.user.username
        if "/" in name and not data.get("organization"):
            namespace, name = split_repo_id(name)
        return _repo_type(data.get("type")), f"{namespace}/{name}"


class RepoDeleteView(BodyAddressedRepoView):
    """DELETE /api/repos/delete {"name", "organization"?, "type"?}"""

    repo_actions = {"DELETE": Action.MANAGE}

    @extend_schema(
        description='DELETE /api/repos/delete with a JSON body {"name", "organization"?, "type"?}.',
        responses={200: schema.DeletedSerializer},
    )
    def delete(self, request):
        services.repo_delete(repo=self.repo)
        return Response({"deleted": True})


class RepoMoveView(BodyAddressedRepoView):
    """POST /api/repos/move {"fromRepo": "a/b", "toRepo": "c/d", "type"?}"""

    repo_actions = {"POST": Action.MANAGE}

    def repo_lookup(self, request, kwargs) -> tuple[str, str]:
        if not request.user.is_authenticated:
            raise AuthenticationRequired()
        data = edge.json_object(request)
        return _repo_type(data.get("type")), str(data.get("fromRepo", ""))

    @extend_schema(request=schema.RepoMoveSerializer, responses=schema.RepoUrlSerializer)
    def post(self, request):
        to_namespace, to_name = split_repo_id(str(request.data.get("toRepo", "")))
        refuse_mirrored_namespace(to_namespace)
        to_namespace = canonical_namespace(to_namespace)
        if to_namespace != self.repo.namespace and not can_create_in(self.principal, to_namespace):
            raise Forbidden(f"You don't have the rights to create a repo under the namespace '{to_namespace}'.")
        check_name_takeover(self.principal, self.repo.repo_type, to_namespace, to_name)
        with transaction.atomic():
            repo = services.repo_move(repo=self.repo, to_namespace=to_namespace, to_name=to_name)
        return Response({"url": _repo_url(request, repo)})


class BranchView(RepoAPIView):
    """POST|DELETE /api/{type}s/{ns}/{name}/branch/{branch}"""

    repo_actions = {"POST": Action.WRITE, "DELETE": Action.WRITE}

    @extend_schema(request=schema.BranchCreateSerializer, responses=schema.RefSerializer)
    def post(self, request, namespace, name, branch, repo_type=None):
        data = edge.json_object(request)
        starting_point = data.get("startingPoint")
        if starting_point is not None and not isinstance(starting_point, str):
            raise BadRequest("'startingPoint' must be a revision name.")
        ref = services.branch_create(repo=self.repo, branch=branch, starting_point=starting_point)
        return Response({"name": branch, "ref": ref.name, "targetCommit": ref.commit_oid})

    @extend_schema(responses={200: schema.DeletedSerializer})
    def delete(self, request, namespace, name, branch, repo_type=None):
        services.branch_delete(repo=self.repo, branch=branch)
        return Response({"deleted": True})


class TagView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/tag/{revision} {"tag", "message"?}; DELETE .../tag/{tag}"""

    repo_actions = {"POST": Action.WRITE, "DELETE": Action.WRITE}

    @extend_schema(request=schema.TagCreateSerializer, responses=schema.RefSerializer)
    def post(self, request, namespace, name, revision, repo_type=None):
        data = edge.json_object(request)
        tag, message = data.get("tag"), data.get("message") or ""
        if not isinstance(tag, str) or not isinstance(message, str):
            raise BadRequest("'tag' (and 'message', if given) must be strings.")
        ref = services.tag_create(repo=self.repo, tag=tag, revision=revision, message=message)
        return Response({"name": tag, "ref": ref.name, "targetCommit": ref.commit_oid})

    @extend_schema(responses={200: schema.DeletedSerializer})
    def delete(self, request, namespace, name, revision, repo_type=None):
        services.tag_delete(repo=self.repo, tag=revision)
        return Response({"deleted": True})
