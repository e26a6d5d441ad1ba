"""The per-process caches of registry.storage.content drop their oldest entries when full, never all at
once (a cleared cache sends every download of a busy process to the database together)."""

import pytest

from registry.models import StoredObject
from registry.storage import content


def test_a_full_cache_drops_only_its_oldest_entries(monkeypatch):
    monkeypatch.setattr(content, "_CACHE_MAX", 3)
    cache = {"a": 1, "b": 2, "c": 3}
    content._make_room(cache)
    cache["d"] = 4
    assert list(cache) == ["b", "c", "d"]


@pytest.mark.django_db
def test_a_cached_xet_hash_is_asked_again_after_its_ttl(monkeypatch):
    """gc_blobs may drop content with its Xet file, and the same bytes may come back as a plain
    upload without one: a hit is not kept for the life of the process."""
    clock = [1000.0]
    monkeypatch.setattr(content.time, "monotonic", lambda: clock[0])
    sha = "ab" * 32
    StoredObject.objects.create(sha256=sha, size=3, xet_hash="cd" * 32)
    assert content.xet_hash_cached(sha) == "cd" * 32
    StoredObject.objects.filter(sha256=sha).update(xet_hash="")  # collected, then stored plainly
    clock[0] += content._HIT_TTL - 1
    assert content.xet_hash_cached(sha) == "cd" * 32
    clock[0] += 2
    assert content.xet_hash_cached(sha) == ""
