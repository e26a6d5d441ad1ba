"""Sign-up modes (GATEHOUSE_SIGNUP_MODE): open, invite-only with an operator's link, closed; and
the migration that waives verification for every account that existed before it."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts import lifecycle
from accounts.models import SignupInvitation, User

pytestmark = pytest.mark.django_db
FORM = {"username": "dora", "email": "dora@example.org", "password": "a-long-enough-passphrase"}


def test_closed_sign_up_refuses_everyone(client, settings):
    settings.GATEHOUSE_SIGNUP_MODE = "closed"
    page = client.get("/signup")
    assert page.status_code == 403 and b'data-testid="signup-closed"' in page.content
    refused = client.post("/signup", FORM)
    assert refused.status_code == 403 and not User.objects.filter(username="dora").exists()


def test_invite_only_sign_up_takes_an_operators_link_once(client, settings, mails):
    settings.GATEHOUSE_SIGNUP_MODE = "invite"
    assert client.get("/signup").status_code == 403
    assert client.post("/signup", FORM).status_code == 403
    out = io.StringIO()
    call_command("account", "invite", "--base-url", "https://hub.example.org/", stdout=out)
    link = out.getvalue().strip()
    assert link.startswith("https://hub.example.org/signup?invite=")
    secret = link.split("invite=")[1]
    assert not SignupInvitation.objects.filter(digest__contains=secret).exists()  # only its digest is kept

    page = client.get(f"/signup?invite={secret}")
    assert page.status_code == 200 and f'value="{secret}"'.encode() in page.content
    with mails() as sent:
        assert client.post("/signup", {**FORM, "invite": secret}).status_code == 302
    dora = User.objects.get(username="dora")
    assert dora.is_verification_pending and len(sent) == 1
    invitation = SignupInvitation.objects.get()
    assert (invitation.used_by, invitation.used_at is not None) == (dora, True)

    again = Client().post("/signup", {**FORM, "username": "eve", "email": "eve@example.org", "invite": secret})
    assert again.status_code == 403 and not User.objects.filter(username="eve").exists()


def test_invitations_expire_and_may_name_the_email(client, settings):
    settings.GATEHOUSE_SIGNUP_MODE = "invite"
    old, old_secret = lifecycle.invitation_create(created_by=None)
    SignupInvitation.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    assert client.post("/signup", {**FORM, "invite": old_secret}).status_code == 403
    _, secret = lifecycle.invitation_create(created_by=None, email="Dora@Example.org")
    wrong = client.post("/signup", {**FORM, "email": "mallory@example.org", "invite": secret})
    assert wrong.status_code == 403 and b"another email address" in wrong.content
    assert client.post("/signup", {**FORM, "invite": secret}).status_code == 302


def test_open_sign_up_needs_no_invitation(client, settings, signed_up):
    assert settings.GATEHOUSE_SIGNUP_MODE == "open"
    dora, _ = signed_up("dora")
    assert dora.is_verification_pending


@pytest.mark.django_db(transaction=True)
def test_the_migration_waives_every_account_that_existed_before_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0006_token_fine_grained")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined, fullname) VALUES ('!', false, 'old', '', '', 'old@example.org', false, true,"
            " %s, '')",
            [timezone.now()],
        )
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0007_account_lifecycle")])
    old = User.objects.get(username="old")
    assert old.email_verification_waived and not old.is_verification_pending
    new = User.objects.create_user("new", "new@example.org")
    assert new.is_verification_pending  # the model's default: new accounts must verify
