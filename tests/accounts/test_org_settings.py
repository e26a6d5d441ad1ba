"""The organisation settings page (issue 20): members and roles, invitations by email (through
the outbox; throttled, expiring, accepted by the invited address's signed-in user), and the
default visibility of new repos, which the create API and the portal honour."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from huggingface_hub import HfApi

from accounts.models import Invitation, Membership, Organization
from core.models import OutboxMessage
from registry.models import Repo
from tests.support.builders import OrganizationFactory, UserFactory, add_member, token_for
from tests.support.mail import capturing

pytestmark = pytest.mark.django_db

LINK = re.compile(r"/organizations/invitations/[^\s]+")


@pytest.fixture
def org(alice):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "admin")
    return org


@pytest.fixture
def sent_mail(mailoutbox, django_capture_on_commit_callbacks):
    """`with sent_mail() as sent:` the mails the block sends, its outbox tasks run in-process."""
    return capturing(mailoutbox, django_capture_on_commit_callbacks)


def _settings(client, **data):
    return client.post("/organizations/acme/settings", data)


def test_admins_change_roles_and_the_last_admin_stays(client, alice, bob, org):
    add_member(org, bob, "read")
    client.force_login(alice)
    page = client.get("/organizations/acme/settings")
    assert page.status_code == 200 and b'data-testid="member-bob"' in page.content
    assert page["Cache-Control"] == "private, no-store"
    _settings(client, action="member", username="bob", role="contributor")
    assert Membership.objects.get(user=bob).role == "contributor"
    _settings(client, action="member", username="BOB", role="admin")
    _settings(client, action="member", username="alice", role="remove")
    assert not Membership.objects.filter(user=alice).exists()
    client.force_login(bob)
    _settings(client, action="member", username="bob", role="write")  # the last admin
    assert Membership.objects.get(user=bob).role == "admin"
    assert b"must keep at least one admin" in client.get("/organizations/acme/settings").content
    _settings(client, action="member", username="bob", role="remove")
    assert Membership.objects.get(user=bob).role == "admin"


@pytest.mark.parametrize("who", ["stranger", "write", "contributor"])
def test_the_page_is_missing_to_everyone_but_admins(client, alice, org, who):
    user = UserFactory(username="eve")
    if who != "stranger":
        add_member(org, user, who)
    client.force_login(user)
    assert client.get("/organizations/acme/settings").status_code == 404
    for data in (
        {"action": "member", "username": "eve", "role": "admin"},
        {"action": "invite", "email": "x@example.org", "role": "admin"},
        {"action": "settings", "fullname": "Pwned", "visibility": "private"},
    ):
        assert _settings(client, **data).status_code == 404
    assert Membership.objects.filter(user=user, role="admin").count() == 0
    assert not Invitation.objects.exists()
    assert Organization.objects.get(name="acme").fullname == ""


def test_an_invitation_is_mailed_and_accepted_by_the_invited_address(client, alice, org, sent_mail):
    cache.clear()
    invitee = UserFactory(username="ivy", email="Ivy@Example.org", email_verified_at=timezone.now())
    squatter = UserFactory(username="sly", email="ivy@example.org")  # the address, never proven
    other = UserFactory(username="mal")
    client.force_login(alice)
    with sent_mail() as sent:
        _settings(client, action="invite", email="ivy@example.org", role="contributor")
    assert OutboxMessage.objects.filter(task="accounts.tasks.invitation_send_task").count() == 1
    assert [m.to for m in sent] == [["ivy@example.org"]] and "acme" in sent[0].subject
    link = LINK.search(sent[0].body).group(0)
    assert "http://testserver/organizations/invitations/" in sent[0].body  # a link that opens (not a bare path)
    assert b"ivy@example.org" in client.get("/organizations/acme/settings").content

    client.force_login(other)  # the link alone is not enough
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert not Membership.objects.filter(user=other).exists()
    client.force_login(squatter)  # nor the address on an account that never proved it reads it
    assert b"Verify your email address first" in client.get(link).content
    assert client.post(link).status_code == 404
    assert not Membership.objects.filter(user=squatter).exists()
    client.force_login(invitee)  # emails compare without case
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302
    assert Membership.objects.get(user=invitee, org=org).role == "contributor"
    assert client.post(link).status_code == 404  # once
    assert client.get(link[:-3] + "abc").status_code == 404  # a link we did not sign


def test_invitations_expire_can_be_revoked_and_are_throttled(client, alice, org, settings, sent_mail):
    cache.clear()
    settings.GATEHOUSE_ORG_INVITATIONS_PER_DAY = 2
    invitee = UserFactory(username="ivy", email="ivy@example.org", email_verified_at=timezone.now())
    client.force_login(alice)
    with sent_mail() as sent:
        _settings(client, action="invite", email="ivy@example.org", role="write")
        _settings(client, action="invite", email="old@example.org", role="write")
        _settings(client, action="invite", email="third@example.org", role="write")  # over the limit
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["ivy@example.org", "old@example.org"]
    assert len(sent) == 2
    assert b"Too many invitations" in client.get("/organizations/acme/settings").content

    Invitation.objects.filter(email="old@example.org").update(expires_at=timezone.now() - timedelta(seconds=1))
    expired_link = LINK.search(sent[1].body).group(0)
    _settings(client, action="revoke", invitation=Invitation.objects.get(email="ivy@example.org").pk)
    client.force_login(invitee)
    assert client.post(LINK.search(sent[0].body).group(0)).status_code == 404  # revoked
    client.force_login(UserFactory(username="olive", email="old@example.org", email_verified_at=timezone.now()))
    assert client.post(expired_link).status_code == 404
    assert Membership.objects.filter(org=org).count() == 1


def test_bad_invitations_say_why(client, alice, bob, org):
    cache.clear()
    add_member(org, bob, "read")
    client.force_login(alice)
    _settings(client, action="invite", email="not-an-email", role="read")
    _settings(client, action="invite", email=bob.email, role="read")
    _settings(client, action="invite", email="x@example.org", role="owner")
    assert not Invitation.objects.exists()


def test_an_orgs_default_visibility_applies_when_the_creator_does_not_say(client, alice, org):
    client.force_login(alice)
    _settings(client, action="settings", fullname="Acme Inc.", visibility="private")
    assert Organization.objects.get(name="acme").repos_private_by_default
    token = token_for(alice)

    def create(name, **extra):
        body = json.dumps({"name": name, "organization": "acme", **extra})
        return client.post("/api/repos/create", body, "application/json", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert create("unsaid").status_code == 200
    assert create("said-public", private=False).status_code == 200
    assert create("said-public-too", visibility="public").status_code == 200
    assert client.post("/new", {"namespace": "acme", "name": "portal-default", "repo_type": "model"}).status_code == 302
    assert client.post("/new", {"namespace": "alice", "name": "mine", "repo_type": "model"}).status_code == 302
    private = dict(Repo.objects.values_list("name", "private"))
    assert private == {
        "unsaid": True,
        "said-public": False,
        "said-public-too": False,
        "portal-default": True,
        "mine": False,  # a user's own namespace: public unless said
    }


@pytest.mark.django_db(transaction=True)
def test_the_real_clients_create_repo_follows_the_org_default(hub, alice):
    org = OrganizationFactory(name="acme", repos_private_by_default=True)
    add_member(org, alice, "contributor")
    api = HfApi(token=token_for(alice))
    api.create_repo("acme/by-default")
    api.create_repo("acme/public-one", private=False)
    assert api.model_info("acme/by-default").private is True
    assert api.model_info("acme/public-one").private is False
    assert Repo.objects.get(name="by-default").created_by == alice
