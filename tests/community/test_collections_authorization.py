"""Authorization matrix over every collection route and page, for a public and a private org
collection that holds a public, a gated and a private repo of the org: anonymous, a stranger, the
owner with a read-only token, an org reader, a collaborator (write role) and the owner (admin).

Refused calls change nothing; a private collection answers byte for byte like a missing one; the
private repo's name never reaches a caller who cannot see it (items, listings, item filters)."""

import json

import pytest
from django.db import transaction
from django.test import Client

from community.collections import services
from community.models import Collection, CollectionItem
from registry.models import Repo
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "stranger", "read_token", "reader", "collaborator", "owner"]
MEMBERS = {"read_token", "reader", "collaborator", "owner"}
EDITORS = {"collaborator", "owner"}
SECRET = b"hush-weights"


class World:
    def __init__(self, kind: str):
        owner = UserFactory(username="olivia")
        self.org = OrganizationFactory(name="acme")
        add_member(self.org, owner, "admin")
        reader, collaborator = UserFactory(username="rita"), UserFactory(username="colin")
        add_member(self.org, reader, "read")
        add_member(self.org, collaborator, "write")
        self.public = make_repo(self.org, "open-model", author=owner)
        self.gated = make_repo(self.org, "gated-model", author=owner)
        Repo.objects.filter(pk=self.gated.pk).update(gated="manual")
        self.secret = make_repo(self.org, SECRET.decode(), private=True, author=owner)
        self.collection = services.collection_create(owner=self.org, title="Picks", private=kind == "private")
        for repo in (self.public, self.secret, self.gated):
            services.collection_item_add(collection=self.collection, repo=repo)
        self.tokens = {
            "stranger": token_for(UserFactory(username="sam")),
            "read_token": token_for(owner, role="read"),
            "reader": token_for(reader),
            "collaborator": token_for(collaborator),
            "owner": token_for(owner),
        }

    @property
    def slug(self) -> str:
        return Collection.objects.get(pk=self.collection.pk).slug

    def missing_slug(self) -> str:
        return f"acme/picks-{'0' * 24}"

    def client(self, role: str) -> Client:
        if role == "anonymous":
            return Client()
        return Client(HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}")

    def snapshot(self) -> tuple:
        return (
            sorted(Collection.objects.values_list("title", "description", "private", "theme", "position")),
            sorted(CollectionItem.objects.values_list("collection_id", "repo_id", "note", "position")),
        )


def _call(client: Client, method: str, url: str, body=None):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, "application/json")


def _routes(world: World) -> dict:
    """name -> (method, url for a slug, body, who may call it on a visible collection)."""
    item = CollectionItem.objects.get(collection=world.collection, repo=world.public).public_id
    return {
        "get": ("GET", "/api/collections/{slug}", None, set(ROLES)),
        "update": ("PATCH", "/api/collections/{slug}", {"description": "changed"}, EDITORS),
        "add_item": ("POST", "/api/collections/{slug}/items", {"item": {"id": "acme/extra", "type": "model"}}, EDITORS),
        "update_item": ("PATCH", f"/api/collections/{{slug}}/items/{item}", {"note": "noted"}, EDITORS),
        "delete_item": ("DELETE", f"/api/collections/{{slug}}/items/{item}", None, EDITORS),
        "delete": ("DELETE", "/api/collections/{slug}", None, EDITORS),
    }


class _Undo(Exception):
    """Raised to roll a caller's allowed write back, so the next caller meets the same world."""


@pytest.mark.parametrize("kind", ["public", "private"])
def test_collection_route_matrix(kind):
    world = World(kind)
    make_repo(world.org, "extra")
    routes = _routes(world)
    assert sorted(routes) == ["add_item", "delete", "delete_item", "get", "update", "update_item"]
    for route, (method, url, body, allowed) in routes.items():
        for role in ROLES:
            try:
                with transaction.atomic():
                    _check_call(world, route, role, method, url, body, allowed, kind=kind)
                    raise _Undo
            except _Undo:
                pass


def _check_call(world, route, role, method, url, body, allowed, *, kind):
    sees = kind == "public" or role in MEMBERS
    before = world.snapshot()
    response = _call(world.client(role), method, url.format(slug=world.slug), body)
    if not sees:
        twin = _call(world.client(role), method, url.format(slug=world.missing_slug()), body)
        assert (response.status_code, response.content) == (twin.status_code, twin.content), (route, role)
        assert response.status_code == 404, (route, role)
    elif role in allowed:
        assert response.status_code == 200, (route, role, response.content)
        assert world.snapshot() != before or method == "GET", (route, role)
        assert role in MEMBERS or SECRET not in response.content, (route, role)
        return
    else:
        assert response.status_code == (401 if role == "anonymous" else 403), (route, role, response.content)
    assert SECRET not in response.content, (route, role)
    assert world.snapshot() == before, (route, role)


def test_items_and_listings_hide_what_the_caller_cannot_see():
    world = World("public")
    for role in ROLES:
        client = world.client(role)
        got = client.get(f"/api/collections/{world.slug}").json()
        names = [item["id"] for item in got["items"]]
        listed = client.get("/api/collections?owner=acme").content + client.get("/collections").content
        by_item = client.get(f"/api/collections?item=models/acme/{SECRET.decode()}").json()
        page = client.get(f"/collections/{world.slug}")
        if role in MEMBERS:
            assert names == ["acme/open-model", f"acme/{SECRET.decode()}", "acme/gated-model"], role
            assert [item["position"] for item in got["items"]] == [0, 1, 2]
            assert [c["slug"] for c in by_item] == [world.slug]
            assert SECRET in listed and SECRET in page.content
        else:
            assert names == ["acme/open-model", "acme/gated-model"], role
            assert [item["position"] for item in got["items"]] == [0, 1], "no gap where the hidden item is"
            assert by_item == []
            assert SECRET not in listed and SECRET not in page.content, role
            assert page.status_code == 200 and b"acme/gated-model" in page.content


