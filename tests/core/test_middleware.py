"""Caching headers on responses that depend on the caller."""

import pytest

from registry import services
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db


def _varies_on_the_caller(response) -> bool:
    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    return {"authorization", "cookie"} <= vary


@pytest.fixture
def repos(alice):
    public = make_repo(alice, "open", {"config.json": b"{}"})
    secret = make_repo(alice, "secret", {"config.json": b"{}"}, private=True)
    services.repo_settings_update(repo=make_repo(alice, "gated", {"config.json": b"{}"}), gated="manual", actor=alice)
    return public, secret


TOKEN_URLS = ["/api/whoami-v2", "/api/models/alice/secret", "/api/models/alice/open", "/api/models/alice/nope",
              "/api/models/alice/gated/user-access-request/pending"]  # fmt: skip
PAGES = ["/alice/secret", "/alice/gated/access-requests", "/alice/gated/gating", "/organizations/new"]


@pytest.mark.parametrize("url", TOKEN_URLS)
def test_answers_to_token_callers_are_private(client, alice, repos, url):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert response["Cache-Control"] == "private", url
    assert _varies_on_the_caller(response), url


@pytest.mark.parametrize("url", PAGES)
def test_pages_for_signed_in_users_are_private(client, alice, repos, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200, url
    assert "private" in response["Cache-Control"] and _varies_on_the_caller(response), url


def test_anonymous_answers_keep_their_caching_and_say_they_vary(client, repos):
    info = client.get("/api/models/alice/open")
    assert info.status_code == 200 and not info.has_header("Cache-Control") and _varies_on_the_caller(info)
    for method in (client.get, client.head):
        download = method("/alice/open/resolve/main/config.json")
        assert download.status_code == 200 and download["Cache-Control"] == "no-cache"
        assert download["Vary"] == "Authorization, Cookie" and download["ETag"].startswith('"')


@pytest.mark.parametrize(
    "url",
    [
        "/alice/gated/access-requests?export=json", "/alice/gated/access-requests?export=csv",
        "/alice/gated/audit?export=json", "/alice/gated/audit?export=csv",
        "/alice/open/license/acknowledgments?export=json", "/alice/open/license/acknowledgments?export=csv",
    ],
)  # fmt: skip
def test_exports_are_never_stored(client, alice, repos, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"], url
    assert "no-store" in response["Cache-Control"], url


def test_license_acknowledgment_api_export_is_never_stored(client, alice, repos):
    response = client.get("/api/models/alice/open/license/acknowledgments?export=csv",
                          HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")  # fmt: skip
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
