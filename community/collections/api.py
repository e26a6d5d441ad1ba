"""The Hub's collection routes (`/api/collections...`), as huggingface_hub calls them.

Not repo-scoped, so not RepoAPIViews: each resolves the collection through
community.collections.access first (invisible = missing), and every repo an item names through
`gating.policy.resolve_repo` (a repo the caller cannot see cannot be added, and answers like a
missing one). tests/test_routes.py lists these routes with that reason."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organization, User
from accounts.selectors import canonical_namespace
from community.collections import access, schema, selectors, services
from community.collections.serializers import collection_json
from community.models import Collection
from core import edge
from core.api import AllowAnyone
from core.errors import BadRequest, NotFound, RepoMoved
from core.pagination import next_page_link, page_bounds
from gating.policy import Action, Principal, resolve_repo
from registry.models import Repo


class CollectionsView(APIView):
    """GET /api/collections?owner=&item=&sort=&limit=: the collections the caller may see.
    POST /api/collections {title, namespace, description?, private?}: create_collection."""

    permission_classes = [AllowAnyone]

    @extend_schema(
        operation_id="collections_list",
        parameters=schema.COLLECTION_LIST_PARAMETERS,
        responses=schema.CollectionSerializer(many=True),
    )
    def get(self, request):
        sort = request.GET.get("sort") or "lastModified"
        if sort not in selectors.SORTS:
            raise BadRequest(f"Unknown sort {sort[:50]!r}; expected one of {', '.join(selectors.SORTS)}.")
        owners = [owner for owner in request.GET.getlist("owner") if owner][:20]
        items = [item for item in request.GET.getlist("item") if item][:20]
        principal = Principal.from_request(request)
        queryset = selectors.collections_listed(principal, owners=owners, items=items, sort=sort)
        size = settings.GATEHOUSE_LIST_PAGE_SIZE
        offset, size = page_bounds(request, default_size=size, max_size=size)
        rows = list(queryset[offset : offset + size + 1])
        # The client numbers listed collections itself (`Collection(position=..., **data)`): a
        # `position` key in a listed collection is a TypeError there, so listings leave it out.
        response = Response([_listed(row) for row in rows[:size]])
        if len(rows) > size:
            response["Link"] = next_page_link(request, offset + size)
        return response

    @extend_schema(
        operation_id="collections_create",
        request=schema.CollectionCreateSerializer,
        responses=schema.CollectionSerializer,
    )
    def post(self, request):
        data = edge.json_object(request)
        principal = Principal.from_request(request)
        namespace = data.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            raise BadRequest("'namespace' must be a user or organization name.")
        namespace = canonical_namespace(namespace)
        access.check_create(principal, namespace)
        owner: User | Organization
        if principal.user is not None and namespace == principal.user.username:
            owner = principal.user
        else:
            owner = Organization.objects.get(name=namespace)
        collection = services.collection_create(
            owner=owner,
            title=data.get("title"),
            description=data.get("description"),
            private=data.get("private", False),
        )
        return Response(_answer(principal, _reloaded(collection)))


def _answer(principal: Principal, collection: Collection) -> dict:
    items = selectors.items_for(principal, collection)
    return collection_json(collection, items, position=selectors.visible_position(principal, collection))


def _listed(collection: Collection) -> dict:
    visible = collection.visible_items[: selectors.LISTED_ITEMS]  # type: ignore[attr-defined]
    data = collection_json(collection, visible, position=0)
    del data["position"]
    return data


def _reloaded(collection: Collection) -> Collection:
    return Collection.objects.select_related("owner_user", "owner_org").get(pk=collection.pk)


class CollectionView(APIView):
    """GET, PATCH (update_collection_metadata) and DELETE /api/collections/{namespace}/{slug}."""

    permission_classes = [AllowAnyone]

    @extend_schema(operation_id="collections_get", responses=schema.CollectionSerializer)
    def get(self, request, namespace, slug):
        principal = Principal.from_request(request)
        collection = access.resolve_collection(principal, namespace, slug)
        return Response(_answer(principal, collection))

    @extend_schema(
        operation_id="collections_update",
        request=schema.CollectionUpdateSerializer,
        responses=schema.CollectionUpdatedSerializer,
    )
    def patch(self, request, namespace, slug):
        principal = Principal.from_request(request)
        collection = access.resolve_collection(principal, namespace, slug, edit=True)
        collection = services.collection_update(collection=collection, changes=edge.json_object(request))
        collection = _reloaded(collection)
        return Response({"success": True, "data": _answer(principal, collection)})

    @extend_schema(operation_id="collections_delete", request=None, responses=schema.SuccessSerializer)
    def delete(self, request, namespace, slug):
        collection = access.resolve_collection(Principal.from_request(request), namespace, slug, edit=True)
        services.collection_delete(collection=collection)
        return Response({"success": True})


class CollectionItemsView(APIView):
    """POST /api/collections/{namespace}/{slug}/items {item: {id, type}, note?}: add_collection_item."""

    permission_classes = [AllowAnyone]

    @extend_schema(
        operation_id="collections_item_add",
        request=schema.CollectionItemAddSerializer,
        responses=schema.CollectionSerializer,
    )
    def post(self, request, namespace, slug):
        principal = Principal.from_request(request)
        collection = access.resolve_collection(principal, namespace, slug, edit=True)
        data = edge.json_object(request)
        item = data.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("type"), str):
            raise BadRequest("'item' must be an object with a string 'id' and 'type'.")
        kind, item_id = item["type"], item["id"]
        if kind in ("model", "dataset"):
            services.collection_item_add(
                collection=collection, repo=_visible_repo(principal, kind, item_id), note=data.get("note")
            )
        elif kind == "collection":
            target_namespace, _, target_slug = item_id.partition("/")
            target = access.resolve_collection(principal, target_namespace, target_slug)
            services.collection_item_add(collection=collection, target=target, note=data.get("note"))
        else:
            raise NotFound(f"No such {kind[:20]}: this hub hosts models, datasets and collections only.")
        collection = _reloaded(collection)
        return Response(_answer(principal, collection))


def _visible_repo(principal: Principal, repo_type: str, repo_id: str) -> Repo:
    """SECURITY: the policy's answer for a repo the caller cannot see is the missing repo's."""
    if repo_id.startswith(("models/", "datasets/")):  # the client's docs show "datasets/climate_fever"
        repo_id = repo_id.split("/", 1)[1]
    if repo_id.count("/") != 1:
        raise BadRequest(f"Invalid repo id {repo_id[:100]!r}: expected namespace/name.")
    try:
        return resolve_repo(principal, repo_type, repo_id, Action.VIEW).repo
    except RepoMoved as moved:
        return resolve_repo(principal, repo_type, moved.new_id, Action.VIEW).repo


class CollectionItemView(APIView):
    """PATCH (update_collection_item {note?, position?}) and DELETE (delete_collection_item)
    /api/collections/{namespace}/{slug}/items/{item_id}. Items the caller cannot see are missing."""

    permission_classes = [AllowAnyone]

    def _item(self, request, namespace, slug, item_id):
        principal = Principal.from_request(request)
        collection = access.resolve_collection(principal, namespace, slug, edit=True)
        found = selectors.visible_items_of(principal).filter(collection=collection, public_id=item_id.lower()).first()
        if found is None:
            raise NotFound("Item not found in this collection")
        return found

    @extend_schema(
        operation_id="collections_item_update",
        request=schema.CollectionItemUpdateSerializer,
        responses=schema.SuccessSerializer,
    )
    def patch(self, request, namespace, slug, item_id):
        item = self._item(request, namespace, slug, item_id)
        data = edge.json_object(request)
        visible = {row.pk for row in selectors.items_for(Principal.from_request(request), item.collection)}
        services.collection_item_update(
            item=item, visible=visible, note=data.get("note"), position=data.get("position")
        )
        return Response({"success": True})

    @extend_schema(operation_id="collections_item_delete", request=None, responses=schema.SuccessSerializer)
    def delete(self, request, namespace, slug, item_id):
        services.collection_item_delete(item=self._item(request, namespace, slug, item_id))
        return Response({"success": True})
