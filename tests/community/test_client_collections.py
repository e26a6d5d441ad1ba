"""The real huggingface_hub client on collections: create (and exists_ok), get, list (owner, item,
sort, limit), update metadata (slug follows the title, id stays), add items (models, datasets,
collections; exists_ok), update and delete items, delete (missing_ok); and what it sees of private
collections and of items it may not see."""

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_collection_round_trip(hub, alice, bob):
    api = HfApi(token=token_for(alice))
    make_repo(alice, "painter", {"README.md": b"# painter\n"})
    make_repo(alice, "prompts", {"data.csv": b"a,b\n"}, repo_type="dataset")

    created = api.create_collection("ICCV 2023", description="Models I presented")
    namespace, tail = created.slug.split("/")
    assert namespace == "alice" and tail.startswith("iccv-2023-") and len(tail.rsplit("-", 1)[1]) == 24
    assert created.title == "ICCV 2023" and created.owner["name"] == "alice" and created.owner["type"] == "user"
    assert created.items == [] and created.private is False and created.description == "Models I presented"
    assert created.url == f"{hub}/collections/{created.slug}" and created.last_updated.tzinfo is not None

    again = api.create_collection("ICCV 2023", exists_ok=True)
    assert again.slug == created.slug
    with pytest.raises(HfHubHTTPError) as conflict:
        api.create_collection("ICCV 2023")
    assert conflict.value.response.status_code == 409

    with_model = api.add_collection_item(created.slug, "alice/painter", "model", note="The *best* one")
    assert [(i.item_id, i.item_type, i.position, i.note) for i in with_model.items] == [
        ("alice/painter", "model", 0, "The *best* one")
    ]
    api.add_collection_item(created.slug, "alice/prompts", "dataset")
    other = api.create_collection("Favourites")
    nested = api.add_collection_item(created.slug, other.slug, "collection")
    assert [(i.item_id, i.item_type) for i in nested.items] == [
        ("alice/painter", "model"),
        ("alice/prompts", "dataset"),
        (other.slug, "collection"),
    ]
    same = api.add_collection_item(created.slug, "alice/painter", "model", exists_ok=True)
    assert len(same.items) == 3
    with pytest.raises(HfHubHTTPError) as duplicate:
        api.add_collection_item(created.slug, "alice/painter", "model")
    assert duplicate.value.response.status_code == 409
    with pytest.raises(RepositoryNotFoundError):
        api.add_collection_item(created.slug, "alice/nope", "model")
    with pytest.raises(HfHubHTTPError) as space:
        api.add_collection_item(created.slug, "alice/demo", "space")
    assert space.value.response.status_code == 404

    items = api.get_collection(created.slug).items
    api.update_collection_item(created.slug, items[2].item_object_id, position=0, note="Start here")
    api.update_collection_item(created.slug, items[0].item_object_id, note="")
    reordered = api.get_collection(created.slug).items
    assert [(i.item_id, i.position, i.note) for i in reordered] == [
        (other.slug, 0, "Start here"),
        ("alice/painter", 1, None),
        ("alice/prompts", 2, None),
    ]
    api.delete_collection_item(created.slug, reordered[2].item_object_id)
    api.delete_collection_item(created.slug, reordered[2].item_object_id, missing_ok=True)
    with pytest.raises(HfHubHTTPError) as gone:
        api.delete_collection_item(created.slug, reordered[2].item_object_id)
    assert gone.value.response.status_code == 404

    updated = api.update_collection_metadata(
        created.slug, title="ICCV Oct. 2023", description="New", private=True, theme="pink", position=1
    )
    assert updated.slug == f"alice/iccv-oct-2023-{tail.rsplit('-', 1)[1]}"
    assert (updated.title, updated.description, updated.private, updated.theme, updated.position) == (
        "ICCV Oct. 2023",
        "New",
        True,
        "pink",
        1,
    )
    assert api.get_collection(created.slug).title == "ICCV Oct. 2023", "the old slug still reaches it"
    with pytest.raises(HfHubHTTPError) as bad_theme:
        api.update_collection_metadata(updated.slug, theme="rainbow")
    assert bad_theme.value.response.status_code == 400

    listed = list(api.list_collections(owner="alice"))
    assert [c.slug for c in listed] == [updated.slug, other.slug]
    assert [c.title for c in api.list_collections(item="models/alice/painter")] == ["ICCV Oct. 2023"]
    assert len(list(api.list_collections(owner="alice", limit=1))) == 1
    assert list(api.list_collections(owner="alice", sort="upvotes"))

    # A private collection is missing to others, in the listing too.
    bob_api = HfApi(token=token_for(bob))
    with pytest.raises(HfHubHTTPError) as hidden:
        bob_api.get_collection(updated.slug)
    assert hidden.value.response.status_code == 404
    assert [c.slug for c in bob_api.list_collections(owner="alice")] == [other.slug]
    with pytest.raises(HfHubHTTPError) as not_bobs:
        bob_api.delete_collection(updated.slug)
    assert not_bobs.value.response.status_code == 404

    api.delete_collection(updated.slug)
    api.delete_collection(updated.slug, missing_ok=True)
    with pytest.raises(HfHubHTTPError) as deleted:
        api.get_collection(updated.slug)
    assert deleted.value.response.status_code == 404


