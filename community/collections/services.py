"""Every write to collections. The API decided who may make it (community.collections.access) and
which repo or collection an item points at (through `gating.policy`); these check the values."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Organization, User
from community.models import Collection, CollectionItem, CollectionTheme
from community.services.common import clean_text
from core.errors import BadRequest, Conflict
from registry.models import Repo

MAX_TITLE = 100
MAX_DESCRIPTION = 150
MAX_NOTE = 500
MAX_ITEMS = 1000
MAX_COLLECTIONS_PER_OWNER = 1000


def _title(value: object) -> str:
    return " ".join(clean_text(value, field="title", max_length=MAX_TITLE).split())


def _title_slug(title: str) -> str:
    return slugify(title)[:100].strip("-") or "collection"


def _position(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest("'position' must be a non-negative integer.")
    return value


def _owned_by(*, owner: User | Organization):
    if isinstance(owner, User):
        return Collection.objects.filter(owner_user=owner)
    return Collection.objects.filter(owner_org=owner)


def _same_title(*, owner: User | Organization, title_slug: str, exclude: int | None = None) -> Collection | None:
    return _owned_by(owner=owner).filter(title_slug=title_slug).exclude(pk=exclude).first()


def _lock_owner(owner: User | Organization) -> None:
    """Changes to one owner's set of collections (titles, positions) are made one at a time."""
    type(owner).objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True).first()


@transaction.atomic
def collection_create(
    *, owner: User | Organization, title: object, description: object = None, private: object = False
) -> Collection:
    """A new collection, last of its owner's. A title its owner already uses is a 409 that names
    the existing collection's slug (the client's `exists_ok` reads it)."""
    title = _title(title)
    description = clean_text(description, field="description", max_length=MAX_DESCRIPTION, required=False)
    if not isinstance(private, bool):
        raise BadRequest("'private' must be true or false.")
    slug = _title_slug(title)
    _lock_owner(owner)
    existing = _same_title(owner=owner, title_slug=slug)
    if existing is not None:
        raise Conflict(f"You already have a collection named {title}", extra={"slug": existing.slug})
    count = _owned_by(owner=owner).count()
    if count >= MAX_COLLECTIONS_PER_OWNER:
        raise BadRequest(f"A namespace may own at most {MAX_COLLECTIONS_PER_OWNER} collections.")
    return Collection.objects.create(
        owner_user=owner if isinstance(owner, User) else None,
        owner_org=owner if isinstance(owner, Organization) else None,
        title=title,
        title_slug=slug,
        description=description,
        private=private,
        position=count,
    )


@transaction.atomic
def collection_update(*, collection: Collection, changes: dict[str, Any]) -> Collection:
    """Changes among title, description, private, theme and position (the collection's place
    among its owner's); a value that is null or absent is left as it is."""
    collection = (
        Collection.objects.select_for_update(of=("self",))
        .select_related("owner_user", "owner_org")
        .get(pk=collection.pk)
    )
    _lock_owner(collection.owner)
    if changes.get("title") is not None:
        collection.title = _title(changes["title"])
        collection.title_slug = _title_slug(collection.title)
        if _same_title(owner=collection.owner, title_slug=collection.title_slug, exclude=collection.pk) is not None:
            raise Conflict(f"You already have a collection named {collection.title}")
    if changes.get("description") is not None:
        collection.description = clean_text(
            changes["description"], field="description", max_length=MAX_DESCRIPTION, required=False
        )
    if changes.get("private") is not None:
        if not isinstance(changes["private"], bool):
            raise BadRequest("'private' must be true or false.")
        collection.private = changes["private"]
    if changes.get("theme") is not None:
        if changes["theme"] not in CollectionTheme.values:
            raise BadRequest(f"'theme' must be one of {', '.join(CollectionTheme.values)}.")
        collection.theme = changes["theme"]
    collection.last_updated = timezone.now()
    collection.save()
    if changes.get("position") is not None:
        _move(
            list(_owned_by(owner=collection.owner).order_by("position", "pk")),
            collection.pk,
            _position(changes["position"]),
        )
        collection.refresh_from_db(fields=["position"])
    return collection


