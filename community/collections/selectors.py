"""Reads of collections for a caller whose access to the collection itself was already decided
(community.collections.access). SECURITY: an item is listed only when the caller may see what it
points at: repos through `gating.policy`'s visibility (private, deleted and moved-away repos of
others stay out), nested collections through the collections' own rule. Positions are renumbered
among the visible items, so a gap cannot tell that something is hidden."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from community.collections.access import collections_visible_to, public_id_of
from community.models import Collection, CollectionItem
from gating.policy import Principal, repos_visible_to

# The Hub's listings carry the first items of each collection only (hf_api.list_collections).
LISTED_ITEMS = 4
SORTS = {"lastModified": ("-last_updated",), "trending": ("-upvotes", "-last_updated"), "upvotes": ("-upvotes",)}


def visible_items_q(principal: Principal) -> Q:
    return Q(repo__in=repos_visible_to(principal).values("pk")) | Q(
        target__in=collections_visible_to(principal).values("pk")
    )


def visible_items_of(principal: Principal) -> QuerySet[CollectionItem]:
    return (
        CollectionItem.objects.filter(visible_items_q(principal))
        .select_related("repo", "target__owner_user", "target__owner_org")
        .order_by("position", "pk")
    )


def items_for(principal: Principal, collection: Collection) -> list[CollectionItem]:
    return list(visible_items_of(principal).filter(collection=collection))


def collections_listed(principal: Principal, *, owners: list[str], items: list[str], sort: str) -> QuerySet[Collection]:
    """The caller's view of the collections, newest (or most upvoted) first, with their visible
    items prefetched into `visible_items`. `items` are `models/ns/name`, `datasets/ns/name` or
    `collections/ns/slug`: only items the caller may see match (no test for hidden repos)."""
    queryset = collections_visible_to(principal)
    if owners:
        owner_q = Q()
        for owner in owners:
            owner_q |= Q(owner_user__username__iexact=owner) | Q(owner_org__name__iexact=owner)
        queryset = queryset.filter(owner_q)
    for item in items:
        queryset = queryset.filter(pk__in=_containing(principal, item))
    return queryset.order_by(*SORTS[sort], "-pk").prefetch_related(
        Prefetch("items", queryset=visible_items_of(principal), to_attr="visible_items")
    )


def _containing(principal: Principal, item: str) -> QuerySet[CollectionItem, int]:
    kind, _, rest = item.partition("/")
    namespace, _, name = rest.partition("/")
    found = visible_items_of(principal)
    if kind in ("models", "datasets") and name:
        return found.filter(
            repo__repo_type=kind[:-1], repo__namespace__iexact=namespace, repo__name__iexact=name
        ).values_list("collection_id", flat=True)
    if kind == "collections" and name:
        return found.filter(target__public_id=public_id_of(name) or "").values_list("collection_id", flat=True)
    return found.none().values_list("collection_id", flat=True)


def collections_of_namespace(principal: Principal, namespace: str) -> QuerySet[Collection]:
    return collections_listed(principal, owners=[namespace], items=[], sort="lastModified").order_by(
        "position", "-last_updated", "-pk"
    )
