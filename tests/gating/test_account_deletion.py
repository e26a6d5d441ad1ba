"""Deleting an account: each repo transferred to an organisation the user administers or
deleted, as chosen; the person erased (name, email, password, tokens, sessions, likes,
collections, webhooks, memberships, reviewer roles, access-request answers); what the security
model and the audit need kept (upload receipts, audit rows, access requests, acknowledgments) under
a tombstone username nobody can take again."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccessToken, Membership, SsoIdentity, User
from community.collections.services import collection_create
from community.likes.services import like_create
from community.models import Collection, Like
from gating import services as gating_services
from gating.models import AccessRequest, AuditEvent, RepoReviewer
from registry import services as registry_services
from registry.models import Repo, UploadReceipt
from tests.support.builders import PASSWORD, make_repo, token_for
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db
GATED = b"---\nlicense: mit\nextra_gated_fields:\n  Company: text\n  I agree: checkbox\n---\n# Gated\n"


@pytest.fixture
def leaving(alice, bob):
    """bob: two repos, an org he administers with alice, a like, a collection, a webhook, a
    token, a granted and a pending access request, an upload receipt, a reviewer role."""
    org = account_services.org_create(name="acme", creator=bob)
    account_services.membership_set(org=org, user=alice, role="admin")
    kept = make_repo(bob, "kept", {"config.json": b"{}"})
    make_repo(bob, "dropped", {"config.json": b"{}"})
    gated = make_repo(alice, "gated", {"README.md": GATED})
    gated = registry_services.repo_settings_update(repo=gated, gated="manual", actor=alice)
    other = make_repo(alice, "other", {"README.md": GATED})
    other = registry_services.repo_settings_update(repo=other, gated="manual", actor=alice)
    answers = {"Company": "Bob's Secret Startup", "I agree": True}
    gating_services.access_request_create(repo=gated, user=bob, answers=answers, has_role=False)
    gating_services.access_request_decide(repo=gated, reviewer=alice, status="accepted", user_name="bob")
    gating_services.access_request_create(repo=other, user=bob, answers=answers, has_role=False)
    gating_services.reviewer_add(repo=other, actor=alice, user=bob)
    like_create(user=bob, repo=gated)
    collection_create(owner=bob, title="Favourites")
    Webhook.objects.create(owner=bob, url="https://hooks.example.org/x", domains=["repo"])
    UploadReceipt.objects.create(repo=gated, user=bob, sha256="ab" * 32)
    SsoIdentity.objects.create(user=bob, issuer="https://idp.example.org", subject="b-1", last_login_at=timezone.now())
    return {"org": org, "kept": kept, "gated": gated, "other": other, "token": token_for(bob)}


def _delete(browser, choices, confirm="bob", password=PASSWORD):
    form = {"confirm": confirm, "password": password}
    for repo, choice in choices.items():
        form[f"repo-{Repo.objects.get(name=repo).pk}"] = choice
    return browser.post("/settings/account/delete", form)


def test_deleting_erases_the_person_and_keeps_what_security_and_audit_need(alice, bob, leaving, client):
    browser = Client()
    browser.force_login(bob)
    settings_page = browser.get("/settings/account")
    assert b"https://idp.example.org" in settings_page.content  # the linked identity is shown
    page = browser.get("/settings/account/delete")
    assert b"Transfer to acme" in page.content and b"bob/kept" in page.content
    audit_before = AuditEvent.objects.count()

    done = _delete(browser, {"kept": "org:acme", "dropped": "delete"})
    assert done.status_code == 200 and b'data-testid="account-deleted"' in done.content

    # Repos: one transferred (the old id redirects), one deleted (recoverable, name reserved).
    assert Repo.objects.get(name="kept").repo_id == "acme/kept"
    moved = client.get("/api/models/bob/kept")
    assert moved.status_code == 307 and moved["Location"].endswith("/api/models/acme/kept")
    assert Repo.objects.get(name="dropped").deleted_at is not None
    # The person is erased; the tombstone keeps the id and the username.
    tomb = User.objects.get(pk=bob.pk)
    assert (tomb.username, tomb.email, tomb.fullname, tomb.is_active) == ("bob", "", "", False)
    assert tomb.deleted_at is not None and not tomb.has_usable_password() and not tomb.is_staff
    assert not AccessToken.objects.filter(user=bob).exists() and not Membership.objects.filter(user=bob).exists()
    assert not Like.objects.filter(user=bob).exists() and Repo.objects.get(name="gated").likes == 0
    assert not Collection.objects.filter(owner_user=bob).exists() and not Webhook.objects.filter(owner=bob).exists()
    assert not RepoReviewer.objects.filter(user=bob).exists() and not SsoIdentity.objects.filter(user=bob).exists()
    assert browser.get("/settings/account").status_code == 302  # signed out
    refused = client.get("/api/whoami-v2", HTTP_AUTHORIZATION=f"Bearer {leaving['token']}")
    assert refused.status_code == 401
    # Kept: the grant (answers erased but the terms agreed to), receipts, audit rows, plus new ones.
    grant = AccessRequest.objects.get(user=bob)
    assert (grant.repo, grant.status, grant.fields, grant.decided_by) == (
        leaving["gated"],
        "accepted",
        {"I agree": True},
        alice,
    )
    assert UploadReceipt.objects.filter(user=bob).count() == 1
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)[audit_before:])
    assert actions == ["account.delete.repo_delete", "account.delete.repo_transfer", "account.delete"]
    last = AuditEvent.objects.order_by("pk").last()
    assert (last.actor_label, last.data["repos"][1]) == (
        "bob",
        {"repo": "bob/kept", "type": "model", "to": "acme/kept"},
    )
    assert "Secret Startup" not in json.dumps(list(AccessRequest.objects.values_list("fields", flat=True)))

    # The name is never given again.
    signup = Client().post(
        "/signup", {"username": "BOB", "email": "b@example.org", "password": "a-long-enough-passphrase"}
    )
    assert signup.status_code == 409
    with pytest.raises(CommandError, match="was deleted"):
        call_command("createuser", "bob", email="b@example.org", password="a-long-enough-passphrase")


def test_nothing_changes_without_a_choice_for_every_repo_or_the_right_confirmation(bob, leaving):
    browser = Client()
    browser.force_login(bob)
    assert _delete(browser, {"kept": "org:acme", "dropped": "delete"}, confirm="alice").status_code == 400
    assert _delete(browser, {"kept": "org:acme", "dropped": "delete"}, password="wrong").status_code == 400
    missing = _delete(browser, {"kept": "org:acme"})
    assert missing.status_code == 400 and b"Choose what becomes of bob/dropped" in missing.content
    elsewhere = _delete(browser, {"kept": "org:someone-elses", "dropped": "delete"})
    assert elsewhere.status_code == 400
    bob.refresh_from_db()
    assert bob.deleted_at is None and bob.is_active and Repo.objects.get(name="kept").repo_id == "bob/kept"
    assert Repo.objects.get(name="dropped").deleted_at is None and AccessToken.objects.filter(user=bob).exists()


def test_the_last_admin_of_an_organisation_names_another_first(bob, leaving):
    account_services.membership_set(org=leaving["org"], user=User.objects.get(username="alice"), role="write")
    browser = Client()
    browser.force_login(bob)
    assert b'data-testid="orgs-alone"' in browser.get("/settings/account/delete").content
    refused = _delete(browser, {"kept": "delete", "dropped": "delete"})
    assert refused.status_code == 400 and b"only admin of acme" in refused.content
    assert User.objects.get(pk=bob.pk).deleted_at is None


def test_operators_delete_an_account_with_the_command(bob, leaving):
    import io

    with pytest.raises(CommandError, match="Choose what becomes of"):
        call_command("delete_account", "bob", "--repos", "org:nowhere", "--yes")
    dry = io.StringIO()
    call_command("delete_account", "bob", "--repos", "org:acme", stdout=dry)
    assert "Would delete" in dry.getvalue() and User.objects.get(pk=bob.pk).deleted_at is None
    call_command("delete_account", "bob", "--repos", "org:acme", "--yes", stdout=io.StringIO())
    assert User.objects.get(pk=bob.pk).deleted_at is not None
    assert sorted(Repo.objects.filter(owner_org=leaving["org"]).values_list("name", flat=True)) == ["dropped", "kept"]
