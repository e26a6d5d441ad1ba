"""Operators disable (block) an account: it cannot sign in, its tokens are refused (within the
revocation bound, through every web process's lookup cache), its sessions end and stay ended."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client

from accounts import tokens
from core import lookup_cache
from tests.support.builders import PASSWORD, make_repo, token_for

WITHIN = 1.0  # seconds: the revocation bound of the README (issue 15)


def _until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db
def test_a_disabled_account_cannot_sign_in_its_tokens_fail_and_its_sessions_end(alice, bob):
    make_repo(alice, "hidden", {"config.json": b"{}"}, private=True)
    token = token_for(alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    browser = Client()
    assert browser.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 302
    session_key = browser.cookies["sessionid"].value
    assert Client().get("/api/models/alice/hidden", **auth).status_code == 200

    call_command("account", "disable", "ALICE", reason="abuse report 12")
    alice.refresh_from_db()
    assert (alice.is_active, alice.disabled_reason) == (False, "abuse report 12")
    refused = Client().get("/api/models/alice/hidden", **auth)
    assert refused.status_code == 401 and refused["X-Error-Code"] == "InvalidCredentials"
    assert browser.get("/settings/account").status_code == 302  # to the login page
    assert Client().post("/login", {"username": "alice", "password": PASSWORD}).status_code == 200  # the form again
    assert browser.post("/password-reset", {"email": alice.email}).status_code == 302  # mails nothing (reset tests)

    call_command("account", "enable", "alice")
    assert Client().get("/api/models/alice/hidden", **auth).status_code == 200
    assert browser.get("/settings/account").status_code == 302  # the ended session stays ended
    assert not Session.objects.filter(session_key=session_key).exists()  # flushed on its first use
    assert Client().post("/login", {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_sessions_of_any_backend_end_with_the_epoch(alice, settings):
    """A session made by another backend (an SSO one, say) may not test is_active as Django's
    ModelBackend does: moving the session epoch ends it anyway."""
    from django.contrib.auth import get_user
    from django.test import RequestFactory

    lenient = "django.contrib.auth.backends.AllowAllUsersModelBackend"
    settings.AUTHENTICATION_BACKENDS = [lenient]
    browser = Client()
    browser.force_login(alice, backend=lenient)
    request = RequestFactory().get("/")
    request.session = browser.session
    assert get_user(request).pk == alice.pk
    from accounts import lifecycle

    lifecycle.user_disable(user=alice)
    request.session = browser.session
    assert get_user(request).is_anonymous
    lifecycle.user_enable(user=alice)  # and it stays ended
    request.session = browser.session
    assert get_user(request).is_anonymous


pytestmark_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL)")


@pytest.fixture
def live_cache(settings, monkeypatch):
    settings.GATEHOUSE_LOOKUP_CACHE = True
    cache = lookup_cache.LookupCache()
    monkeypatch.setattr(lookup_cache, "cache", cache)
    assert _until(lambda: cache.generation() is not None, 10), "the listener did not connect"
    yield cache
    cache.stop()


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_the_real_client_is_refused_a_disabled_accounts_token_within_the_bound(hub, alice, live_cache):
    """huggingface_hub against a live server: the token works (and is cached by the server's
    lookup cache), the operator disables the account, and within a second the same token is
    refused; enabled again, it works again."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    make_repo(alice, "hidden", {"config.json": b"{}"}, private=True)
    token = token_for(alice, role="read")
    api = HfApi(token=token)
    assert api.whoami()["name"] == "alice"
    assert api.model_info("alice/hidden").id == "alice/hidden"
    assert live_cache.get(("token", tokens.parse_public_id(token))) is not None  # served from the cache

    call_command("account", "disable", "alice")

    def refused() -> bool:
        try:
            api.whoami()
        except HfHubHTTPError as exc:
            return exc.response.status_code == 401
        return False

    started = time.monotonic()
    assert _until(refused, WITHIN), "the disabled account's token still worked after a second"
    assert time.monotonic() - started < WITHIN
    with pytest.raises(HfHubHTTPError) as refusal:
        api.model_info("alice/hidden")
    assert refusal.value.response.status_code == 401
    assert refusal.value.response.headers["X-Error-Code"] == "InvalidCredentials"

    call_command("account", "enable", "alice")
    assert _until(lambda: not refused(), WITHIN)


@pytest.mark.django_db
def test_sso_reactivation_never_enables_an_account_an_operator_disabled(alice):
    from django.utils import timezone

    from accounts import lifecycle
    from accounts.models import SsoIdentity
    from accounts.sso.services import sso_reactivate
    from core.errors import BadRequest

    issuer = "https://idp.example.org"
    SsoIdentity.objects.create(
        user=alice, issuer=issuer, subject="a-1", last_login_at=timezone.now(), deprovisioned_at=timezone.now()
    )
    lifecycle.user_disable(user=alice, reason="abuse")
    with pytest.raises(BadRequest, match="not deprovisioned"):
        sso_reactivate(issuer=issuer, username="alice")
    alice.refresh_from_db()
    assert not alice.is_active
