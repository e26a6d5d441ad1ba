"""SSO account matching, group-mapped roles, deprovisioning and settings, on the services and
commands directly (the browser journeys through a real provider are tests/e2e/test_sso_journey.py)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from jwcrypto import jwk

from accounts.auth import authenticate_bearer
from accounts.models import Membership, SsoIdentity, User
from accounts.sso import config
from accounts.sso.backend import OidcBackend
from accounts.sso.checks import sso_settings_check
from accounts.sso.services import SsoRefused, memberships_sync, sso_sign_in
from core.errors import InvalidCredentials
from tests.support.builders import PASSWORD, OrganizationFactory, UserFactory, add_member, token_for
from tests.support.oidc import *  # noqa: F401,F403 - fixtures

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example/realms/corp"
MAP = config.parse_group_roles(json.dumps({"eng": "acme:write", "leads": ["acme:admin", "Research:read"]}))


def sign_in(claims: dict) -> User:
    return sso_sign_in(issuer=ISSUER, claims=claims, group_roles=MAP, groups_claim="groups")


def roles_of(user: User) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("org__name", "role"))


@pytest.fixture
def orgs(db):
    founder = UserFactory(username="founder")
    made = {name: OrganizationFactory(name=name) for name in ("acme", "research", "elsewhere")}
    for org in made.values():
        add_member(org, founder, "admin")
    return made


def test_a_new_subject_gets_an_account_named_after_a_valid_free_user_name():
    UserFactory(username="Jo.Smith")
    user = sign_in({"sub": "1", "preferred_username": "jo.smith@corp", "email": "jo@corp.example"})
    assert user.username == "jo.smith-2"
    assert user.email == "jo@corp.example" and not user.email_verified and not user.has_usable_password()
    odd = sign_in({"sub": "2", "preferred_username": "--an..odd  name!--", "email": "x@corp.example"})
    assert odd.username == "an.odd-name"
    reserved = sign_in({"sub": "3", "preferred_username": "api", "email": "api@corp.example"})
    assert reserved.username == "user"  # reserved names fall through to the email's local part, then "user"
    assert sign_in({"sub": "1", "preferred_username": "renamed", "email": "jo@corp.example"}) == user


def test_a_verified_email_from_the_provider_marks_a_new_account_verified_and_the_string_true_counts():
    user = sign_in({"sub": "1", "preferred_username": "kim", "email": "kim@corp.example", "email_verified": "true"})
    assert user.email_verified


def test_linking_refused_unless_both_sides_verified_and_nothing_is_written():
    local = UserFactory(username="lee", email="lee@corp.example")
    claims = {"sub": "9", "preferred_username": "lee2", "email": "LEE@corp.example", "email_verified": False}
    for provider_verified, local_verified in [(False, False), (True, False), (False, True)]:
        User.objects.filter(pk=local.pk).update(email_verified_at=timezone.now() if local_verified else None)
        with pytest.raises(SsoRefused) as refused:
            sign_in({**claims, "email_verified": provider_verified})
        assert refused.value.code == "link_refused"
    assert not SsoIdentity.objects.exists() and User.objects.count() == 1
    User.objects.filter(pk=local.pk).update(email_verified_at=timezone.now())
    assert sign_in({**claims, "email_verified": True}) == local


def test_a_new_sign_up_that_never_verified_the_address_does_not_block_its_owner():
    """Found by a review: in open sign-up, anyone could register a colleague's address and so
    make their first single sign-on fail. An unproven claim to an address is left aside."""
    squatter = UserFactory(username="squat", email="owner@corp.example", email_verification_waived=False)
    user = sign_in({"sub": "o", "preferred_username": "owner", "email": "owner@corp.example", "email_verified": True})
    assert user != squatter and user.username == "owner" and user.email_verified
    assert not SsoIdentity.objects.filter(user=squatter).exists()


def test_two_local_accounts_with_the_email_or_one_already_linked_refuse_linking():
    first = UserFactory(username="m1", email="m@corp.example", email_verified_at=timezone.now())
    verified = {"email": "m@corp.example", "email_verified": True}
    UserFactory(username="m2", email="M@corp.example", email_verified_at=timezone.now())
    with pytest.raises(SsoRefused, match="already exists"):
        sign_in({"sub": "a", **verified})
    User.objects.filter(username="m2").delete()
    assert sign_in({"sub": "a", **verified}) == first
    with pytest.raises(SsoRefused) as refused:
        sign_in({"sub": "b", **verified})
    assert refused.value.code == "already_linked"


def test_a_disabled_account_and_a_missing_subject_are_refused():
    user = sign_in({"sub": "1", "preferred_username": "nat"})
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(SsoRefused) as refused:
        sign_in({"sub": "1"})
    assert refused.value.code == "disabled"
    for bad in ({}, {"sub": ""}, {"sub": 5}, {"sub": "x" * 256}):
        with pytest.raises(SsoRefused):
            sign_in(bad)


def test_groups_map_to_the_highest_role_and_only_mapped_organisations_change(orgs):
    user = sign_in({"sub": "1", "preferred_username": "ola", "groups": ["eng", "unmapped"]})
    assert roles_of(user) == {"acme": "write"}
    add_member(orgs["elsewhere"], user, "write")
    sign_in({"sub": "1", "groups": ["eng", "leads"]})
    assert roles_of(user) == {"acme": "admin", "research": "read", "elsewhere": "write"}
    sign_in({"sub": "1", "groups": "eng"})  # a lone string counts as one group
    assert roles_of(user) == {"acme": "write", "elsewhere": "write"}
    sign_in({"sub": "1", "groups": None})
    assert roles_of(user) == {"elsewhere": "write"}


def test_the_last_admin_of_a_mapped_organisation_stays(orgs):
    lone = OrganizationFactory(name="solo")
    user = UserFactory(username="pat")
    add_member(lone, user, "admin")
    changes = memberships_sync(user=user, groups=set(), group_roles=config.parse_group_roles('{"g": "solo:read"}'))
    assert changes.kept_last_admin == ["solo"] and roles_of(user) == {"solo": "admin"}


def test_a_map_naming_a_missing_organisation_is_skipped(orgs, caplog):
    user = sign_in({"sub": "1", "preferred_username": "quinn", "groups": ["x"]})
    changes = memberships_sync(user=user, groups={"x"}, group_roles=config.parse_group_roles('{"x": "ghost:read"}'))
    assert not changes.added and "ghost" in caplog.text


@pytest.mark.parametrize(
    "raw",
    ['{"g": "acme"}', '{"g": "acme:owner"}', '["acme:read"]', '{"g": [1]}', "not json", '{"g": ":read"}'],
)
def test_a_bad_group_map_is_a_clear_configuration_error(raw, settings):
    with pytest.raises(ImproperlyConfigured, match="GATEHOUSE_OIDC_GROUP_ROLES"):
        config.parse_group_roles(raw)
    settings.GATEHOUSE_OIDC_GROUP_ROLES = raw
    assert [error.id for error in sso_settings_check(None)] == ["gatehouse.E042"]


def test_the_group_map_file_wins_and_a_missing_file_is_reported(settings, tmp_path):
    path = tmp_path / "groups.json"
    path.write_text('{"eng": "acme:write"}')
    settings.GATEHOUSE_OIDC_GROUP_ROLES = '{"other": "x:read"}'
    settings.GATEHOUSE_OIDC_GROUP_ROLES_FILE = str(path)
    assert config.group_roles() == {"eng": (("acme", "write"),)}
    settings.GATEHOUSE_OIDC_GROUP_ROLES_FILE = str(tmp_path / "missing.json")
    with pytest.raises(ImproperlyConfigured, match="missing.json"):
        config.group_roles()


def test_sso_only_without_a_provider_fails_the_checks(settings):
    settings.GATEHOUSE_SSO_ONLY = True
    assert [error.id for error in sso_settings_check(None)] == ["gatehouse.E040"]


def test_sso_only_turns_off_every_password_sign_in(settings):
    user = UserFactory(username="rae")
    assert authenticate(username="rae", password=PASSWORD) == user
    settings.GATEHOUSE_SSO_ONLY = True
    assert authenticate(username="rae", password=PASSWORD) is None


def test_a_disabled_accounts_session_stops_working():
    user = UserFactory(username="sam")
    assert OidcBackend().get_user(user.pk) == user
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert OidcBackend().get_user(user.pk) is None


def _stale(username: str, days: int, groups: list[str]) -> User:
    user = sign_in({"sub": username, "preferred_username": username, "groups": groups})
    SsoIdentity.objects.filter(user=user).update(last_login_at=timezone.now() - timedelta(days=days))
    return user


def test_deprovisioning_disables_stale_accounts_and_removes_mapped_memberships(settings, orgs, capsys):
    settings.GATEHOUSE_OIDC_ISSUER = ISSUER
    settings.GATEHOUSE_OIDC_CLIENT_ID = "gatehouse"
    settings.GATEHOUSE_OIDC_GROUP_ROLES = json.dumps({"eng": "acme:write", "leads": ["acme:admin", "Research:read"]})
    gone = _stale("gone", 100, ["leads"])
    add_member(orgs["elsewhere"], gone, "read")
    recent = _stale("recent", 10, ["eng"])
    token = token_for(gone, role="read")
    assert authenticate_bearer(f"Bearer {token}")[0] == gone

    call_command("sso_deprovision", "--days", "90", "--dry-run")
    assert "Would deprovision gone" in capsys.readouterr().out
    assert User.objects.get(pk=gone.pk).is_active and roles_of(gone) == {
        "acme": "admin",
        "research": "read",
        "elsewhere": "read",
    }

    call_command("sso_deprovision", "--days", "90")
    out = capsys.readouterr().out
    assert "Deprovisioned gone" in out and "recent" not in out
    gone.refresh_from_db()
    assert not gone.is_active and roles_of(gone) == {"elsewhere": "read"}
    assert roles_of(recent) == {"acme": "write"} and User.objects.get(pk=recent.pk).is_active
    with pytest.raises(InvalidCredentials):
        authenticate_bearer(f"Bearer {token}")
    with pytest.raises(SsoRefused):
        sign_in({"sub": "gone", "groups": ["leads"]})

    call_command("sso_deprovision", "--days", "90")
    assert "Deprovisioned 0 account(s)." in capsys.readouterr().out

    call_command("sso_deprovision", "--reactivate", "gone")
    assert User.objects.get(pk=gone.pk).is_active
    assert sign_in({"sub": "gone", "groups": ["eng"]}) == gone and roles_of(gone) == {
        "acme": "write",
        "elsewhere": "read",
    }
    with pytest.raises(CommandError, match="not deprovisioned"):
        call_command("sso_deprovision", "--reactivate", "recent")


def test_deprovisioning_can_keep_accounts_enabled(settings, orgs):
    settings.GATEHOUSE_OIDC_ISSUER = ISSUER
    settings.GATEHOUSE_OIDC_CLIENT_ID = "gatehouse"
    settings.GATEHOUSE_OIDC_GROUP_ROLES = '{"eng": "acme:write"}'
    gone = _stale("idle", 100, ["eng"])
    call_command("sso_deprovision", "--days", "30", "--keep-active")
    gone.refresh_from_db()
    assert gone.is_active and roles_of(gone) == {}
    # Signing in again restores the roles and makes the account count as seen for the next runs.
    assert sign_in({"sub": "idle", "groups": ["eng"]}) == gone and roles_of(gone) == {"acme": "write"}
    SsoIdentity.objects.filter(user=gone).update(last_login_at=timezone.now() - timedelta(days=100))
    call_command("sso_deprovision", "--days", "30", "--keep-active")
    assert roles_of(gone) == {}


def test_deprovisioning_needs_sso_and_days(settings):
    with pytest.raises(CommandError, match="not configured"):
        call_command("sso_deprovision", "--days", "5")
    settings.GATEHOUSE_OIDC_ISSUER = ISSUER
    settings.GATEHOUSE_OIDC_CLIENT_ID = "gatehouse"
    with pytest.raises(CommandError, match="--days"):
        call_command("sso_deprovision")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("sso_deprovision", "--days", "0")


def test_discovery_reads_the_real_providers_document_and_caches_it(sso_settings, oidc_provider):
    found = config.provider()
    assert found.issuer == oidc_provider.issuer
    assert found.token_endpoint == f"{oidc_provider.issuer}/token/"
    assert found.jwks_uri == f"{oidc_provider.issuer}/.well-known/jwks.json"
    sso_settings.GATEHOUSE_OIDC_TOKEN_ENDPOINT = "https://elsewhere.example/token"
    assert config.provider().token_endpoint == "https://elsewhere.example/token"  # explicit wins


def test_discovery_refuses_a_document_for_another_issuer_and_an_unreachable_one(sso_settings, oidc_provider):
    # The same server under another name: its document names 127.0.0.1, not localhost.
    sso_settings.GATEHOUSE_OIDC_ISSUER = oidc_provider.issuer.replace("127.0.0.1", "localhost")
    with pytest.raises(config.ProviderUnavailable, match="another issuer"):
        config.provider()
    sso_settings.GATEHOUSE_OIDC_ISSUER = "http://127.0.0.1:9/o"
    sso_settings.GATEHOUSE_OIDC_TIMEOUT = 2
    with pytest.raises(config.ProviderUnavailable, match="Could not read"):
        config.provider()


def test_sso_routes_are_missing_when_sso_is_off_and_say_so_when_the_provider_is_down(client, settings):
    assert client.get("/sso/login").status_code == 404
    assert client.get("/sso/callback?code=a&state=b").status_code == 404
    settings.GATEHOUSE_OIDC_ISSUER = "http://127.0.0.1:9/o"
    settings.GATEHOUSE_OIDC_CLIENT_ID = "gatehouse"
    settings.GATEHOUSE_OIDC_TIMEOUT = 2
    config.forget_discovery()
    down = client.get("/sso/login")
    assert down.status_code == 503 and b"could not be reached" in down.content
    login_page = client.get("/login")
    assert b'data-testid="sso-login"' in login_page.content and b'name="password"' in login_page.content


def test_a_callback_without_a_started_sign_in_is_refused_without_signing_in(client, sso_settings):
    response = client.get("/sso/callback?code=stolen&state=guess")
    assert response.status_code in (400, 403) and "_auth_user_id" not in client.session


def test_id_tokens_for_another_client_issuer_or_sign_in_are_rejected(sso_settings, oidc_provider):
    """Signed with the real provider's key (published in its JWKS) but not for this sign-in:
    mozilla-django-oidc alone would accept another client's token (it skips the audience)."""
    pem = oidc_provider.key_path.read_bytes()
    kid = jwk.JWK.from_pem(pem).thumbprint()
    backend = OidcBackend()
    backend.configure(config.provider())
    now = int(time.time())
    claims = {"iss": oidc_provider.issuer, "aud": oidc_provider.client_id, "sub": "1", "iat": now, "exp": now + 300}

    def token(key=pem, **changes):
        return jwt.encode({**claims, "nonce": "n1", **changes}, key, algorithm="RS256", headers={"kid": kid})

    assert backend.verify_token(token(), nonce="n1")["sub"] == "1"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        token(aud="another-client"),
        token(iss="http://127.0.0.1:9/o"),
        token(exp=now - 3600, iat=now - 7200),
        token(nonce="another-sign-in"),
        token(key=other_key),
        jwt.encode({**claims, "nonce": "n1"}, oidc_provider.client_secret, algorithm="HS256", headers={"kid": kid}),
    ):
        with pytest.raises(SuspiciousOperation):
            backend.verify_token(bad, nonce="n1")


