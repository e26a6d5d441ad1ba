"""The authorization matrix for fine-grained tokens: README's route → permission table, walked.

For every row of the table (between the `token-permissions` markers), the route is called twice
by the same user, whose role allows it: with a fine-grained token holding exactly the row's
permission on the row's entity (it must not be refused), and with one holding every other
permission that entity can carry (it must be refused with 403 or 404, and nothing may change:
no commit, discussion, request, webhook, collection, repo, acknowledgment or preview). Rows
with `canReadGatedRepos` are walked with that flag alone as well. The table and this file must
name the same routes, so neither can drift from the other."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from accounts import permissions
from accounts.models import Organization, User
from community.models import Collection, Discussion
from gating import release
from gating.models import AccessRequest
from licenses.models import Acknowledgment, AcknowledgmentSource
from licenses.services import acknowledgment_record
from registry.models import Commit, Repo
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import commit_files, fine_token, make_repo
from tests.support.commit_api import inline_file
from tests.support.matrix import STAGES, matrix_world
from webhooks.models import Webhook
from workers.models import PreviewRequest

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| (?P<route>[a-z-]+) \| (?P<request>.+?) \| (?P<permission>.+?) \|$")
PERMISSION = re.compile(r"`([a-zA-Z.]+)`")
REFUSED = (403, 404)


def readme_table() -> dict[str, str]:
    text = README.read_text()
    start, end = text.index("<!-- token-permissions:start -->"), text.index("<!-- token-permissions:end -->")
    rows = {}
    for line in text[start:end].splitlines():
        match = ROW.match(line)
        if match and match["route"] != "Route":
            rows[match["route"]] = match["permission"]
    return rows


@dataclass
class Call:
    method: str
    url: str
    body: object = None
    caller: str = "owner"  # whose tokens call it (the user's role allows the route)
    entity: str = "repo"  # what the token names: "repo" (the route's repo), "org" or "user"
    repo: str = "p"  # acme/p (private), acme/m (gated, manual), acme/pub (public)
    content_type: str = "application/json"
    extra: dict = field(default_factory=dict)


def _commit_body() -> bytes:
    lines = [{"key": "header", "value": {"summary": "table"}}, inline_file("notes.txt", b"hello")]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


CALLS = {
    "download": Call("GET", "/acme/p/resolve/main/config.json"),
    "gated-download": Call("GET", "/acme/m/resolve/main/config.json", caller="approved", repo="m"),
    "xet-read-token": Call("GET", "/api/models/acme/p/xet-read-token/main"),
    "commit": Call("POST", "/api/models/acme/p/commit/main", _commit_body(), content_type="application/x-ndjson"),
    "xet-write-token": Call("GET", "/api/models/acme/p/xet-write-token/main"),
    "git-push": Call("GET", "/acme/p.git/info/refs?service=git-receive-pack"),
    "discussion": Call("POST", "/api/models/acme/p/discussions", {"title": "Hello", "description": "Hi"}),
    "access-requests-list": Call("GET", "/api/models/acme/m/user-access-request/pending", repo="m"),
    "access-request-handle": Call(
        "POST", "/api/models/acme/m/user-access-request/handle", {"user": "pat", "status": "accepted"}, repo="m"
    ),
    "ask-access": Call("POST", "/acme/m/ask-access", {}, caller="stranger", repo="m"),
    "gating-settings": Call("PUT", "/api/models/acme/m/settings", {"gated": "auto"}, repo="m"),
    "repo-create": Call("POST", "/api/repos/create", {"name": "fresh", "organization": "acme"}, entity="org"),
    "webhooks-read": Call("GET", "/api/settings/webhooks", entity="user"),
    "webhooks-write": Call(
        "POST",
        "/api/settings/webhooks",
        {"url": "https://hooks.example.org/in", "watched": [{"type": "org", "name": "acme"}]},
        entity="user",
    ),
    "collection-create": Call("POST", "/api/collections", {"title": "Picks", "namespace": "acme"}, entity="org"),
    "preview": Call("POST", "/api/models/acme/pub/previews", {"prompt": "a cat"}, entity="user", repo="pub"),
    "license-accept": Call(
        "POST",
        "/api/models/acme/m/license/accept",
        {"version": hashlib.sha256(LICENSE_V1).hexdigest()},
        caller="stranger",
        repo="m",
    ),
}

WATCHED = (Commit, Discussion, AccessRequest, Webhook, Collection, Repo, Acknowledgment, PreviewRequest)


def _snapshot(repo: Repo) -> tuple:
    repo.refresh_from_db()
    gated = repo.gated
    return (*(model.objects.count() for model in WATCHED), gated, list(AccessRequest.objects.values("status")))


@pytest.fixture
def world(db):
    repo, org, owner, users = matrix_world()
    release.release_plan_set(repo=repo, actor=owner, stages=[STAGES["manual"]])
    commit_files(repo, {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1}, author=owner)
    version = hashlib.sha256(LICENSE_V1).hexdigest()  # the granted user accepted it already
    acknowledgment_record(user=users["approved"], repo=repo, version=version, source=AcknowledgmentSource.API)
    private = make_repo(org, "p", {"config.json": b'{"marker": "SECRET-CONTENT"}'}, private=True, author=owner)
    public = make_repo(org, "pub", {"config.json": b"{}"}, author=owner)
    return {"m": repo, "p": private, "pub": public}, org, users


def _entity(call: Call, repos: dict, org: Organization, user: User):
    return {"repo": repos[call.repo], "org": org, "user": user}[call.entity]


def _alternatives(cell: str) -> list[list[str]]:
    """The cell's alternatives (`a` or `b`), each a list of permissions held together (`a` + `b`)."""
    return [PERMISSION.findall(part) for part in cell.split(" or ")]