def test_private_collection_pages_answer_like_missing_ones():
    world = World("private")
    for role in ("anonymous", "stranger"):
        client = world.client(role)
        page, twin = client.get(f"/collections/{world.slug}"), client.get(f"/collections/{world.missing_slug()}")
        assert page.status_code == twin.status_code == 404
        assert b"Picks" not in page.content
        assert b"Picks" not in client.get("/collections/acme").content
        assert client.get("/api/collections?owner=acme").json() == []
    page = world.client("reader").get(f"/collections/{world.slug}")
    assert page.status_code == 200 and b"Picks" in page.content


@pytest.mark.parametrize("namespace", ["acme", "olivia"])
def test_create_matrix(namespace):
    world = World("public")
    allowed = EDITORS if namespace == "acme" else {"owner"}
    for role in ROLES:
        before = Collection.objects.count()
        response = _call(
            world.client(role), "POST", "/api/collections", {"title": f"New {role}", "namespace": namespace}
        )
        if role in allowed:
            assert response.status_code == 200, (role, response.content)
            assert response.json()["slug"].startswith(f"{namespace}/new-{role.replace('_', '-')}-")
            continue
        assert response.status_code == (401 if role == "anonymous" else 403), (role, response.content)
        assert Collection.objects.count() == before


def test_collection_bad_input_is_a_clear_400():
    world = World("public")
    owner = world.client("owner")
    url = f"/api/collections/{world.slug}"
    cases = [
        ("POST", "/api/collections", {"title": "", "namespace": "acme"}),
        ("POST", "/api/collections", {"title": "x" * 101, "namespace": "acme"}),
        ("POST", "/api/collections", {"title": "ok", "namespace": "acme", "description": "d" * 151}),
        ("POST", "/api/collections", {"title": "ok", "namespace": "acme", "private": "yes"}),
        ("POST", "/api/collections", {"title": "ok", "namespace": ["acme"]}),
        ("POST", "/api/collections", [1]),
        ("PATCH", url, {"position": -1}),
        ("PATCH", url, {"position": True}),
        ("PATCH", url, {"theme": "rainbow"}),
        ("PATCH", url, {"title": 7}),
        ("POST", f"{url}/items", {"item": "acme/open-model"}),
        ("POST", f"{url}/items", {"item": {"id": "no-namespace", "type": "model"}}),
        ("POST", f"{url}/items", {"item": {"id": "acme/extra", "type": "model"}, "note": "n" * 501}),
        ("POST", f"{url}/items", {"item": {"id": world.slug, "type": "collection"}}),
        ("GET", "/api/collections?sort=random", None),
        ("GET", "/api/collections?cursor=%%%", None),
    ]
    make_repo(world.org, "extra")
    before = world.snapshot()
    for method, target, body in cases:
        response = _call(owner, method, target, body)
        assert response.status_code == 400, (method, target, body, response.content)
        assert response.json()["error"]
    assert world.snapshot() == before


def test_a_collections_position_counts_only_the_collections_the_caller_may_see():
    """Found by an outsider review: the stored position told how many private collections came first."""
    world = World("private")  # the org's first collection, private
    shown = services.collection_create(owner=world.org, title="Shown", private=False)
    slug = Collection.objects.get(pk=shown.pk).slug
    assert world.client("stranger").get(f"/api/collections/{slug}").json()["position"] == 0
    assert world.client("reader").get(f"/api/collections/{slug}").json()["position"] == 1


def test_namespaces_are_case_insensitive_when_creating():
    world = World("public")
    response = _call(world.client("owner"), "POST", "/api/collections", {"title": "Cased", "namespace": "ACME"})
    assert response.status_code == 200, response.content
    assert response.json()["slug"].startswith("acme/cased-")


def test_moving_an_item_counts_only_the_items_the_caller_may_see():
    """Found by a review: moves counted every row, so an editor who cannot see an item could
    learn where it sits (moving the last visible item to the last visible place reordered them)."""
    world = World("public")
    olivia = world.collection.owner_org.memberships.get(role="admin").user
    diary = make_repo(olivia, "diary", private=True)  # hidden from the org's other editors
    services.collection_item_add(collection=world.collection, repo=diary)
    editor = world.client("collaborator")

    def seen() -> list[str]:
        return [item["id"] for item in editor.get(f"/api/collections/{world.slug}").json()["items"]]

    # The owner puts the hidden item second: open-model, diary, secret, gated-model.
    diary_item = CollectionItem.objects.get(repo=diary).public_id
    _call(world.client("owner"), "PATCH", f"/api/collections/{world.slug}/items/{diary_item}", {"position": 1})
    visible = ["acme/open-model", f"acme/{SECRET.decode()}", "acme/gated-model"]
    assert seen() == visible
    gated = CollectionItem.objects.get(repo=world.gated).public_id
    url = f"/api/collections/{world.slug}/items/{gated}"
    assert _call(editor, "PATCH", url, {"position": 2}).status_code == 200  # where it is already
    assert seen() == visible
    assert _call(editor, "PATCH", url, {"position": 0}).status_code == 200
    assert seen() == ["acme/gated-model", "acme/open-model", f"acme/{SECRET.decode()}"]
    # The hidden item kept its place among all the rows.
    rows = CollectionItem.objects.filter(collection=world.collection).order_by("position")
    assert [row.repo.name for row in rows] == ["gated-model", "diary", "open-model", SECRET.decode()]
