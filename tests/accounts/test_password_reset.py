"""Password reset by mail: the emailed link sets a new password once, expires, answers the same
for unknown addresses, and is throttled per address and per account."""

import pytest
from django.test import Client

from accounts import lifecycle
from tests.accounts.conftest import link_in, path_of
from tests.support.builders import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "another-long-passphrase"


def _ask(client, email, ip="10.0.0.1"):
    return client.post("/password-reset", {"email": email}, REMOTE_ADDR=ip)


def _set_password(client, link: str):
    """Open the emailed link (Django moves the token into the session) and submit the form."""
    opened = client.get(path_of(link))
    assert opened.status_code == 302, opened.content
    form = client.get(opened["Location"])
    assert b"Set my password" in form.content
    return client.post(opened["Location"], {"new_password1": NEW, "new_password2": NEW})


def test_the_emailed_link_sets_a_new_password_once_and_ends_other_sessions(client, alice, mails):
    elsewhere = Client()
    elsewhere.force_login(alice)
    with mails() as sent:
        asked = _ask(client, "ALICE@example.org")  # any case
    assert asked.status_code == 302 and asked["Location"] == "/password-reset/sent"
    assert [m.to for m in sent] == [[alice.email]] and "Reset your password" in sent[0].subject
    link = link_in(sent[0])
    done = _set_password(client, link)
    assert done.status_code == 302 and done["Location"] == "/password-reset/done"
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert elsewhere.get("/settings/account").status_code == 302  # signed out: sent to the login page
    assert client.post("/login", {"username": "alice", "password": NEW}).status_code == 302
    spent = Client().get(path_of(link), follow=True)
    assert b'data-testid="reset-invalid"' in spent.content


def test_links_expire(client, alice, mails, settings):
    with mails() as sent:
        _ask(client, alice.email)
    settings.PASSWORD_RESET_TIMEOUT = -1
    opened = client.get(path_of(link_in(sent[0])), follow=True)
    assert b'data-testid="reset-invalid"' in opened.content
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_unknown_addresses_get_the_same_answer_and_no_mail(client, alice, mails):
    with mails() as sent:
        known = _ask(client, alice.email, ip="10.0.0.2")
        unknown = _ask(client, "nobody@example.org", ip="10.0.0.3")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(sent) == 1
    page_known = client.get(known["Location"]).content
    assert page_known == client.get(unknown["Location"]).content


def test_disabled_accounts_get_no_link_and_old_links_stop_working(client, alice, mails):
    with mails() as sent:
        _ask(client, alice.email)
    link = link_in(sent[0])
    lifecycle.user_disable(user=alice, reason="spam")
    with mails() as sent:
        assert _ask(client, alice.email).status_code == 302
    assert sent == []
    opened = client.get(path_of(link), follow=True)
    assert b'data-testid="reset-invalid"' in opened.content


def test_requests_are_throttled_per_address_and_per_account(client, alice, bob, mails, settings):
    settings.GATEHOUSE_PASSWORD_RESETS_PER_IP = 4
    settings.GATEHOUSE_PASSWORD_RESETS_PER_ACCOUNT = 2
    with mails() as sent:
        answers = [_ask(client, alice.email, ip=f"10.1.0.{n}").status_code for n in range(4)]
    # Per account: the same answer every time, but no more than two mails fill one mailbox.
    assert answers == [302] * 4 and len(sent) == 2
    with mails() as sent:
        from_one = [_ask(client, f"user{n}@example.org", ip="10.2.0.1").status_code for n in range(5)]
    assert from_one == [302] * 4 + [429]
    refused = _ask(client, bob.email, ip="10.2.0.1")
    assert refused.status_code == 429 and refused["RateLimit-Policy"].endswith("q=4;w=3600")
    assert Client().post("/password-reset", {"email": bob.email}, REMOTE_ADDR="10.3.0.1").status_code == 302