def _others(kind: str, needed: list[str]) -> list[str]:
    """Every permission the entity can carry but the needed ones and those implying them."""
    kind = {"repo": permissions.REPO, "org": permissions.ORG, "user": permissions.USER}[kind]
    return [
        p
        for p in permissions.PERMISSIONS_BY_ENTITY[kind]
        if p not in needed and not set(needed) & permissions.with_implied([p])
    ]


def _call(client, call: Call, token: str):
    body = call.body
    if isinstance(body, dict):
        body = json.dumps(body)
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        kwargs.update(data=body, content_type=call.content_type)
    return getattr(client, call.method.lower())(call.url, **kwargs)


def test_the_readme_table_and_this_walk_name_the_same_routes():
    assert set(readme_table()) == set(CALLS)


@pytest.mark.parametrize("route", sorted(CALLS))
def test_each_route_needs_its_permission(client, world, route, settings):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    repos, org, users = world
    call = CALLS[route]
    user = users[call.caller]
    cell = readme_table()[route]
    alternatives = [[p for p in part if p != "canReadGatedRepos"] for part in _alternatives(cell)]
    alternatives = [part for part in alternatives if part]
    needed = [p for part in alternatives for p in part]
    target = _entity(call, repos, org, user)

    refused_token = fine_token(user, [(target, _others(call.entity, needed))], name="others")
    before = _snapshot(repos[call.repo])
    refused = _call(client, call, refused_token)
    assert refused.status_code in REFUSED, (route, refused.status_code, refused.content[:300])
    assert b"SECRET-CONTENT" not in refused.content
    assert _snapshot(repos[call.repo]) == before, route

    for held in alternatives:
        allowed = _call(client, call, fine_token(user, [(target, held)], name="+".join(held)))
        assert allowed.status_code not in (401, *REFUSED), (route, held, allowed.content[:300])
        assert allowed.status_code < 400 or route == "preview", (route, held, allowed.content[:300])

    if "canReadGatedRepos" in cell:
        AccessRequest.objects.filter(user=users["stranger"]).delete()  # ask-access: ask again
        allowed = _call(client, call, fine_token(user, gated=True, name="gated"))
        assert allowed.status_code < 400, (route, "canReadGatedRepos", allowed.content[:300])
