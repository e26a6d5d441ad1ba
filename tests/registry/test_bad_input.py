"""Malformed repo ids, revisions and paths get a clear 4xx, never a 500; private looks missing."""

import json

import pytest

from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db

LONG = "a" * 2000


@pytest.fixture
def repo(alice):
    return make_repo(alice, "tiny", {"config.json": b"{}", "sub/file.txt": b"x"})


@pytest.mark.parametrize(
    "url",
    [
        "/alice/tiny/resolve/main/../config.json",
        "/alice/tiny/resolve/main/sub/../../x",
        "/alice/tiny/resolve/main//etc/passwd",
        "/alice/tiny/resolve/main/%00config.json",
        "/alice/tiny/resolve/main/sub%5C..%5Cconfig.json",
        f"/alice/tiny/resolve/main/{LONG}",
        "/alice/tiny/resolve/main/.git/config",
        "/alice/tiny/resolve/main/C:/x",
        "/alice/tiny/resolve/%00/config.json",
        f"/alice/tiny/resolve/{LONG}/config.json",
        "/alice/tiny/resolve/main",
        "/api/models/alice/tiny/revision/%00",
        f"/api/models/alice/tiny/revision/{LONG}",
        "/api/models/alice/tiny/revision/..%2F..%2Fetc",
        "/api/models/alice/tiny/tree/main/..",
        "/api/models/alice/tiny/tree/main/%00",
        f"/api/models/alice/tiny/tree/main/{LONG}",
        "/api/models/alice/tiny/commits/%7E%5E",
        "/api/models/al..ice/tiny",
        "/api/models/-alice/tiny",
        "/api/models/alice/tiny.git",
        f"/api/models/alice/{LONG}",
        "/api/models/alice/ti%00ny",
        "/api/models?search=%00",
        "/api/models?limit=abc",
        "/api/models?limit=-1",
        "/api/models?cursor=!!!",
        "/api/models?sort=nonsense",
        "/api/models/alice/tiny/tree/main?cursor=bogus",
        "/%00",
        "/alice/tiny/tree/main/..",
        "/alice/tiny/blob/main/%00",
    ],
)
def test_bad_input_is_a_clear_client_error(client, repo, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    if url.startswith("/api/") or "/resolve/" in url:
        assert response["X-Error-Code"]
        assert response["Content-Type"].startswith("application/json")


def test_bad_paths_info_input(client, repo):
    for paths in (["../x"], ["a/./b"], ["a\x00b"], ["x" * 5000]):
        response = client.post("/api/models/alice/tiny/paths-info/main", {"paths": paths})
        assert 400 <= response.status_code < 500


# Found by schemathesis (tests/test_openapi_fuzz.py): JSON values of the wrong type were 500s.
WRONG_TYPES = [
    ("post", "/api/repos/create", {"name": "x", "type": {}}),
    ("post", "/api/repos/create", {"name": "x", "type": ["model"]}),
    ("post", "/api/repos/move", {"fromRepo": "alice/tiny", "toRepo": "alice/other", "type": []}),
    ("delete", "/api/repos/delete", {"name": "tiny", "type": {"a": 1}}),
    ("post", "/api/models/alice/tiny/preupload/main", {"files": [{"path": "a.bin", "size": 3, "sample": 5}]}),
    ("post", "/api/models/alice/tiny/bias-reports", {"revision": [None, None]}),
]


@pytest.mark.parametrize(("method", "url", "body"), WRONG_TYPES)
def test_json_values_of_the_wrong_type_are_a_clear_client_error(client, repo, alice, method, url, body):
    response = getattr(client, method)(
        url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}"
    )
    assert response.status_code == 400, (url, body, response.status_code)
    assert response["X-Error-Code"]


def test_invalid_tokens_are_refused_identically_for_every_repo_state(client, alice, bob):
    make_repo(alice, "public")
    make_repo(alice, "private", private=True)
    revoked = token_for(bob)
    from accounts.models import AccessToken

    AccessToken.objects.filter(user=bob).update(revoked_at="2020-01-01T00:00:00Z")
    bodies = set()
    for token in ("gth_nonsense", revoked, "Bearer", "x" * 500):
        for url in ("/api/models/alice/public", "/api/models/alice/private", "/api/models/alice/missing"):
            response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 401
            assert response["X-Error-Message"] == "Invalid credentials in Authorization header"
            bodies.add(response.content)
    assert len(bodies) == 1


HIDDEN_URLS = [
    "/api/models/{repo}",
    "/api/models/{repo}/revision/main",
    "/api/models/{repo}/tree/main",
    "/api/models/{repo}/refs",
    "/api/models/{repo}/commits/main",
    "/api/models/{repo}/auth-check",
    "/{repo}/resolve/main/config.json",
]
# The caller's own rate-limit budget moves at every call, whatever the repo (core.ratelimit).
VOLATILE_HEADERS = {"Date", "X-Request-Id", "RateLimit"}


def _snapshot(response):
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE_HEADERS}
    return response.status_code, headers, response.content


@pytest.mark.parametrize("template", HIDDEN_URLS)
@pytest.mark.parametrize("method", ["get", "head"])
def test_private_repo_answers_byte_for_byte_like_a_missing_one(client, alice, bob, template, method):
    make_repo(alice, "secret", {"config.json": b"{}"}, private=True)
    for auth in ({}, {"HTTP_AUTHORIZATION": f"Bearer {token_for(bob)}"}):
        private = getattr(client, method)(template.format(repo="alice/secret"), **auth)
        missing = getattr(client, method)(template.format(repo="alice/nothere"), **auth)
        assert private.status_code in (401, 404)
        assert private["X-Error-Code"] == "RepoNotFound"
        assert _snapshot(private) == _snapshot(missing)
    owner = getattr(client, method)(
        template.format(repo="alice/secret"), HTTP_AUTHORIZATION=f"Bearer {token_for(alice, role='read')}"
    )
    assert owner.status_code == 200
