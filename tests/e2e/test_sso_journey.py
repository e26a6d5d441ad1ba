"""Browser: single sign-on through a real OpenID Connect provider (django-oauth-toolkit, its own
process and database: tests/support/oidc_provider), as a person signs in."""

from __future__ import annotations

import pytest
from django.utils import timezone
from huggingface_hub import HfApi

from accounts.models import Membership, Organization, SsoIdentity, User
from tests.support.builders import PASSWORD, OrganizationFactory, UserFactory, add_member, token_for
from tests.support.oidc import *  # noqa: F401,F403 - fixtures
from tests.support.oidc import PROVIDER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username: str, password: str = PROVIDER_PASSWORD) -> None:
    """From Gatehouse's login page, through the provider's, back to Gatehouse."""
    page.context.clear_cookies()  # a fresh sign-in at the provider too
    page.goto(f"{live_server.url}/login")
    page.get_by_test_id("sso-login").click()
    page.wait_for_url(lambda url: "/accounts/login/" in url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in at the provider')")
    page.wait_for_url(lambda url: url.startswith(live_server.url))


def roles_of(user: User) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("org__name", "role"))


def test_first_sign_in_creates_the_account_and_later_ones_follow_the_groups(
    page, live_server, sso_settings, oidc_provider
):
    founder = UserFactory(username="founder")
    for name in ("acme", "research", "elsewhere"):
        add_member(OrganizationFactory(name=name), founder, "admin")
    UserFactory(username="ann")  # the provider's user name is taken here: the new account is ann-2
    sub = oidc_provider.set_user("ann", email="ann@corp.example", email_verified=True, groups=["ml-engineers", "x"])

    sign_in(page, live_server, "ann")
    assert page.get_by_test_id("me").inner_text() == "ann-2"
    ann = User.objects.get(username="ann-2")
    assert ann.email == "ann@corp.example" and ann.email_verified and not ann.has_usable_password()
    assert SsoIdentity.objects.get(user=ann).subject == sub
    assert roles_of(ann) == {"acme": "write"}

    # Promoted at the provider; an unmapped organisation's membership is not the provider's to touch.
    add_member(Organization.objects.get(name="elsewhere"), ann, "read")
    oidc_provider.set_user("ann", email="ann@corp.example", email_verified=True, groups=["ml-leads"])
    sign_in(page, live_server, "ann")
    assert page.get_by_test_id("me").inner_text() == "ann-2"
    assert roles_of(ann) == {"acme": "admin", "research": "read", "elsewhere": "read"}
    assert User.objects.filter(username__startswith="ann").count() == 2  # the same account again

    # Out of every mapped group: out of every mapped organisation.
    oidc_provider.set_user("ann", email="ann@corp.example", email_verified=True, groups=[])
    sign_in(page, live_server, "ann")
    assert roles_of(ann) == {"elsewhere": "read"}


def test_linking_needs_both_emails_verified(page, live_server, sso_settings, oidc_provider):
    local = UserFactory(username="bob", email="bob@corp.example")
    oidc_provider.set_user("bobby", email="BOB@corp.example", email_verified=False)

    # The provider does not vouch for the address: no sign-in, no account, no link.
    sign_in(page, live_server, "bobby")
    refusal = page.get_by_test_id("sso-refusal")
    assert refusal.get_attribute("data-code") == "link_refused"
    assert "already exists" in refusal.inner_text()
    assert page.get_by_test_id("me").count() == 0
    assert not SsoIdentity.objects.exists() and User.objects.count() == 1

    # The provider vouches, but the account never verified its email here: still refused.
    oidc_provider.set_user("bobby", email="BOB@corp.example", email_verified=True)
    sign_in(page, live_server, "bobby")
    assert page.get_by_test_id("sso-refusal").get_attribute("data-code") == "link_refused"
    assert not SsoIdentity.objects.exists()

    # Both verified: the identity is linked to the existing account.
    User.objects.filter(pk=local.pk).update(email_verified_at=timezone.now())
    sign_in(page, live_server, "bobby")
    assert page.get_by_test_id("me").inner_text() == "bob"
    assert SsoIdentity.objects.get().user == local


def test_sso_only_mode_refuses_passwords_but_not_tokens_or_sso(page, live_server, sso_settings, oidc_provider, client):
    sso_settings.GATEHOUSE_SSO_ONLY = True
    carol = UserFactory(username="carol")
    token = token_for(carol, role="read")

    page.goto(f"{live_server.url}/login")
    assert page.locator("input[name=password]").count() == 0
    assert page.get_by_test_id("sso-login").is_visible()
    refused = client.post("/login", {"username": "carol", "password": PASSWORD})
    assert refused.status_code == 403 and "_auth_user_id" not in client.session
    assert client.post("/signup", {"username": "dan", "email": "d@x.org", "password": "long-pass-1"}).status_code == 403
    assert not User.objects.filter(username="dan").exists()
    assert HfApi(endpoint=live_server.url, token=token).whoami()["name"] == "carol"

    oidc_provider.set_user("erin", email="erin@corp.example", email_verified=True)
    sign_in(page, live_server, "erin")
    assert page.get_by_test_id("me").inner_text() == "erin"
