"""The per-process caches of registry.storage.content drop their oldest entries when full, never all at
once (a cleared cache sends every download of a busy process to the database together)."""

from registry.storage import content


def test_a_full_cache_drops_only_its_oldest_entries(monkeypatch):
    monkeypatch.setattr(content, "_CACHE_MAX", 3)
    cache = {"a": 1, "b": 2, "c": 3}
    content._make_room(cache)
    cache["d"] = 4
    assert list(cache) == ["b", "c", "d"]