def test_items_of_repos_the_caller_cannot_see_are_never_shown(hub, alice, bob):
    """alice's public collection holds her private repo between two public ones: bob and anonymous
    callers see the two public ones at positions 0 and 1, and cannot find the collection by it."""
    make_repo(alice, "first")
    make_repo(alice, "secret-weights", private=True)
    make_repo(alice, "last")
    api = HfApi(token=token_for(alice))
    slug = api.create_collection("Mixed").slug
    for name in ("first", "secret-weights", "last"):
        api.add_collection_item(slug, f"alice/{name}", "model")
    assert [i.item_id for i in api.get_collection(slug).items] == ["alice/first", "alice/secret-weights", "alice/last"]

    for viewer in (HfApi(token=token_for(bob)), HfApi(token=False)):
        seen = viewer.get_collection(slug)
        assert [(i.item_id, i.position) for i in seen.items] == [("alice/first", 0), ("alice/last", 1)]
        assert "secret" not in str(seen.items)
        assert list(viewer.list_collections(item="models/alice/secret-weights")) == []
        assert [i.item_id for i in next(iter(viewer.list_collections(owner="alice"))).items] == [
            "alice/first",
            "alice/last",
        ]
    # bob cannot add alice's private repo to his own collection: it is missing to him.
    bob_api = HfApi(token=token_for(bob))
    mine = bob_api.create_collection("Bob's").slug
    with pytest.raises(RepositoryNotFoundError):
        bob_api.add_collection_item(mine, "alice/secret-weights", "model")


def test_org_collections_follow_membership_roles(hub, alice, bob):
    """Private org collections: readers see them, writers change them, strangers see nothing."""
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "write")
    add_member(org, bob, "read")
    stranger = UserFactory(username="sam")
    slug = HfApi(token=token_for(alice)).create_collection("Internal", namespace="acme", private=True).slug
    assert slug.startswith("acme/internal-")

    reader = HfApi(token=token_for(bob))
    assert reader.get_collection(slug).owner["type"] == "org"
    with pytest.raises(HfHubHTTPError) as refused:
        reader.update_collection_metadata(slug, title="Mine now")
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as not_in_org:
        reader.create_collection("Sneaky", namespace="acme")
    assert not_in_org.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as missing:
        HfApi(token=token_for(stranger)).get_collection(slug)
    assert missing.value.response.status_code == 404
    assert HfApi(token=token_for(alice)).get_collection(slug).title == "Internal"
