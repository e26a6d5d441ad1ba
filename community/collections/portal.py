"""Portal pages for collections: a listing (all, or one namespace's) and a collection's page.
The same access rule and item filter as the API (community.collections.access, .selectors)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from accounts.auth import authenticate_request
from community.collections import access, selectors
from core.errors import HubError
from gating.policy import Principal
from gating.repo_views import render_error

PAGE_SIZE = 30


class CollectionView(View):
    """Pages read bearer tokens as repo pages do (gating.repo_views.RepoView); a bad one is refused."""

    def dispatch(self, request, *args, **kwargs):
        try:
            authenticate_request(request)
        except HubError as exc:
            return render_error(request, exc)
        return super().dispatch(request, *args, **kwargs)


class CollectionListPage(CollectionView):
    """GET /collections[?owner=] and /collections/{namespace}: visible collections, with their
    first visible items."""

    def get(self, request, namespace=None):
        principal = Principal.from_request(request)
        owner = namespace or request.GET.get("owner") or ""
        if namespace:
            queryset = selectors.collections_of_namespace(principal, namespace)
        else:
            queryset = selectors.collections_listed(
                principal, owners=[owner] if owner else [], items=[], sort="lastModified"
            )
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        for collection in page:
            collection.shown_items = collection.visible_items[: selectors.LISTED_ITEMS]  # type: ignore[attr-defined]
        return render(request, "community/collections.html", {"page": page, "owner": owner})


class CollectionPage(CollectionView):
    """GET /collections/{namespace}/{slug}: the collection and the items the viewer may see."""

    def get(self, request, namespace, slug):
        principal = Principal.from_request(request)
        try:
            collection = access.resolve_collection(principal, namespace, slug)
        except HubError as exc:
            return render_error(request, exc)
        context = {
            "collection": collection,
            "items": selectors.items_for(principal, collection),
            "can_edit": access.may_edit(principal, collection),
        }
        return render(request, "community/collection.html", context)
