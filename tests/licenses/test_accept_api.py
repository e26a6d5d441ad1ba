"""Acceptance through the API and the click-through page: only the version in force, only on repos
the user can see, with a token that may act for the user. Refusals record nothing."""

import hashlib

import pytest
from django.test import Client

from licenses.models import Acknowledgment, LicenseText
from tests.licenses.conftest import LICENSE_V1, LICENSE_V2, RAIL_CARD, change_license, head
from tests.support.builders import PASSWORD, make_repo, token_for

pytestmark = pytest.mark.django_db

V1 = hashlib.sha256(LICENSE_V1).hexdigest()
V2 = hashlib.sha256(LICENSE_V2).hexdigest()


def _accept(client, repo_id, token, body):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(f"/api/models/{repo_id}/license/accept", body, content_type="application/json", **headers)


def test_accept_then_replay_is_idempotent(client, rail_repo, bob, bob_token):
    first = _accept(client, "alice/rail", bob_token, {"version": V1})
    assert first.status_code == 201
    again = _accept(client, "alice/rail", bob_token, {"version": V1, "revision": "main"})
    assert again.status_code == 200 and again.json() == first.json()
    ack = Acknowledgment.objects.get()
    assert (ack.user, ack.license_id, ack.version, ack.commit_oid) == (
        bob,
        "creativeml-openrail-m",
        V1,
        head(rail_repo),
    )
    assert ack.location == f"LICENSE@{head(rail_repo)}"
    assert LicenseText.objects.get().text == LICENSE_V1.decode()


def test_a_version_that_is_no_longer_current_is_refused(client, alice, rail_repo, bob_token):
    old = head(rail_repo)
    new = change_license(rail_repo, alice)
    response = _accept(client, "alice/rail", bob_token, {"version": V1})
    assert response.status_code == 409 and response.json()["code"] == "Conflict"
    error = response.json()["error"]
    assert f"License version {V1[:12]} is not the license of revision {new[:12]}" in error
    assert f"its current version is {V2[:12]}" in error and f"/alice/rail/license?revision={new}" in error
    assert Acknowledgment.objects.count() == 0 and LicenseText.objects.count() == 0
    # The old text is still the license of the old revision, and may be accepted there.
    assert _accept(client, "alice/rail", bob_token, {"version": V1, "revision": old}).status_code == 201


@pytest.mark.parametrize(
    ("version", "status", "fragment"),
    [
        (hashlib.sha256(b"a text nobody was shown").hexdigest(), 400, "was never the license text of alice/rail"),
        ("abc", 400, "must be the license version"),
        (V1.upper(), 400, "must be the license version"),
        (None, 400, "must be the license version"),
        (["x"], 400, "must be the license version"),
    ],
)
def test_forged_or_malformed_versions_are_refused(client, rail_repo, bob_token, version, status, fragment):
    response = _accept(client, "alice/rail", bob_token, {"version": version})
    assert response.status_code == status and fragment in response.json()["error"]
    assert Acknowledgment.objects.count() == 0


def test_repo_the_user_cannot_see_looks_missing(client, alice, bob_token):
    make_repo(alice, "secret", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1}, private=True)
    hidden = _accept(client, "alice/secret", bob_token, {"version": V1})
    missing = _accept(client, "alice/nothing-here", bob_token, {"version": V1})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content and hidden.headers["X-Error-Code"] == "RepoNotFound"
    assert client.get("/alice/secret/license").status_code == 404
    assert Acknowledgment.objects.count() == 0


def test_anonymous_and_read_tokens_cannot_accept(client, rail_repo, bob):
    assert _accept(client, "alice/rail", None, {"version": V1}).status_code == 401
    read = _accept(client, "alice/rail", token_for(bob, role="read"), {"version": V1})
    assert read.status_code == 403 and "write role" in read.json()["error"]
    bad_revision = _accept(client, "alice/rail", token_for(bob), {"version": V1, "revision": "nope"})
    assert bad_revision.status_code == 404 and bad_revision.headers["X-Error-Code"] == "RevisionNotFound"
    not_json = client.post(
        "/api/models/alice/rail/license/accept",
        "[1]",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert not_json.status_code == 400
    assert Acknowledgment.objects.count() == 0


def test_click_through_page_accepts_the_shown_version(client, rail_repo, bob):
    client.login(username="bob", password=PASSWORD)
    page = client.get("/alice/rail/license")
    body = page.content.decode()
    assert page.status_code == 200 and "Version one of the terms" in body and V1 in body
    assert "not legal advice" in body and 'data-testid="accept-license"' in body
    response = client.post("/alice/rail/license", {"version": V1, "revision": head(rail_repo)})
    assert response.status_code == 302 and Acknowledgment.objects.get().source == "web"
    assert "You accepted this version" in client.get(response["Location"]).content.decode()


def test_click_through_refuses_stale_versions_and_cross_site_posts(client, alice, rail_repo, bob):
    change_license(rail_repo, alice)
    client.login(username="bob", password=PASSWORD)
    stale = client.post("/alice/rail/license", {"version": V1})
    assert stale.status_code == 409 and "is not the license of revision" in stale.content.decode()

    browser = Client(enforce_csrf_checks=True)
    browser.login(username="bob", password=PASSWORD)
    forged = browser.post("/alice/rail/license", {"version": V2})
    assert forged.status_code == 403
    assert Acknowledgment.objects.count() == 0

    anonymous = Client().post("/alice/rail/license", {"version": V2})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login")
    assert Acknowledgment.objects.count() == 0
