"""Operators take a repo down (issue 20): disabled with a reason shown to visitors, audited,
reversible; the real client raises DisabledRepoError; nobody but an operator can do it."""

import json

import pytest
import requests
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import DisabledRepoError, LocalEntryNotFoundError

from gating.models import AuditEvent
from registry.models import Repo
from tests.support.builders import UserFactory, make_repo, token_for

CONFIG = b'{"marker": "TAKEN-DOWN-CONTENT"}'


@pytest.fixture
def operator(db):
    return UserFactory(username="opal", is_staff=True)


def _takedown(client, token, repo="alice/m", reason="Reported: leaks personal data.", lift=False):
    url = "/api/repos/takedown" + ("/lift" if lift else "")
    body = json.dumps({"repo": repo, "type": "model", "reason": reason})
    return client.post(url, body, "application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.django_db(transaction=True)
def test_takedown_and_back_with_the_real_client(hub, alice, bob, operator):
    make_repo(alice, "m", {"config.json": CONFIG})
    operator_token, visitor_token = token_for(operator), token_for(bob)
    taken = requests.post(
        f"{hub}/api/repos/takedown",
        json={"repo": "alice/m", "reason": "Reported: leaks personal data."},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert taken.status_code == 200 and taken.json()["disabled"] is True and taken.json()["disabledBy"] == "opal"

    for token in (visitor_token, None):
        # hf_hub_download turns the HEAD's error into "not in the cache", as it does for the Hub's.
        with pytest.raises(LocalEntryNotFoundError) as excinfo:
            hf_hub_download("alice/m", "config.json", token=token)
        assert isinstance(excinfo.value.__cause__, DisabledRepoError)
    # Answers with a body (a HEAD has none) carry the reason, which the client shows.
    with pytest.raises(DisabledRepoError) as disabled:
        HfApi(token=visitor_token).create_discussion("alice/m", title="Why?")
    assert "leaks personal data" in str(disabled.value)
    # Metadata stays, saying so; the repo's own people keep its content, to fix what was reported.
    assert HfApi(token=visitor_token).model_info("alice/m").disabled is True
    with open(hf_hub_download("alice/m", "config.json", token=token_for(alice)), "rb") as fh:
        assert fh.read() == CONFIG

    auth = {"Authorization": f"Bearer {operator_token}"}
    lifted = requests.post(f"{hub}/api/repos/takedown/lift", json={"repo": "alice/m"}, headers=auth)
    assert lifted.status_code == 200 and lifted.json()["disabled"] is False
    with open(hf_hub_download("alice/m", "config.json", token=visitor_token, force_download=True), "rb") as fh:
        assert fh.read() == CONFIG
    actions = list(AuditEvent.objects.filter(repo__name="m").order_by("pk").values_list("action", "actor_label"))
    assert actions[-2:] == [("repo.takedown", "opal"), ("repo.takedown_lift", "opal")]


@pytest.mark.django_db
def test_a_visitor_sees_the_reason_and_cannot_download_or_post(client, alice, bob, operator):
    make_repo(alice, "m", {"config.json": CONFIG})
    assert _takedown(client, token_for(operator)).status_code == 200
    repo = Repo.objects.get(name="m")
    assert repo.disabled and repo.disabled_by == operator and repo.disabled_at is not None

    page = client.get("/alice/m")
    assert page.status_code == 200 and b"leaks personal data" in page.content
    resolved = client.get("/alice/m/resolve/main/config.json", HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}")
    assert (resolved.status_code, resolved["X-Error-Message"]) == (403, "Access to this resource is disabled.")
    assert resolved.json()["reason"] == "Reported: leaks personal data."
    assert b"TAKEN-DOWN-CONTENT" not in resolved.content
    posted = client.post(
        "/api/models/alice/m/discussions",
        json.dumps({"title": "hi", "description": "x"}),
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert posted.status_code == 403 and posted["X-Error-Code"] == "DisabledRepo"


def test_a_taken_down_repos_threads_are_closed_to_visitors_but_not_to_its_owner(client, alice, bob, operator):
    """Found by an outsider attack: the threads stayed readable to anyone, and a takedown is
    often about what was pasted into them."""
    from community.services.discussions import discussion_create

    repo = make_repo(alice, "m", {"config.json": CONFIG})
    discussion_create(repo=repo, author=bob, title="pasted", description="TAKEN-DOWN-THREAD")
    assert _takedown(client, token_for(operator)).status_code == 200
    for url in ("/api/models/alice/m/discussions", "/api/models/alice/m/discussions/1", "/alice/m/discussions/1"):
        refused = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}")
        assert refused.status_code == 403 and b"TAKEN-DOWN-THREAD" not in refused.content, url
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}").status_code == 200


@pytest.mark.django_db
def test_only_operators_take_down(client, alice, bob, operator):
    make_repo(alice, "m", {"config.json": CONFIG})
    make_repo(alice, "hidden", private=True)
    # The owner, a stranger, a read token of an operator, anonymous: as for a missing repo.
    for token in (token_for(alice), token_for(bob), token_for(operator, role="read")):
        refused = _takedown(client, token)
        assert (refused.status_code, refused["X-Error-Code"]) == (404, "RepoNotFound")
        assert _takedown(client, token, lift=True).status_code == 404
    anonymous = client.post("/api/repos/takedown", json.dumps({"repo": "alice/m"}), "application/json")
    assert anonymous.status_code == 401
    assert not Repo.objects.filter(disabled=True).exists()
    assert not AuditEvent.objects.filter(action__startswith="repo.takedown").exists()
    for url in ("/admin/takedowns", "/admin/reports"):
        client.force_login(alice)
        assert client.get(url).status_code == 404
        assert client.post(url, {"repo": "alice/m", "reason": "x"}).status_code == 404
    assert not Repo.objects.filter(disabled=True).exists()
    # Operators reach private repos too; a takedown needs a reason; missing repos are missing.
    operator_token = token_for(operator)
    assert _takedown(client, operator_token, reason="  ").status_code == 400
    assert _takedown(client, operator_token, repo="alice/nope").status_code == 404
    assert _takedown(client, operator_token, repo="ALICE/Hidden").status_code == 200
    assert Repo.objects.get(name="hidden").disabled


@pytest.mark.django_db
def test_operators_take_down_and_put_back_from_the_portal(client, alice, operator):
    make_repo(alice, "m", {"config.json": CONFIG})
    client.force_login(operator)
    assert b"Operators" in client.get("/").content
    assert b"/admin/takedowns?repo=alice/m&amp;type=model" in client.get("/alice/m").content
    client.post("/admin/takedowns", {"repo": "alice/m", "type": "model", "reason": "DMCA notice 42", "action": "x"})
    page = client.get("/admin/takedowns")
    assert b"DMCA notice 42" in page.content and page["Cache-Control"] == "private, no-store"
    assert Repo.objects.get(name="m").disabled_reason == "DMCA notice 42"
    client.post("/admin/takedowns", {"repo": "alice/m", "type": "model", "action": "lift"})
    repo = Repo.objects.get(name="m")
    assert not repo.disabled and repo.disabled_reason == ""
    assert b"No repo is taken down." in client.get("/admin/takedowns").content
