"""Email verification: a new account reads until it follows the emailed link; accounts that
predate verification keep working and are asked to verify; changing the email verifies again."""

import json

import pytest

from accounts.models import User
from core.models import OutboxMessage
from gating.models import AccessRequest
from registry import services as registry_services
from registry.models import Repo
from tests.accounts.conftest import link_in, path_of
from tests.support.builders import PASSWORD, make_repo, token_for

pytestmark = pytest.mark.django_db

GATED = b"---\nlicense: mit\nextra_gated_fields:\n  Company: text\n---\n# Gated\n"


def _create_repo(client, token, name="fresh"):
    return client.post(
        "/api/repos/create",
        data=json.dumps({"name": name, "type": "model"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _refused_unverified(response):
    assert response.status_code == 403, response.content
    assert response["X-Error-Code"] == "EmailNotVerified"
    assert "Verify your email address" in response["X-Error-Message"]


def test_a_new_account_reads_but_creates_asks_and_posts_nothing_until_verified(client, signed_up, alice):
    make_repo(alice, "public", {"README.md": b"# hi\n", "config.json": b"{}"})
    gated = make_repo(alice, "gated", {"README.md": GATED})
    registry_services.repo_settings_update(repo=gated, gated="auto", actor=alice)
    dora, link = signed_up("dora")
    assert dora.is_verification_pending and not dora.email_verification_waived
    token = token_for(dora)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    # Reading works.
    assert client.get("/api/models/alice/public", **auth).status_code == 200
    assert client.get("/alice/public/resolve/main/config.json", **auth).status_code == 200
    # Creating a repo, asking for access, opening a discussion, liking: refused, with the typed error.
    _refused_unverified(_create_repo(client, token))
    ask = client.post(
        "/alice/gated/ask-access", json.dumps({"Company": "Acme"}), content_type="application/json", **auth
    )
    _refused_unverified(ask)
    thread = {"title": "Hi", "description": "hello"}
    posted = client.post(
        "/api/models/alice/public/discussions", json.dumps(thread), content_type="application/json", **auth
    )
    _refused_unverified(posted)
    _refused_unverified(client.post("/api/models/alice/public/like", **auth))
    collection = client.post(
        "/api/collections", json.dumps({"title": "Mine", "namespace": "dora"}), content_type="application/json", **auth
    )
    _refused_unverified(collection)
    hook = {"url": "https://hooks.example.org/in", "watched": [{"type": "user", "name": "alice"}]}
    webhook = client.post("/api/settings/webhooks", json.dumps(hook), content_type="application/json", **auth)
    _refused_unverified(webhook)  # found by an outsider attack: the hub would send requests for it
    assert not Repo.objects.filter(name="fresh").exists() and not AccessRequest.objects.exists()
    # The portal says why, in a banner and in the form.
    page = client.get("/new")
    assert b'data-testid="verify-banner"' in page.content and b"Verify your email address" in page.content
    refused = client.post("/new", {"namespace": "dora", "name": "fresh", "repo_type": "model"})
    assert refused.status_code == 400 and b"Verify your email address first" in refused.content
    no_org = client.post("/organizations/new", {"name": "doras-org"})
    assert no_org.status_code == 400 and b"Verify your email address first" in no_org.content

    # Following the link verifies; then the same calls succeed.
    verified = client.get(path_of(link))
    assert verified.status_code == 302 and verified["Location"] == "/settings/account"
    dora.refresh_from_db()
    assert dora.email_verified and not dora.is_verification_pending
    assert _create_repo(client, token).status_code == 200
    assert (
        client.post(
            "/api/models/alice/public/discussions", json.dumps(thread), content_type="application/json", **auth
        ).status_code
        == 200
    )
    assert b'data-testid="verify-banner"' not in client.get("/settings/account").content
    assert client.get("/api/whoami-v2", **auth).json()["emailVerified"] is True


def test_verification_links_are_spent_once_used_and_expire(client, signed_up, settings, mails):
    dora, link = signed_up("dora")
    assert client.get(path_of(link)).status_code == 302
    spent = client.get(path_of(link))
    assert spent.status_code == 400 and b'data-testid="verify-failed"' in spent.content
    assert client.get("/verify-email/not-a-token").status_code == 400

    eve, eve_link = signed_up("eve")
    settings.GATEHOUSE_EMAIL_VERIFY_TIMEOUT = -1  # every link is older than that
    assert client.get(path_of(eve_link)).status_code == 400
    eve.refresh_from_db()
    assert not eve.email_verified


def test_the_link_is_made_by_the_worker_and_no_token_is_stored(signed_up):
    """The outbox row names the mail (kind, user, site, time); the link's token is made when the
    mail is rendered, so nothing that reads the database can use a pending mail's link."""
    dora, link = signed_up("dora")
    token = link.rsplit("/", 1)[1]
    rows = list(OutboxMessage.objects.values_list("task", "args"))
    assert rows == [("accounts.tasks.account_mail_send_task", ["verify", dora.pk, "http://testserver", rows[0][1][3]])]
    assert token not in json.dumps(rows)


def test_existing_accounts_are_waived_and_asked_to_verify(client, alice):
    """Accounts that predate verification (migration accounts 0007 waives every one) keep
    working; the banner asks them to verify, and the settings page sends them a link."""
    assert alice.email_verification_waived and not alice.email_verified
    client.force_login(alice)
    assert _create_repo(client, token_for(alice)).status_code == 200
    page = client.get("/")
    assert b'data-testid="verify-banner"' in page.content and b"Please verify your email address" in page.content


def test_asking_for_a_new_link_and_changing_the_email(client, signed_up, mails):
    dora, first_link = signed_up("dora")
    with mails() as sent:
        assert client.post("/settings/account", {"action": "resend"}).status_code == 302
    assert [m.to for m in sent] == [["dora@example.org"]]
    assert client.get(path_of(link_in(sent[0]))).status_code == 302
    dora.refresh_from_db()
    assert dora.email_verified

    with mails() as sent:
        profile = {"action": "profile", "fullname": "Dora M", "email": "dora@new.example"}
        # Found by a review: a borrowed session could change the email, verify it and reset the password.
        assert client.post("/settings/account", profile).status_code == 400
        assert client.post("/settings/account", {**profile, "current_password": "wrong"}).status_code == 400
        changed = client.post("/settings/account", {**profile, "current_password": "a-long-enough-passphrase"})
    assert changed.status_code == 302
    dora.refresh_from_db()
    assert (dora.fullname, dora.email, dora.email_verified) == ("Dora M", "dora@new.example", False)
    assert [m.to for m in sent] == [["dora@new.example"]]
    _refused_unverified(_create_repo(client, token_for(dora)))
    assert client.get(path_of(first_link)).status_code == 400  # a link to the old address is spent
    assert client.get(path_of(link_in(sent[0]))).status_code == 302
    assert _create_repo(client, token_for(dora)).status_code == 200


def test_changing_the_email_ends_a_waiver(client, alice, mails):
    client.force_login(alice)
    with mails() as sent:
        client.post(
            "/settings/account",
            {"action": "profile", "fullname": "", "email": "alice@elsewhere.example", "current_password": PASSWORD},
        )
    alice.refresh_from_db()
    assert alice.is_verification_pending and len(sent) == 1
    # The same address in another case is no change.
    client.post("/settings/account", {"action": "profile", "fullname": "", "email": "ALICE@elsewhere.example"})
    alice.refresh_from_db()
    assert alice.email == "ALICE@elsewhere.example"


def test_operator_made_accounts_are_waived(db):
    from django.core.management import call_command

    call_command("createuser", "olga", email="olga@example.org", password="a-long-enough-passphrase")
    olga = User.objects.get(username="olga")
    assert olga.email_verification_waived and not olga.is_verification_pending


def test_a_role_in_an_organisation_does_not_let_an_unverified_account_write(client, signed_up, alice):
    """An org admin may add a new account as a writer: it reads the org's private repos, but
    commits, branches and pull requests wait for its email (the policy's `check`)."""
    from accounts import services as account_services
    from tests.support.commit_api import inline_file, post_commit

    org = account_services.org_create(name="acme", creator=alice)
    make_repo(org, "private", {"config.json": b"{}"}, private=True, author=alice)
    dora, link = signed_up("dora")
    account_services.membership_set(org=org, user=dora, role="write")
    token = token_for(dora)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/acme/private/resolve/main/config.json", **auth).status_code == 200
    _refused_unverified(post_commit(client, token, "acme/private", [inline_file("a.txt", b"a")]))
    _refused_unverified(post_commit(client, token, "acme/private", [inline_file("a.txt", b"a")], create_pr=True))
    _refused_unverified(client.post("/api/models/acme/private/branch/dev", **auth))
    assert client.get(path_of(link)).status_code == 302
    assert post_commit(client, token, "acme/private", [inline_file("a.txt", b"a")]).status_code == 200


def test_the_settings_page_changes_the_password_under_the_sign_in_throttles(client, alice, settings):
    from django.core.cache import cache

    from tests.support.builders import PASSWORD

    cache.clear()
    settings.GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP = 2
    client.force_login(alice)
    page = client.get("/settings/account")
    assert b'data-testid="linked-identity"' in page.content and b"No single sign-on identity" in page.content
    wrong = {
        "action": "password",
        "old_password": "nope",
        "new_password1": "x-long-passphrase",
        "new_password2": "x-long-passphrase",
    }
    assert [client.post("/settings/account", wrong).status_code for _ in range(3)] == [400, 400, 429]
    cache.clear()
    right = {**wrong, "old_password": PASSWORD}
    assert client.post("/settings/account", right).status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("x-long-passphrase")
    assert client.get("/settings/account").status_code == 200  # this session stays signed in


def test_verification_mails_are_limited_per_account(client, signed_up, mails, settings):
    """Someone who signed up with another person's address cannot fill their mailbox."""
    settings.GATEHOUSE_VERIFICATION_MAILS_PER_ACCOUNT = 2
    signed_up("dora")
    with mails() as sent:
        for _ in range(3):
            client.post("/settings/account", {"action": "resend"})
    assert len(sent) == 2
    page = client.get("/settings/account")
    assert b"Too many verification mails" in page.content
    refused = client.post(
        "/settings/account",
        {"action": "profile", "fullname": "", "email": "x@example.org", "current_password": "a-long-enough-passphrase"},
    )
    assert refused.status_code == 429 and User.objects.get(username="dora").email == "dora@example.org"
