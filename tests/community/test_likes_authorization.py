"""Authorization matrix over the like routes, on public, gated and private repos: anonymous, a
stranger, a pending and an approved requester (gated), the owner with a read-only token, an org
reader, a collaborator and the owner. A refused call changes nothing (no like row, same count);
on a private repo it answers byte for byte like a repo that does not exist."""

import json

import pytest
from django.db import transaction
from django.test import Client

from community.likes import services as like_services
from community.models import Like
from gating import services as gating_services
from registry.models import Repo
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "stranger", "pending", "approved", "read_token", "reader", "collaborator", "owner"]
INSIDERS = {"read_token", "reader", "collaborator", "owner"}
POSTERS = {"stranger", "pending", "approved", "reader", "collaborator", "owner"}


class World:
    def __init__(self, kind: str):
        self.owner = UserFactory(username="olivia")
        org = OrganizationFactory(name="acme")
        add_member(org, self.owner, "admin")
        reader, collaborator = UserFactory(username="rita"), UserFactory(username="colin")
        add_member(org, reader, "read")
        add_member(org, collaborator, "write")
        self.repo = make_repo(org, "model", {"notes.txt": b"one\n"}, private=kind == "private", author=self.owner)
        if kind == "gated":
            Repo.objects.filter(pk=self.repo.pk).update(gated="manual")
            self.repo.refresh_from_db()
        users = {"stranger": UserFactory(username="sam"), "pending": UserFactory(username="pat")}
        users["approved"] = UserFactory(username="amy")
        if kind == "gated":
            gating_services.access_request_create(repo=self.repo, user=users["pending"], answers={}, has_role=False)
            gating_services.access_grant(repo=self.repo, reviewer=self.owner, user=users["approved"], has_role=False)
        # The secret: who likes the repo. A reader's like, made while they may see it.
        self.fan = reader
        like_services.like_create(user=reader, repo=self.repo)
        self.tokens = {
            **{name: token_for(user) for name, user in users.items()},
            "read_token": token_for(self.owner, role="read"),
            "reader": token_for(reader),
            "collaborator": token_for(collaborator),
            "owner": token_for(self.owner),
        }

    def client(self, role: str) -> Client:
        if role == "anonymous":
            return Client()
        return Client(HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}")

    def snapshot(self) -> tuple:
        likes = Repo.objects.filter(pk=self.repo.pk).values_list("likes", flat=True).get()
        return likes, sorted(Like.objects.values_list("user__username", "repo_id"))


ROUTES = {
    "like": ("POST", "/like", POSTERS),
    "unlike": ("DELETE", "/like", POSTERS),
    "likers": ("GET", "/likers", set(ROLES)),
}


class _Undo(Exception):
    """Raised to roll a caller's allowed like back, so the next caller meets the same world."""


@pytest.mark.parametrize("kind", ["public", "gated", "private"])
def test_like_route_matrix(kind):
    world = World(kind)
    for route, (method, suffix, allowed) in ROUTES.items():
        for role in ROLES:
            try:
                with transaction.atomic():
                    _check_call(world, route, role, method, suffix, allowed, kind=kind)
                    raise _Undo
            except _Undo:
                pass


def _check_call(world, route, role, method, suffix, allowed, *, kind):
    sees_repo = kind != "private" or role in INSIDERS
    before = world.snapshot()
    response = getattr(world.client(role), method.lower())(f"/api/models/acme/model{suffix}")
    if not sees_repo:
        twin = getattr(world.client(role), method.lower())(f"/api/models/acme/nope{suffix}")
        assert (response.status_code, response.content) == (twin.status_code, twin.content), (route, role)
        assert response.status_code == (401 if role == "anonymous" else 404), (route, role)
        assert response["X-Error-Code"] == "RepoNotFound"
    elif role in allowed:
        assert response.status_code == 200, (route, role, response.content)
        if route == "likers":
            assert [row["user"] for row in response.json()] == ["rita"]
        else:  # the reader already likes the repo: their like changes nothing, their unlike does
            assert (world.snapshot() != before) == ((route == "like") != (role == "reader")), (route, role)
        return
    else:
        assert response.status_code == (401 if role == "anonymous" else 403), (route, role, response.content)
    assert b"rita" not in response.content, (route, role)
    assert world.snapshot() == before, (route, role)


def test_a_like_changes_the_count_and_unlike_takes_it_back():
    """The matrix's allowed calls, counted: the refusals above can be told from successes."""
    world = World("public")
    client = world.client("stranger")
    assert client.post("/api/models/acme/model/like").json() == {"liked": True, "likes": 2}
    assert client.post("/api/models/acme/model/like").json() == {"liked": True, "likes": 2}
    assert client.delete("/api/models/acme/model/like").json() == {"liked": False, "likes": 1}
    assert world.snapshot() == (1, [("rita", world.repo.pk)])


def test_liked_repos_list_only_what_the_caller_may_see():
    world = World("private")
    url = "/api/users/rita/likes"
    for role in ROLES:
        data = world.client(role).get(url).json()
        expected = [{"name": "acme/model", "type": "model"}] if role in INSIDERS else []
        assert [row["repo"] for row in data] == expected, role
    missing = world.client("stranger").get("/api/users/nobody/likes")
    assert missing.status_code == 404


def test_like_bodies_are_ignored_and_bad_methods_refused():
    world = World("public")
    client = world.client("stranger")
    response = client.generic("POST", "/api/models/acme/model/like", json.dumps([1, 2]), "application/json")
    assert response.status_code == 200
    assert client.put("/api/models/acme/model/like").status_code == 405
    assert client.post("/api/models/acme/model/likers").status_code == 405
