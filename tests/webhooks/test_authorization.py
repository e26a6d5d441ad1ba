"""The authorization matrix (STYLE.md) for webhooks: for every gate mode and release stage, who
may watch a repo (a webhook on a repo one cannot see answers as a missing repo, and nothing is
saved) and who is told of its events (deliveries recorded only for those who may see it, no file
content in any payload); read tokens never change webhooks."""

from __future__ import annotations

import json

import pytest

from gating import release
from tests.support.builders import OrganizationFactory, UserFactory, commit_files, token_for
from tests.support.matrix import INSIDERS, STAGES, matrix_world
from tests.webhooks.helpers import make_webhook, watch_org
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

CALLERS = ["stranger", "pending", "approved", "member", "contributor", "writer", "owner"]


@pytest.fixture
def world(db):
    return matrix_world()


def _sees(mode: str, caller: str) -> bool:
    return mode != "private" or caller in INSIDERS


@pytest.mark.parametrize("mode", list(STAGES))
def test_who_may_watch_and_who_is_told(client, world, held, mode, django_capture_on_commit_callbacks):
    repo, org, owner, users = world
    release.release_plan_set(repo=repo, actor=owner, stages=[STAGES[mode]])
    body = json.dumps({"url": "https://hooks.example.org/", "watched": [{"type": "model", "name": "acme/m"}]})

    anonymous = client.post("/api/settings/webhooks", body, content_type="application/json")
    assert anonymous.status_code == 401
    for caller, user in users.items():
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"}
        created = client.post("/api/settings/webhooks", body, content_type="application/json", **auth)
        if _sees(mode, caller):
            assert created.status_code == 200, caller
        else:
            assert (created.status_code, created["X-Error-Code"]) == (404, "RepoNotFound"), caller
            assert b"acme/m" not in created.content
            assert not Webhook.objects.filter(owner=user).exists()
        reader = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user, role='read')}"}
        assert client.post("/api/settings/webhooks", body, content_type="application/json", **reader).status_code == 403

    Webhook.objects.all().delete()
    hooks = {caller: make_webhook(user, "https://hooks.example.org/", watch_org(org)) for caller, user in users.items()}
    with django_capture_on_commit_callbacks(execute=True):
        commit_files(repo, {"config.json": b'{"marker": "SECRET-CONTENT-2"}'}, author=owner)
    told = {caller for caller, hook in hooks.items() if Delivery.objects.filter(webhook=hook).exists()}
    assert told == {caller for caller in CALLERS if _sees(mode, caller)}
    for delivery in Delivery.objects.all():
        assert b"SECRET-CONTENT" not in json.dumps(delivery.payload).encode()
        assert delivery.payload["repo"]["private"] == (mode == "private")


@pytest.mark.django_db
def test_watched_users_and_orgs_are_named_case_insensitively(client):
    """As repo ids are: `ACME` and `Bob` name the org `acme` and the user `bob`, stored as they spell themselves."""
    OrganizationFactory(name="acme")
    UserFactory(username="bob")
    watcher = UserFactory(username="wendy")
    watched = [{"type": "org", "name": "ACME"}, {"type": "user", "name": "Bob"}]
    body = json.dumps({"url": "https://hooks.example.org/", "watched": watched})
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(watcher)}"}
    created = client.post("/api/settings/webhooks", body, content_type="application/json", **auth)
    assert created.status_code == 200, created.content
    names = {item["type"]: item["name"] for item in created.json()["webhook"]["watched"]}
    assert names == {"org": "acme", "user": "bob"}
