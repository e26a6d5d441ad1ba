"""Who may see and change a collection: the one place that decides it.

- Public collections are visible to everyone; private ones to their owner user, or to every
  member of their owning org (any role). SECURITY: a collection the caller cannot see answers
  exactly like one that does not exist (the same 404, status and body).
- Changing a collection (its metadata, its items, deleting it) needs the owner, or the write or
  admin role in the owning org, and a token that may write (read tokens never do).
- Creating one in a namespace needs the write or admin role there, as changing one does
  (`policy.namespace_role`; an org's contributors create repos, not collections).
- Tokens (gating.policy.check_token): seeing a private collection takes collection.read on its
  owner, changing or creating one collection.write (classic read tokens read, write tokens write;
  a fine-grained token must name the owner).

Seeing a collection says nothing about its items: each is shown only to callers who may see
what it points at (community.collections.selectors)."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import Membership, Role
from community.models import Collection
from core.errors import AuthenticationRequired, Forbidden, NotFound
from gating.policy import (
    Principal,
    check_token,
    check_verified,
    holds,
    namespace_entities,
    namespace_role,
    namespace_scope_q,
)

_PUBLIC_ID = re.compile(r"^[0-9a-f]{24}$")


class CollectionNotFound(NotFound):
    default_message = "Collection not found"


def collections_visible_q(principal: Principal) -> Q:
    public = Q(private=False)
    if principal.user is None:
        return public
    member_orgs = Membership.objects.filter(user=principal.user).values("org_id")
    own = Q(owner_user=principal.user) | Q(owner_org_id__in=member_orgs)
    scope = namespace_scope_q(principal, permissions.COLLECTION_READ)
    return public | (own if scope is None else own & scope)


def _owner_entities(collection: Collection) -> tuple[tuple[str, int | None], ...]:
    return ((permissions.USER, collection.owner_user_id), (permissions.ORG, collection.owner_org_id))


def collections_visible_to(principal: Principal) -> QuerySet[Collection]:
    return Collection.objects.filter(collections_visible_q(principal)).select_related("owner_user", "owner_org")


def public_id_of(slug: str) -> str | None:
    """The id at the end of a slug (`namespace/title-slug-<id>`, or its last segment alone)."""
    tail = slug.rsplit("/", 1)[-1].rsplit("-", 1)[-1].lower()
    return tail if _PUBLIC_ID.match(tail) else None


def resolve_collection(principal: Principal, namespace: str, slug_tail: str, *, edit: bool = False) -> Collection:
    """The collection `namespace/slug_tail` names, if the caller may see it (and, with `edit`,
    change it). The title part of the slug is not checked: a renamed collection keeps its id, and
    old links keep working, as on the Hub. The namespace must be the owner's."""
    public_id = public_id_of(slug_tail)
    found = collections_visible_to(principal).filter(public_id=public_id).first() if public_id else None
    if found is None or found.namespace.lower() != namespace.lower():
        raise CollectionNotFound()
    if edit:
        check_edit(principal, found)
    return found


def collection_role(principal: Principal, collection: Collection) -> str | None:
    user = principal.user
    if user is None:
        return None
    if collection.owner_user_id is not None:
        return Role.ADMIN if collection.owner_user_id == user.pk else None
    return Membership.objects.filter(org_id=collection.owner_org_id, user=user).values_list("role", flat=True).first()


def may_edit(principal: Principal, collection: Collection) -> bool:
    return holds(principal, permissions.COLLECTION_WRITE, _owner_entities(collection)) and collection_role(
        principal, collection
    ) in (Role.WRITE, Role.ADMIN)


def check_edit(principal: Principal, collection: Collection) -> None:
    if principal.user is None:
        raise AuthenticationRequired()
    check_verified(principal)  # collections are shown to others, as posts are
    if collection_role(principal, collection) not in (Role.WRITE, Role.ADMIN):
        raise Forbidden(f"You don't have write access to the collection {collection.slug}.")
    check_token(principal, permissions.COLLECTION_WRITE, _owner_entities(collection), what="make changes")


def check_create(principal: Principal, namespace: str) -> None:
    if principal.user is None:
        raise AuthenticationRequired()
    check_verified(principal)
    check_token(principal, permissions.COLLECTION_WRITE, namespace_entities(principal, namespace), what="make changes")
    if namespace_role(principal, namespace) not in (Role.WRITE, Role.ADMIN):  # contributors create repos only
        raise Forbidden(f"You don't have the rights to create a collection in {namespace[:100]}.")
