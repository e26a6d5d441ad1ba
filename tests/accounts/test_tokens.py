import hashlib

import pytest
from django.core.management import call_command
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from accounts import tokens
from accounts.models import AccessToken, User
from accounts.services import token_create, token_revoke
from tests.support.builders import OrganizationFactory, add_member, token_for

pytestmark = pytest.mark.django_db


def test_token_format_is_prefixed_and_checksummed():
    new = tokens.generate()
    assert new.plaintext.startswith("gth_") and len(new.plaintext) == tokens.TOKEN_LEN
    assert tokens.looks_like_token(new.plaintext)
    tampered = new.plaintext[:-1] + ("A" if new.plaintext[-1] != "A" else "B")
    assert not tokens.looks_like_token(tampered)
    assert not tokens.looks_like_token("gth_" + "a" * (tokens.TOKEN_LEN - 4))


def test_tokens_are_stored_hashed_never_in_plaintext(alice):
    token, plaintext = token_create(user=alice, name="ci", role="read")
    row = AccessToken.objects.values().get(pk=token.pk)
    assert plaintext not in str(row)
    assert row["digest"] == hashlib.sha256(plaintext.encode()).hexdigest()


def test_revoked_token_stops_working_on_the_next_request(client, alice):
    token, plaintext = token_create(user=alice, name="ci", role="write")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    assert client.get("/api/whoami-v2", **auth).status_code == 200
    token_revoke(user=alice, token_id=token.pk)
    response = client.get("/api/whoami-v2", **auth)
    assert response.status_code == 401
    assert response["X-Error-Message"] == "Invalid credentials in Authorization header"


@pytest.mark.django_db(transaction=True)
def test_whoami_with_the_client(hub, alice):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "write")
    me = HfApi(token=token_for(alice, role="read", name="laptop")).whoami()
    assert me["name"] == "alice"
    assert me["auth"]["accessToken"] == {
        "displayName": "laptop",
        "role": "read",
        "createdAt": me["auth"]["accessToken"]["createdAt"],
    }
    assert [(o["name"], o["roleInOrg"]) for o in me["orgs"]] == [("acme", "write")]
    with pytest.raises(HfHubHTTPError):
        HfApi(token="gth_invalid").whoami()


def test_createuser_is_idempotent_and_mint_token_prints_only_the_token(capsys):
    call_command("createuser", "carol", "--email", "c@example.org", "--password", "s3cret-pass-word", "--admin")
    call_command("createuser", "carol", "--email", "c2@example.org", "--password", "other-pass-word-2")
    carol = User.objects.get(username="carol")
    assert User.objects.filter(username="carol").count() == 1
    assert carol.email == "c2@example.org" and carol.check_password("other-pass-word-2") and not carol.is_superuser
    capsys.readouterr()
    call_command("mint_token", "carol", "--role", "write", "--name", "deploy")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and tokens.looks_like_token(out.strip())
    assert AccessToken.objects.get(user=carol).name == "deploy"
