"""Caching headers on responses that depend on the caller, and Hub-shaped errors on Hub routes."""

import pytest
from django.test import Client

from registry import services
from registry.models import Repo
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


TOKEN_URLS = [
    "/api/whoami-v2",
    "/api/models/alice/secret",
    "/api/models/alice/open",
    "/api/models/alice/nope",
    "/api/models/alice/gated/user-access-request/pending",
]
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


def test_downloads_served_because_of_who_the_caller_is_are_private(client, alice, bob, repos):
    """A file an anonymous caller would not get is served with `Cache-Control: private`, whatever
    let the caller have it (a role, a granted request, an acknowledged license, a release stage
    that spares them) and however they signed in; files anyone gets keep their shared caching."""
    from gating import release
    from gating import services as gating_services
    from licenses import services as license_services
    from licenses.selectors import license_at
    from registry.selectors import resolve_revision
    from tests.licenses.conftest import LICENSE_V1, RAIL_CARD

    gated = Repo.objects.get(name="gated")
    gating_services.access_grant(repo=gated, reviewer=alice, user=bob, has_role=False)
    rail = make_repo(alice, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": b"{}"})
    version = license_at(rail, resolve_revision(rail, "main")).version
    license_services.acknowledgment_record(user=bob, repo=rail, version=version)
    staged = make_repo(alice, "staged", {"config.json": b"{}", "model.safetensors": b"weights"})
    release.release_plan_set(
        repo=staged, actor=alice, stages=[release.StageSpec(mode="public", withheld_patterns=("*.safetensors",))]
    )
    signed_in = Client()
    signed_in.force_login(alice)
    by_token = {user: {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"} for user in (alice, bob)}
    served_by_who = [
        (client, by_token[alice], "/alice/gated/resolve/main/config.json"),
        (client, by_token[bob], "/alice/gated/resolve/main/config.json"),
        (signed_in, {}, "/alice/gated/resolve/main/config.json"),
        (client, by_token[bob], "/alice/rail/resolve/main/config.json"),
        (signed_in, {}, "/alice/rail/resolve/main/config.json"),
        (client, by_token[alice], "/alice/staged/resolve/main/model.safetensors"),
        (signed_in, {}, "/alice/staged/resolve/main/model.safetensors"),
    ]
    for caller, headers, url in served_by_who:
        assert Client().get(url).status_code == 401, url  # anonymous callers don't get it
        for method in (caller.get, caller.head):
            response = method(url, **headers)
            assert response.status_code == 200 and response["Cache-Control"] == "private, no-cache", url
            assert _varies_on_the_caller(response), url
    for url in ("/alice/open/resolve/main/config.json", "/alice/staged/resolve/main/config.json"):
        assert client.get(url, **by_token[bob])["Cache-Control"] == "no-cache", url


@pytest.mark.parametrize(
    "url",
    [
        "/alice/gated/access-requests?export=json",
        "/alice/gated/access-requests?export=csv",
        "/alice/gated/audit?export=json",
        "/alice/gated/audit?export=csv",
        "/alice/open/license/acknowledgments?export=json",
        "/alice/open/license/acknowledgments?export=csv",
    ],
)
def test_exports_are_never_stored(client, alice, repos, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"], url
    assert "no-store" in response["Cache-Control"], url


def test_license_acknowledgment_api_export_is_never_stored(client, alice, repos):
    response = client.get(
        "/api/models/alice/open/license/acknowledgments?export=csv", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}"
    )
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
