"""The authorization matrix (STYLE.md) for webhooks: for every gate mode and release stage, who
may watch a repo (a webhook on a repo one cannot see answers as a missing repo, and nothing is
saved) and who is told of its events (deliveries recorded only for those who may see it, no file
content in any payload); read tokens never change webhooks."""

from __future__ import annotations

import json

import pytest

from gating import release
from gating.models import AccessRequest
from tests.support.builders import OrganizationFactory, UserFactory, add_member, commit_files, make_repo, token_for
from tests.webhooks.helpers import make_webhook, watch_org
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

SECRET = b'{"marker": "SECRET-CONTENT"}'
CALLERS = ["stranger", "pending", "approved", "member", "owner"]
STAGES = {
    "public": release.StageSpec(mode="public"),
    "auto": release.StageSpec(mode="gated_auto"),
    "manual": release.StageSpec(mode="gated_manual"),
    "private": release.StageSpec(mode="private"),
    "withheld": release.StageSpec(mode="gated_manual", withheld_patterns=("*.safetensors",)),
}


@pytest.fixture
def world(db):
    owner, member = UserFactory(username="olga"), UserFactory(username="mike")
    org = OrganizationFactory(name="acme")
    add_member(org, owner, "admin")
    add_member(org, member, "read")
    repo = make_repo(org, "m", {"config.json": SECRET, "model.safetensors": b"\0" * 128}, author=owner)
    users = {
        "stranger": UserFactory(username="sam"),
        "pending": UserFactory(username="pat"),
        "approved": UserFactory(username="abe"),
        "member": member,
        "owner": owner,
    }
    AccessRequest.objects.create(repo=repo, user=users["pending"], status="pending")
    AccessRequest.objects.create(repo=repo, user=users["approved"], status="accepted")
    return repo, org, owner, users


def _sees(mode: str, caller: str) -> bool:
    return mode != "private" or caller in ("member", "owner")


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
