"""Caching headers on responses that depend on the caller, and Hub-shaped errors on Hub routes."""

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


@pytest.mark.parametrize(
    "method, url, allowed",
    [
        ("post", "/alice/open/resolve/main/config.json", "GET, HEAD"),
        ("put", "/datasets/alice/open/resolve/main/config.json", "GET, HEAD"),
        ("post", "/api/agent-harnesses", "GET, HEAD"),
        ("delete", "/api/models/alice/open", "GET"),
        ("get", "/alice/open.git/info/lfs/objects/batch", "POST"),
    ],
)
def test_wrong_methods_on_hub_routes_answer_json_405(client, alice, repos, method, url, allowed):
    response = getattr(client, method)(url, HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert response.status_code == 405 and "json" in response["Content-Type"]
    assert response["X-Error-Code"] == "MethodNotAllowed" and method.upper() in response["X-Error-Message"]
    assert set(response["Allow"].replace(" ", "").split(",")) >= set(allowed.replace(" ", "").split(","))
    assert response.json()["error"] == response["X-Error-Message"]


@pytest.mark.parametrize("url", ["/alice/open/resolve/", "/alice/open/resolve", "/api/models/alice/open/nothing"])
def test_unrouted_hub_paths_answer_json_404(client, repos, url):
    response = client.get(url)
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response["X-Error-Message"] and response.json()["error"] == response["X-Error-Message"]


def test_known_errors_on_the_download_route_keep_their_hub_codes(client, repos):
    codes = {
        "/alice/open/resolve/main/missing.txt": "EntryNotFound",
        "/alice/open/resolve/nobranch/config.json": "RevisionNotFound",
        "/alice/nope/resolve/main/config.json": "RepoNotFound",
    }
    for url, code in codes.items():
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(repos[0].owner_user)}")
        assert (response.status_code, response["X-Error-Code"]) == (404, code), url
        assert response["X-Error-Message"], url


def test_portal_pages_keep_html_errors(client, repos):
    for response in (client.get("/alice/open/nothing/here"), client.post("/alice/open")):
        assert response.status_code in (404, 405) and response["Content-Type"].startswith("text/html")
