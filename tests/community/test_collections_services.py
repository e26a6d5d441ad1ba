"""The collection services' ordering and naming rules: positions stay 0..n-1 through creations,
moves and deletions (of collections and of items), and titles are unique per owner by slug."""

import pytest

from community.collections import services
from community.models import Collection, CollectionItem
from core.errors import Conflict
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db


def _order(alice) -> list[tuple[str, int]]:
    return list(Collection.objects.filter(owner_user=alice).order_by("position").values_list("title", "position"))


def test_collection_positions_follow_moves_and_deletions(alice):
    a, b, c = (services.collection_create(owner=alice, title=title) for title in ("A", "B", "C"))
    assert _order(alice) == [("A", 0), ("B", 1), ("C", 2)]
    services.collection_update(collection=c, changes={"position": 0})
    assert _order(alice) == [("C", 0), ("A", 1), ("B", 2)]
    services.collection_update(collection=c, changes={"position": 99})
    assert _order(alice) == [("A", 0), ("B", 1), ("C", 2)]
    services.collection_delete(collection=Collection.objects.get(pk=a.pk))
    assert _order(alice) == [("B", 0), ("C", 1)]
    assert services.collection_create(owner=alice, title="D").position == 2


def test_titles_are_unique_per_owner_by_slug(alice, bob):
    first = services.collection_create(owner=alice, title="My Models")
    with pytest.raises(Conflict) as taken:
        services.collection_create(owner=alice, title="my   models!")
    assert taken.value.extra == {"slug": first.slug}
    assert services.collection_create(owner=bob, title="My Models").title_slug == "my-models"
    other = services.collection_create(owner=alice, title="Other")
    with pytest.raises(Conflict):
        services.collection_update(collection=other, changes={"title": "My models"})
    assert Collection.objects.get(pk=other.pk).title == "Other"
    assert services.collection_create(owner=alice, title="???").slug.startswith("alice/collection-")


def test_item_positions_follow_moves_and_deletions(alice):
    collection = services.collection_create(owner=alice, title="Items")
    repos = [make_repo(alice, name) for name in ("r0", "r1", "r2")]
    items = [services.collection_item_add(collection=collection, repo=repo) for repo in repos]

    def order():
        rows = CollectionItem.objects.filter(collection=collection).order_by("position")
        return [(row.repo.name, row.position) for row in rows]

    assert order() == [("r0", 0), ("r1", 1), ("r2", 2)]
    every = {item.pk for item in items}
    services.collection_item_update(item=items[2], visible=every, position=0, note="first")
    assert order() == [("r2", 0), ("r0", 1), ("r1", 2)]
    services.collection_item_delete(item=items[0])
    services.collection_item_update(item=items[1], visible=every, position=5)
    assert order() == [("r2", 0), ("r1", 1)]
    assert CollectionItem.objects.get(pk=items[2].pk).note == "first"
    with pytest.raises(Conflict):
        services.collection_item_add(collection=collection, repo=repos[1])
