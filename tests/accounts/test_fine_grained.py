"""Fine-grained tokens without a live server: the permission vocabulary, the portal's token page,
the throttled last-use writes, listing through a token, and the token scanner of commits."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import permissions, tokens
from accounts.models import AccessToken
from core.errors import BadRequest
from registry import secrets
from tests.support.builders import OrganizationFactory, add_member, fine_token, make_repo, token_for

pytestmark = pytest.mark.django_db


def test_normalise_merges_scopes_adds_implied_reads_and_refuses_unknown_names():
    data = permissions.normalise(
        scoped=[("repo", 7, ["repo.write"]), ("repo", 7, ["discussion.write"]), ("org", 3, [])],
        global_permissions=["discussion.write"],
        gated=True,
    )
    assert data == {
        "scoped": [{"type": "repo", "id": 7, "permissions": ["discussion.write", "repo.content.read", "repo.write"]}],
        "global": ["discussion.write"],
        "canReadGatedRepos": True,
    }
    with pytest.raises(BadRequest, match="user.webhooks.write"):
        permissions.normalise(scoped=[("repo", 1, ["user.webhooks.write"])], global_permissions=[], gated=False)
    with pytest.raises(BadRequest, match="cannot be global"):
        permissions.normalise(scoped=[], global_permissions=["repo.write"], gated=False)
    with pytest.raises(BadRequest, match="at least one"):
        permissions.normalise(scoped=[("org", 1, [])], global_permissions=[], gated=False)


def test_the_token_scanner_trusts_the_checksum_not_the_prefix():
    real = tokens.generate().plaintext
    assert secrets.find_token(f"token = {real!r}\n".encode())
    assert secrets.find_token(f"gth_ gth_x {real}".encode())  # after false starts
    assert not secrets.find_token(f"token = {real[:-1]}{'A' if real[-1] != 'A' else 'B'}".encode())
    assert not secrets.find_token(b"gth_" + b"a" * 100)
    assert not secrets.find_token(real[:-2].encode())


def test_portal_creates_a_fine_grained_token_with_scopes_and_expiry(client, alice, bob):
    acme = OrganizationFactory(name="acme")
    add_member(acme, alice, "write")
    mine = make_repo(alice, "mine", private=True)
    make_repo(bob, "hidden", private=True)
    client.force_login(alice)
    form = {
        "name": "deploy",
        "role": "fineGrained",
        "expires_on": (timezone.now() + timedelta(days=30)).date().isoformat(),
        "repos": "alice/mine\n",
        "repo_permissions": ["repo.write"],
        "orgs": ["acme"],
        "org_permissions": ["repo.content.read"],
        "global_permissions": ["discussion.write"],
        "can_read_gated_repos": "on",
    }
    page = client.post("/settings/tokens", form)
    assert page.status_code == 200 and b'data-testid="token-value"' in page.content
    token = AccessToken.objects.get(user=alice)
    assert token.role == "fineGrained" and token.expires_at is not None
    assert token.fine_grained == {
        "scoped": [
            {"type": "repo", "id": mine.pk, "permissions": ["repo.content.read", "repo.write"]},
            {"type": "org", "id": acme.pk, "permissions": ["repo.content.read"]},
        ],
        "global": ["discussion.write"],
        "canReadGatedRepos": True,
    }
    listed = client.get("/settings/tokens").content.decode()
    assert "model alice/mine: repo.content.read, repo.write" in listed and "never" in listed

    # Another user's private repo answers as a missing one, and nothing is made.
    refused = client.post("/settings/tokens", {**form, "name": "x", "repos": "bob/hidden"})
    assert (
        refused.status_code == 400 and "No model &#x27;bob/hidden&#x27; that you can see." in refused.content.decode()
    )
    assert AccessToken.objects.filter(user=alice).count() == 1
    # A date in the past is refused too.
    past = {**form, "name": "old", "expires_on": "2020-01-01"}
    assert client.post("/settings/tokens", past).status_code == 400

    assert client.post("/settings/tokens", {"revoke": token.pk}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_last_use_is_written_once_per_window(client, alice):
    plaintext = token_for(alice, role="read")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}

    def updates() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/whoami-v2", **auth).status_code == 200
        return sum('UPDATE "accounts_accesstoken"' in q["sql"] for q in queries)

    assert updates() == 1
    assert [updates() for _ in range(3)] == [0, 0, 0]
    first = AccessToken.objects.get(user=alice).last_used_at
    AccessToken.objects.update(last_used_at=first - timedelta(minutes=10))
    assert updates() == 1


def test_listing_through_a_fine_grained_token_shows_only_private_repos_in_scope(client, alice):
    inside = make_repo(alice, "inside", private=True)
    make_repo(alice, "outside", private=True)
    make_repo(alice, "open")
    token = fine_token(alice, [(inside, ["repo.content.read"])])
    listed = client.get("/api/models?author=alice", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert sorted(item["id"] for item in listed) == ["alice/inside", "alice/open"]
    session = client.get("/api/models?author=alice", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}").json()
    assert len(session) == 3


def test_expired_tokens_fail_over_git_basic_auth_and_xet_tokens_end_with_them(client, alice):
    repo = make_repo(alice, "m", {"config.json": b"{}"}, private=True)
    soon = timezone.now() + timedelta(seconds=90)
    plaintext = fine_token(alice, [(repo, ["repo.content.read"])], expires_at=soon)
    basic = "Basic " + base64.b64encode(f"git:{plaintext}".encode()).decode()
    refs = "/alice/m.git/info/refs?service=git-upload-pack"
    assert client.get(refs, HTTP_AUTHORIZATION=basic).status_code == 200
    xet = client.get("/api/models/alice/m/xet-read-token/main", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert xet.status_code == 200 and xet.json()["exp"] <= int(soon.timestamp())
    # A write over git needs repo.write: the push advertisement is refused to this token.
    push = client.get("/alice/m.git/info/refs?service=git-receive-pack", HTTP_AUTHORIZATION=basic)
    assert push.status_code == 403
    cas_url, cas_auth = "/cas/v1/reconstructions/" + "0" * 64, f"Bearer {xet.json()['accessToken']}"
    assert client.get(cas_url, HTTP_AUTHORIZATION=cas_auth).status_code == 404  # unknown file, but heard
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(refs, HTTP_AUTHORIZATION=basic).status_code == 401
    assert client.get(cas_url, HTTP_AUTHORIZATION=cas_auth).status_code == 401


def test_a_leak_report_revokes_once_and_mails_the_owner_once(
    client, alice, mailoutbox, django_capture_on_commit_callbacks
):
    from config.celery import app

    alice.email = "alice@example.org"
    alice.save()
    plaintext = token_for(alice, role="write", name="laptop")
    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for body in ({"credential": plaintext}, {"tokens": [plaintext, "gth_nope"]}, "garbage"):
                answer = client.post("/api/credentials/revoke", body, content_type="application/json")
                assert (answer.status_code, answer.content) == (202, b"")
    finally:
        app.conf.task_always_eager = eager
    assert AccessToken.objects.get(user=alice).revoked_at is not None
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["alice@example.org"], "[Gatehouse] An access token of yours was revoked")
    ]
    assert "'laptop'" in mailoutbox[0].body and plaintext not in mailoutbox[0].body


@pytest.mark.django_db(transaction=True)
def test_a_change_of_a_tokens_permissions_is_announced(alice):
    """The credentials cache drops a token when its row changes (gating migration 0010)."""
    if connection.vendor != "postgresql":
        pytest.skip("notifications are PostgreSQL's")
    fine_token(alice, [(alice, ["repo.content.read"])])
    with connection.cursor() as cursor:
        cursor.execute("LISTEN gatehouse_repo_changed")
    AccessToken.objects.update(fine_grained={"scoped": [], "global": [], "canReadGatedRepos": True})
    heard = [n.payload for n in connection.connection.notifies(timeout=2, stop_after=1)]
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN gatehouse_repo_changed")
    assert heard == [f"u:{alice.pk}"]


@pytest.mark.parametrize("permission", ["collection.read", "user.webhooks.read", "inference.serverless.write"])
def test_a_namespace_scope_without_repo_permissions_reaches_none_of_its_repos(client, alice, permission):
    """Found by an outsider attack: a token made for previews, collections or webhooks on one's
    own namespace read every private repo of it (info, tree, discussions). Its private repos are
    missing to such a token, byte for byte, in single lookups and in listings."""
    make_repo(alice, "hidden", {"config.json": b"{}"}, private=True)
    token = fine_token(alice, [(alice, [permission])])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for route in ("/api/models/alice/{}", "/api/models/alice/{}/tree/main", "/api/models/alice/{}/discussions"):
        hidden = client.get(route.format("hidden"), **auth)
        missing = client.get(route.format("nothere"), **auth)
        assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, hidden.content)
    assert client.get("/api/models?author=alice", **auth).json() == []
