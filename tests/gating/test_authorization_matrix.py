"""The authorization matrix (STYLE.md) over resolve, tree, info, likers, Xet tokens, the repo page and the file page,
for every gate mode and release stage: status, no leaked content, no download counted, no email."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from gating import release
from registry.models import Repo
from tests.support.builders import fine_token, make_repo, token_for
from tests.support.matrix import INSIDERS, SECRET, STAGES, matrix_world

pytestmark = pytest.mark.django_db

CALLERS = ["anonymous", "stranger", "pending", "approved", "member", "contributor", "writer", "owner"]
OK, GATED_ANON, GATED, MISSING_ANON, MISSING = (
    200,
    (401, "GatedRepo"),
    (403, "GatedRepo"),
    (401, "RepoNotFound"),
    (
        404,
        "RepoNotFound",
    ),
)


def _expect(mode: str, caller: str, what: str):
    """The answer for `what` in ('meta', 'config', 'weights') under `mode` for `caller`."""
    insider = caller in INSIDERS
    if mode == "private":
        return OK if insider else (MISSING_ANON if caller == "anonymous" else MISSING)
    if mode == "public" or what == "meta" or insider:
        return OK
    if caller == "anonymous":
        return GATED_ANON
    if caller == "approved" and not (mode == "withheld" and what == "weights"):
        return OK
    return GATED


@pytest.fixture
def world(db):
    repo, _org, owner, users = matrix_world()
    tokens = {name: token_for(user, role="read") for name, user in users.items()}
    return repo, owner, tokens


def _set_mode(repo: Repo, owner, mode: str) -> None:
    release.release_plan_set(repo=repo, actor=owner, stages=[STAGES[mode]])


def _check(response, expected, *, label):
    if expected == OK:
        assert response.status_code == 200, label
        return
    status, code = expected
    assert (response.status_code, response["X-Error-Code"]) == (status, code), label
    assert b"SECRET-CONTENT" not in response.content, label


@pytest.mark.parametrize("mode", ["public", "auto", "manual", "private", "withheld"])
@pytest.mark.parametrize("caller", CALLERS)
def test_matrix(client, world, mail_sent_by, mode, caller):
    repo, owner, tokens = world
    _set_mode(repo, owner, mode)
    auth = {} if caller == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {tokens[caller]}"}
    with mail_sent_by() as sent:
        _walk(client, repo, mode, caller, auth)
    repo.refresh_from_db()
    refused = _expect(mode, caller, "config") != OK
    assert repo.downloads == (0 if refused else 1)
    assert sent == []


def test_the_matrix_email_check_can_fail(client, world, mail_sent_by):
    """The same capture as the matrix, around a request that does mail the reviewers."""
    repo, owner, _ = world
    _set_mode(repo, owner, "manual")
    with mail_sent_by() as sent:
        asked = client.post(
            "/acme/m/ask-access",
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token_for(User.objects.get(username='sam'))}",
        )
    assert asked.status_code == 201 and [m.to for m in sent] == [[owner.email]]


def _walk(client, repo: Repo, mode: str, caller: str, auth: dict) -> None:
    # Likers are metadata (community.likes): visible with the repo, missing with it.
    meta = ("/api/models/acme/m", "/api/models/acme/m/tree/main", "/api/models/acme/m/revision/main")
    for url in (*meta, "/api/models/acme/m/likers"):
        _check(client.get(url, **auth), _expect(mode, caller, "meta"), label=url)
    config = client.get("/acme/m/resolve/main/config.json", **auth)
    _check(config, _expect(mode, caller, "config"), label="config")
    if _expect(mode, caller, "config") == OK:
        assert b"".join(config.streaming_content) == SECRET
    _check(client.get("/acme/m/resolve/main/model.safetensors", **auth), _expect(mode, caller, "weights"), label="w")
    # Xet read tokens follow the download decision for the revision; read-role tokens never upload.
    xet = client.get("/api/models/acme/m/xet-read-token/main", **auth)
    _check(xet, _expect(mode, caller, "config"), label="xet-read-token")
    assert client.get("/api/models/acme/m/xet-write-token/main", **auth).status_code in (401, 403, 404)
    head = client.head("/acme/m/resolve/main/config.json", **auth)
    assert head.status_code == (200 if _expect(mode, caller, "config") == OK else _expect(mode, caller, "config")[0])

    page = client.get("/acme/m", **auth)
    blob = client.get("/acme/m/blob/main/config.json", **auth)
    if mode == "private" and caller not in INSIDERS:
        assert page.status_code == blob.status_code == 404
        assert b"acme/m" not in page.content.replace(b"acme/m/", b"")
    else:
        assert page.status_code == blob.status_code == 200
        assert (b"SECRET-CONTENT" in blob.content) == (_expect(mode, caller, "config") == OK)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the lookup cache listens on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_matrix_for_anonymous_callers_with_the_lookup_cache_on(client, world, live_cache):
    """Anonymous lookups are the cached ones: the same answers with the cache on, once the change
    of mode has been announced (and still after, served from the cache)."""
    repo, owner, _tokens = world
    for mode in ("public", "manual", "withheld", "private", "auto", "public"):
        _set_mode(repo, owner, mode)
        deadline = time.monotonic() + 10
        while True:
            try:
                _walk(client, repo, mode, "anonymous", {})
                break
            except (AssertionError, KeyError):  # an answer from before the change was announced
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        _walk(client, repo, mode, "anonymous", {})

    def served_from_the_cache() -> bool:  # the cache was in play: the repo was not looked up
        with CaptureQueriesContext(connection) as queries:
            assert client.head("/acme/m/resolve/main/config.json").status_code == 200
        return not any('FROM "registry_repo"' in query["sql"] for query in queries)

    deadline = time.monotonic() + 10
    while not served_from_the_cache():
        assert time.monotonic() < deadline, "the public HEAD never came from the cache"
        time.sleep(0.05)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the lookup caches listen on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_matrix_for_signed_in_callers_with_the_caches_on(client, world, live_cache):
    """Signed-in callers' tokens, finds, roles and grants are cached too (core.lookup_cache): the
    same answers, walked twice (the second from the caches), across a change of mode."""
    repo, owner, tokens = world
    for mode in ("manual", "private", "public"):
        _set_mode(repo, owner, mode)
        for caller in CALLERS:
            if caller == "anonymous":
                continue
            auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[caller]}"}
            deadline = time.monotonic() + 10
            while True:
                try:
                    _walk(client, repo, mode, caller, auth)
                    break
                except (AssertionError, KeyError):  # an answer from before the change was announced
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            _walk(client, repo, mode, caller, auth)


# Fine-grained tokens (README, Tokens): out of its scopes a token's holder is a stranger, so the
# owner's token scoped to another repo gets the stranger's answers, in every mode; a granted
# user's token that may only read gated repos (canReadGatedRepos) gets the granted user's.
@pytest.mark.parametrize("mode", ["public", "auto", "manual", "private", "withheld"])
def test_matrix_for_fine_grained_tokens(client, world, mail_sent_by, mode):
    repo, owner, _tokens = world
    _set_mode(repo, owner, mode)
    elsewhere = make_repo(owner, "elsewhere", private=True)
    out_of_scope = fine_token(owner, [(elsewhere, ["repo.write", "repo.access.read", "discussion.write"])])
    gated_reader = fine_token(User.objects.get(username="abe"), gated=True)
    with mail_sent_by() as sent:
        _walk(client, repo, mode, "stranger", {"HTTP_AUTHORIZATION": f"Bearer {out_of_scope}"})
        _walk(client, repo, mode, "approved", {"HTTP_AUTHORIZATION": f"Bearer {gated_reader}"})
    assert sent == []


def test_a_private_repo_out_of_a_tokens_scope_answers_byte_for_byte_as_a_missing_one(client, world):
    repo, owner, _tokens = world
    _set_mode(repo, owner, "private")
    elsewhere = make_repo(owner, "elsewhere", private=True)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {fine_token(owner, [(elsewhere, ['repo.content.read'])])}"}
    for private, missing in (
        ("/api/models/acme/m", "/api/models/acme/nope"),
        ("/acme/m/resolve/main/config.json", "/acme/nope/resolve/main/config.json"),
        ("/api/models/acme/m/xet-write-token/main", "/api/models/acme/nope/xet-write-token/main"),
    ):
        one, other = client.get(private, **auth), client.get(missing, **auth)
        assert (
            (one.status_code, one["X-Error-Code"])
            == (other.status_code, other["X-Error-Code"])
            == (404, "RepoNotFound")
        )
        assert one.content.replace(b"acme/m", b"acme/nope") == other.content