def test_a_custom_groups_claim_is_read(orgs):
    user = sso_sign_in(
        issuer=ISSUER,
        claims={"sub": "r", "preferred_username": "roles", "roles": ["eng"]},
        group_roles=MAP,
        groups_claim="roles",
    )
    assert roles_of(user) == {"acme": "write"}


def test_a_provider_that_fails_at_the_token_exchange_gets_a_clear_page(client, settings):
    """Explicit endpoints (no discovery), the token endpoint down: 503 with a reason, nobody signed in."""
    settings.GATEHOUSE_OIDC_ISSUER = "http://127.0.0.1:9/o"
    settings.GATEHOUSE_OIDC_CLIENT_ID = "gatehouse"
    settings.GATEHOUSE_OIDC_TIMEOUT = 2
    for name in ("AUTHORIZATION_ENDPOINT", "TOKEN_ENDPOINT", "USERINFO_ENDPOINT", "JWKS_URI"):
        setattr(settings, f"GATEHOUSE_OIDC_{name}", f"http://127.0.0.1:9/{name.lower()}")
    started = client.get("/sso/login?next=/alice")
    assert started.status_code == 302 and started["Location"].startswith("http://127.0.0.1:9/authorization_endpoint?")
    state = next(iter(client.session["oidc_states"]))
    assert "code_challenge_method=S256" in started["Location"] and f"state={state}" in started["Location"]
    response = client.get(f"/sso/callback?code=abc&state={state}")
    assert response.status_code == 503 and b"could not be reached" in response.content
    assert "_auth_user_id" not in client.session and state not in client.session["oidc_states"]
