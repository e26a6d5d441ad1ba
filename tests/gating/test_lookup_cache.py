"""The per-process cache of anonymous download lookups (core.lookup_cache): served without a
query while nothing changed, and dropped as soon as a committed change reaches it, however the
change was made."""

import os
import time

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccessToken, Membership, User
from core import lookup_cache
from gating import release
from registry import services as registry_services
from registry.models import Ref, Repo
from tests.support.builders import UserFactory, commit_files, make_repo, token_for

URL = "/alice/cached/resolve/main/model.safetensors"


def test_a_value_read_while_the_repo_changed_is_not_stored():
    cache = lookup_cache.LookupCache()
    # No listener thread in this unit test: as if it had just heard its own ping.
    cache._pid, cache._listening, cache._heard_at = os.getpid(), True, time.monotonic()
    cache._ensure_listener = lambda: None
    generation = cache.generation()
    cache.repo_changed(7)  # a notification arrives while the lookup is being read
    cache.put("key", (7,), {"stale": True}, generation)
    assert cache.get("key") is None
    cache.put("key", (7,), {"fresh": True}, cache.generation())
    assert cache.get("key") == {"fresh": True}
    cache.repo_changed(7)
    assert cache.get("key") is None
    cache.put("key", (7,), {"fresh": True}, cache.generation())
    cache._heard_at -= lookup_cache.STALE_AFTER_SECONDS  # pings stopped coming back
    assert cache.get("key") is None and cache.generation() is None
    cache._heard_at = time.monotonic()
    assert cache.get("key") == {"fresh": True}
    cache._after_fork()  # a forked child trusts nothing it inherited
    cache._ensure_listener = lambda: None
    assert cache.get("key") is None and cache.generation() is None
    cache._pid, cache._listening, cache._heard_at = os.getpid(), True, time.monotonic()
    cache.put("key", (7,), {"fresh": True}, cache.generation())
    cache._set_listening(False)  # the listener lost its connection: nothing is served
    assert cache.get("key") is None and cache.generation() is None


def test_an_entry_goes_when_any_of_its_scopes_changes():
    """A signed-in caller's entries depend on the repo and on the user (core.lookup_cache)."""
    cache = lookup_cache.LookupCache()
    cache._pid, cache._listening, cache._heard_at = os.getpid(), True, time.monotonic()
    cache._ensure_listener = lambda: None
    both = (7, lookup_cache.user_scope(3))
    cache.put("a", both, "A", cache.generation())
    cache.put("b", (7,), "B", cache.generation())
    cache.put("c", (lookup_cache.user_scope(4),), "C", cache.generation())
    cache._handle("u:3")  # as the listener hears a change of user 3 (gating migration 0007)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "B", "C")
    cache.put("a", both, "A", cache.generation())
    cache._handle("7")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, "C")
    assert cache._by_scope.get(lookup_cache.user_scope(3), set()) == set()  # no dangling key
    cache.forget("c")
    assert cache.get("c") is None
    cache.put("c", (lookup_cache.user_scope(4),), "C", cache.generation())
    cache._handle("u:x")  # anything unexpected drops everything
    assert cache.get("c") is None


pytestmark_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL)")


WITHIN = 1.0  # seconds: the revocation bound of the README


