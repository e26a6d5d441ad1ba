"""Authorization matrix over every discussion route, on public, gated and private repos.

Roles: anonymous; a stranger; a new account whose email is not verified yet; a pending and an
approved access requester (gated repo); the owner with a read-only token; a reader (org member
with the read role, who wrote the thread); a contributor (who did not create the repo: a reader
there); a collaborator (write role); the owner (admin). For each refused call the test checks
the status, that the body names nothing from the thread, and that nothing happened (no event, no
thread, no email). A private repo answers exactly like a repo that does not exist.
"""

import json

import pytest
from django.test import Client

from community import services
from community.models import Discussion, Event, Report
from gating import services as gating_services
from registry.models import Repo
from tests.community.helpers import push
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Secret roadmap for v2"
ROLES = [
    "anonymous",
    "stranger",
    "unverified",
    "pending",
    "approved",
    "read_token",
    "reader",
    "contributor",
    "collaborator",
    "owner",
]
INSIDERS = ("read_token", "reader", "contributor", "collaborator", "owner")
ALLOWED = "allowed"


class World:
    """An org with one repo of the given kind, a thread by the reader, a PR with changes."""

    def __init__(self, kind: str):
        self.owner = UserFactory(username="olivia")
        org = OrganizationFactory(name="acme")
        add_member(org, self.owner, "admin")
        self.reader, self.collaborator = UserFactory(username="rita"), UserFactory(username="colin")
        add_member(org, self.reader, "read")
        add_member(org, self.collaborator, "write")
        self.contributor = UserFactory(username="cody")
        add_member(org, self.contributor, "contributor")
        self.repo = make_repo(org, "model", {"notes.txt": b"one\n"}, private=kind == "private")
        if kind == "gated":
            Repo.objects.filter(pk=self.repo.pk).update(gated="manual")
            self.repo.refresh_from_db()
        users = {
            "stranger": UserFactory(username="sam"),
            "unverified": UserFactory(username="uma", email_verification_waived=False),
            "pending": UserFactory(username="pat"),
            "approved": UserFactory(username="amy"),
        }
        if kind == "gated":
            gating_services.access_request_create(repo=self.repo, user=users["pending"], answers={}, has_role=False)
            gating_services.access_grant(repo=self.repo, reviewer=self.owner, user=users["approved"], has_role=False)
        self.thread = services.discussion_create(repo=self.repo, author=self.reader, title=SECRET, description=SECRET)
        self.comment = services.comment_create(discussion=self.thread, author=self.reader, raw=f"{SECRET}, again")
        self.pr = services.pull_request_open(repo=self.repo, author=self.reader, title=SECRET, description=SECRET)
        push(self.repo, self.pr, {"notes.txt": b"one\ntwo\n"}, author=self.reader)
        services.discussion_status_change(discussion=self.pr, actor=self.reader, status="open")
        self.tokens = {
            **{name: token_for(user) for name, user in users.items()},
            "read_token": token_for(self.owner, role="read"),
            "reader": token_for(self.reader),
            "contributor": token_for(self.contributor),
            "collaborator": token_for(self.collaborator),
            "owner": token_for(self.owner),
        }

    def client(self, role: str) -> Client:
        if role == "anonymous":
            return Client()
        return Client(HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}")

    def snapshot(self, mailoutbox) -> tuple:
        threads = list(Discussion.objects.values_list("title", "status", "is_pinned", "is_locked").order_by("pk"))
        return (Discussion.objects.count(), Event.objects.count(), Report.objects.count(), len(mailoutbox), threads)