def _move(rows: list, pk: int, position: int) -> None:
    """Renumber `rows` (in order) 0..n-1 with row `pk` at `position` (or last)."""
    moving = next(row for row in rows if row.pk == pk)
    rows = [row for row in rows if row.pk != pk]
    rows.insert(min(position, len(rows)), moving)
    _renumber(rows)


@transaction.atomic
def collection_delete(*, collection: Collection) -> None:
    """Deletes the collection and its items (not what they point at); the owner's other
    collections close the gap it leaves."""
    owner = collection.owner
    _lock_owner(owner)
    Collection.objects.filter(pk=collection.pk).delete()
    rest = list(_owned_by(owner=owner).order_by("position", "pk"))
    if rest:
        _move(rest, rest[-1].pk, len(rest))


def _touch(collection: Collection) -> Collection:
    """Locks the collection (items are numbered under it) and marks it updated."""
    locked = Collection.objects.select_for_update().get(pk=collection.pk)
    Collection.objects.filter(pk=locked.pk).update(last_updated=timezone.now())
    return locked


@transaction.atomic
def collection_item_add(
    *, collection: Collection, repo: Repo | None = None, target: Collection | None = None, note: object = None
) -> CollectionItem:
    """Appends a repo or another collection (exactly one). Already there: a 409."""
    if (repo is None) == (target is None):
        raise BadRequest("An item is a repo or a collection.")
    if target is not None and target.pk == collection.pk:
        raise BadRequest("A collection cannot contain itself.")
    note = clean_text(note, field="note", max_length=MAX_NOTE, required=False)
    _touch(collection)
    items = CollectionItem.objects.filter(collection=collection)
    if (repo is not None and items.filter(repo=repo).exists()) or (
        target is not None and items.filter(target=target).exists()
    ):
        raise Conflict("This item is already in the collection.")
    if items.count() >= MAX_ITEMS:
        raise BadRequest(f"A collection holds at most {MAX_ITEMS} items.")
    top = items.aggregate(top=Max("position"))["top"]
    return CollectionItem.objects.create(
        collection=collection,
        item_type="collection" if repo is None else repo.repo_type,
        repo=repo,
        target=target,
        note=note,
        position=0 if top is None else top + 1,
    )


@transaction.atomic
def collection_item_update(
    *, item: CollectionItem, visible: set[int], note: object = None, position: object = None
) -> None:
    """`position` counts among the items the caller sees (`visible`: their pks), as the listing
    numbers them. SECURITY: the items hidden from the caller keep their places, and the visible
    ones are reordered among the places they hold, so a move tells nothing of a hidden item."""
    _touch(item.collection)
    if note is not None:
        CollectionItem.objects.filter(pk=item.pk).update(
            note=clean_text(note, field="note", max_length=MAX_NOTE, required=False)
        )
    if position is not None:
        rows = list(CollectionItem.objects.filter(collection_id=item.collection_id).order_by("position", "pk"))
        _renumber(rows)
        shown = [row for row in rows if row.pk in visible or row.pk == item.pk]
        slots = [row.position for row in shown]
        moving = next(row for row in shown if row.pk == item.pk)
        shown.remove(moving)
        shown.insert(min(_position(position), len(shown)), moving)
        changed = []
        for row, slot in zip(shown, slots, strict=True):
            if row.position != slot:
                row.position = slot
                changed.append(row)
        CollectionItem.objects.bulk_update(changed, ["position"])


def _renumber(rows: list) -> None:
    """Positions 0..n-1 in order (rows saved by older versions may have gaps or ties)."""
    changed = []
    for index, row in enumerate(rows):
        if row.position != index:
            row.position = index
            changed.append(row)
    if changed:
        type(rows[0]).objects.bulk_update(changed, ["position"])


@transaction.atomic
def collection_item_delete(*, item: CollectionItem) -> None:
    _touch(item.collection)
    CollectionItem.objects.filter(pk=item.pk).delete()