def _until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_anonymous_heads_are_served_from_the_cache_until_the_repo_changes(client, alice, live_cache):
    repo = make_repo(alice, "cached", {"model.safetensors": b"\0" * 64})
    first = client.head(URL)
    assert first.status_code == 200

    def served_from_cache() -> bool:
        # The repo's own creation notifications may arrive while the first HEAD is read, which
        # (rightly) keeps that answer out of the cache; a later one is stored.
        with CaptureQueriesContext(connection) as queries:
            assert client.head(URL)["X-Repo-Commit"] == first["X-Repo-Commit"]
        return len(queries) == 0

    assert _until(served_from_cache)

    # A new commit moves the branch: the next HEAD names it.
    head = commit_files(repo, {"model.safetensors": b"\1" * 64}, author=alice).oid
    assert _until(lambda: client.head(URL)["X-Repo-Commit"] == head)
    assert Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid == head

    # Private, by a bare UPDATE (no model save, no signal): missing for anonymous callers.
    Repo.objects.filter(pk=repo.pk).update(private=True)
    assert _until(lambda: client.head(URL).status_code == 401)
    Repo.objects.filter(pk=repo.pk).update(private=False)
    assert _until(lambda: client.head(URL).status_code == 200)

    # A release stage that withholds the weights.
    release.release_plan_set(
        repo=Repo.objects.get(pk=repo.pk),
        actor=alice,
        stages=[release.StageSpec(mode="public", withheld_patterns=("*.safetensors",))],
    )
    assert _until(lambda: client.head(URL).status_code == 401)

    assert client.head(URL)["X-Error-Code"] == "GatedRepo"
    # Deleted for good.
    Repo.objects.get(pk=repo.pk).delete()
    assert _until(lambda: client.head(URL).get("X-Error-Code") == "RepoNotFound")


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_counters_announce_nothing_and_every_other_column_does(client, alice, live_cache):
    """Found by a review: the trigger listed the columns it watched, and `deleted_at` (added
    later) was not among them, so a soft-deleted repo kept answering from the cache."""
    make_repo(alice, "cached", {"model.safetensors": b"\0" * 64})
    repo = Repo.objects.get(namespace="alice", name="cached")

    def served_from_cache() -> bool:
        with CaptureQueriesContext(connection) as queries:
            assert client.head(URL).status_code == 200
        return len(queries) == 0

    assert _until(served_from_cache)
    Repo.objects.filter(pk=repo.pk).update(downloads=F("downloads") + 7, likes=3)
    time.sleep(0.2)  # a notification, had there been one, would have arrived
    assert served_from_cache()
    registry_services.repo_delete(repo=repo)
    assert _until(lambda: client.head(URL).get("X-Error-Code") == "RepoNotFound", WITHIN)
    registry_services.repo_restore(repo=repo)
    assert _until(lambda: client.head(URL).status_code == 200, WITHIN)


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_signed_in_callers_are_served_from_the_cache_until_a_change_of_theirs(client, alice, live_cache):
    """The token, the account, the caller's find and role (gating.visibility, access_types): no
    query once cached; dropped, within the README's second, by a change of the membership, the
    token or the account, however made (triggers of gating migration 0007)."""
    bob = UserFactory(username="bob")
    org = account_services.org_create(name="acme", creator=alice)
    account_services.membership_set(org=org, user=bob, role="read")
    make_repo(org, "cached", {"model.safetensors": b"\0" * 64}, private=True, author=alice)
    token = token_for(bob)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = "/acme/cached/resolve/main/model.safetensors"

    def served_from_cache() -> bool:
        with CaptureQueriesContext(connection) as queries:
            assert client.head(url, **auth).status_code == 200
        return len(queries) == 0

    assert _until(served_from_cache)
    Membership.objects.filter(user=bob).delete()  # a bare DELETE: no service, no signal
    assert _until(lambda: client.head(url, **auth).status_code == 404, WITHIN)
    account_services.membership_set(org=org, user=bob, role="read")
    assert _until(served_from_cache)
    AccessToken.objects.filter(user=bob).update(revoked_at=timezone.now())
    assert _until(lambda: client.head(url, **auth).status_code == 401, WITHIN)
    good = token_for(bob, name="second")
    assert client.head(url, HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert _until(lambda: client.head(url, HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 401, WITHIN)


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_listeners_do_not_hear_each_others_pings(settings, monkeypatch):
    settings.GATEHOUSE_LOOKUP_CACHE = True
    heard: list[str] = []
    monkeypatch.setattr(lookup_cache.LookupCache, "_handle", lambda self, payload: heard.append(payload))
    caches = [lookup_cache.LookupCache(), lookup_cache.LookupCache()]
    try:
        for cache in caches:
            cache._ensure_listener()
        # Each turns caching on only once its own ping came back; then a few more rounds of pings.
        assert _until(lambda: all(cache.generation() is not None for cache in caches))
        time.sleep(3 * lookup_cache.PING_SECONDS)
    finally:
        for cache in caches:
            cache.stop()
    assert heard == []  # no ping reached the shared channel's handler


@pytestmark_pg
@pytest.mark.django_db(transaction=True)
def test_a_withdrawn_proof_of_possession_stops_serving_at_once(alice, live_cache):
    """Proofs (`RepoObject`) are cached per process; a deletion made anywhere (here a bare
    queryset delete, as another process's LFS deletion would be) is announced (gating 0009)."""
    import hashlib

    from registry.models import RepoObject
    from registry.storage import content

    weights = os.urandom(4096)
    repo = make_repo(alice, "proven", {"model.safetensors": weights})
    sha256 = hashlib.sha256(weights).hexdigest()
    assert content.belongs_to_repo(repo.pk, sha256)

    def served_from_cache() -> bool:
        with CaptureQueriesContext(connection) as queries:
            assert content.belongs_to_repo(repo.pk, sha256)
        return len(queries) == 0

    assert _until(served_from_cache)
    RepoObject.objects.filter(repo=repo, sha256=sha256).delete()
    assert _until(lambda: not content.belongs_to_repo(repo.pk, sha256), WITHIN)