def _routes(world: World) -> dict:
    """name -> (method, path suffix, body, who may call it on a visible repo)."""
    t, c, pr = world.thread.num, world.comment.public_id, world.pr.num
    participants = {"stranger", "pending", "approved", "reader", "contributor", "collaborator", "owner"}
    thread_people = {"reader", "collaborator", "owner"}
    moderators = {"collaborator", "owner"}
    everyone = set(ROLES)
    return {
        "list": ("GET", "/discussions?status=all", None, everyone),
        "details": ("GET", f"/discussions/{t}?diff=1", None, everyone),
        "create": ("POST", "/discussions", {"title": "New one", "description": "hello"}, participants),
        "comment": ("POST", f"/discussions/{t}/comment", {"comment": "me too"}, participants),
        "title": ("POST", f"/discussions/{t}/title", "retitle", thread_people),
        "status": ("POST", f"/discussions/{t}/status", "toggle", thread_people),
        "edit": ("POST", f"/discussions/{t}/comment/{c}/edit", "edit", {"reader"}),
        "hide": ("POST", f"/discussions/{t}/comment/{c}/hide", None, thread_people),
        "merge": ("POST", f"/discussions/{pr}/merge", None, moderators),
        "pin": ("POST", f"/discussions/{t}/pin", {"pinned": True}, moderators),
        "lock": ("POST", f"/discussions/{t}/lock", {"locked": True}, moderators),
        "report": ("POST", f"/discussions/{t}/report", {"reason": "spam", "commentId": c}, participants),
        "settings": ("PUT", "/community-settings", {"discussionsDisabled": False}, moderators),
    }


def _body(world: World, role: str, body):
    if body == "retitle":
        return {"title": f"Renamed by {role}"}
    if body == "toggle":
        world.thread.refresh_from_db()
        return {"status": "closed" if world.thread.status == "open" else "open"}
    if body == "edit":
        return {"content": f"Edited by {role}"}
    return body


def _call(client: Client, method: str, url: str, body):
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method.lower())(url, data=data, content_type="application/json")


# Ordered so that earlier calls do not change what later ones may do (hide after edit, lock last).
ROUTE_ORDER = [
    "list",
    "details",
    "create",
    "comment",
    "report",
    "title",
    "status",
    "edit",
    "hide",
    "merge",
    "pin",
    "settings",
    "lock",
]


@pytest.mark.parametrize("kind", ["public", "gated", "private"])
def test_discussion_route_matrix(kind, mailoutbox):
    world = World(kind)
    routes = _routes(world)
    assert sorted(routes) == sorted(ROUTE_ORDER)
    for route in ROUTE_ORDER:
        _check_route(world, route, *routes[route], kind=kind, mailoutbox=mailoutbox)


def _check_route(world, route, method, suffix, body, allowed, *, kind, mailoutbox):
    base = f"/api/models/acme/model{suffix}"
    missing = f"/api/models/acme/nope{suffix}"
    mailoutbox.clear()
    for role in ROLES:
        sees_repo = kind != "private" or role in INSIDERS
        before = world.snapshot(mailoutbox)
        response = _call(world.client(role), method, base, _body(world, role, body))
        if not sees_repo:
            twin = _call(world.client(role), method, missing, _body(world, role, body))
            assert (response.status_code, response.content, response["X-Error-Code"]) == (
                twin.status_code,
                twin.content,
                twin["X-Error-Code"],
            ), (route, role)
            assert (
                response.status_code == (401 if role == "anonymous" else 404) and twin["X-Error-Code"] == "RepoNotFound"
            )
        elif role in allowed:
            assert response.status_code == 200 or (route == "merge" and b"already merged" in response.content), (
                route,
                role,
                response.content,
            )
            continue
        else:
            expected = 401 if role == "anonymous" else 403
            assert response.status_code == expected, (route, role, response.status_code, response.content)
            if role == "unverified":  # told why, and what to do (gating.policy.check_verified)
                assert response["X-Error-Code"] == "EmailNotVerified", (route, response.content)
        assert SECRET.encode() not in response.content, (route, role)
        assert world.snapshot(mailoutbox) == before, (route, role)


@pytest.mark.parametrize("kind", ["public", "gated"])
def test_diff_needs_download_access_on_gated_repos(kind):
    world = World(kind)
    url = f"/api/models/acme/model/discussions/{world.pr.num}?diff=1"
    for role in ROLES:
        data = world.client(role).get(url).json()
        may_download = kind == "public" or role in ("approved", *INSIDERS)
        assert ("diff" in data) is may_download, role
        assert data["filesWithConflicts"] == [] and data["changes"] == {"base": "refs/heads/main"}


def test_merge_matrix_merges_once(mailoutbox):
    world = World("public")
    url = f"/api/models/acme/model/discussions/{world.pr.num}/merge"
    assert _call(world.client("reader"), "POST", url, None).status_code == 403
    assert _call(world.client("collaborator"), "POST", url, None).status_code == 200
    world.pr.refresh_from_db()
    assert world.pr.status == "merged" and len(world.pr.merge_commit_oid) == 40
