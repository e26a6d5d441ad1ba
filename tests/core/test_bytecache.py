"""core.bytecache: per-process memo caches bounded by the memory of their values."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from core.bytecache import approx_size, memo_by_bytes
from registry.git import trees
from registry.selectors import resolve_revision
from tests.support.builders import make_repo


def test_approx_size_counts_nested_values_and_shared_objects_once():
    entry = {"name": "a" * 1000, "size": 1}
    alone = approx_size((entry,))
    assert alone > 1000
    assert approx_size((entry, {"a": entry})) < 2 * alone  # the index shares the entry

    @dataclass
    class Card:
        data: dict

    assert approx_size(Card({"k": "x" * 5000})) > 5000


def test_a_memo_never_holds_more_than_its_budget_however_many_values():
    calls: list[int] = []

    @memo_by_bytes(64 * 1024)
    def load(n: int) -> str:
        calls.append(n)
        return "x" * 10_000

    for n in range(100):
        load(n)
    cache = load.cache  # type: ignore[attr-defined]
    assert cache.currsize <= 64 * 1024 and 3 <= len(cache) <= 6
    load(99)  # the newest is still there
    assert calls.count(99) == 1
    load(0)  # the oldest was evicted
    assert calls.count(0) == 2


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    @memo_by_bytes(1024)
    def load(n: int) -> str:
        return "y" * 5000

    assert load(1) == "y" * 5000
    assert len(load.cache) == 0  # type: ignore[attr-defined]


def test_a_memo_keyed_by_a_digest_does_not_keep_the_argument():
    @memo_by_bytes(1024 * 1024, key=lambda raw: str(len(raw)))
    def render(raw: str) -> str:
        return raw[:3]

    render("z" * 100_000)
    assert list(render.cache.keys()) == ["100000"]  # type: ignore[attr-defined]
    assert render.cache.currsize < sys.getsizeof("z" * 100_000)  # type: ignore[attr-defined]


def test_the_tree_cache_counts_bytes_not_trees(alice, settings):
    """The stored-tree cache is a byte-bounded memo of GATEHOUSE_TREE_CACHE_BYTES: wide trees
    count for what they hold (the eviction itself is tested above)."""
    cache = trees._stored_tree.cache  # type: ignore[attr-defined]
    assert cache.maxsize == settings.GATEHOUSE_TREE_CACHE_BYTES
    trees.clear_caches()
    repo = make_repo(alice, "wide", {f"dir{d}/file{f}.txt": str(d).encode() for d in range(4) for f in range(150)})
    root = resolve_revision(repo, "main").tree_oid
    for d in range(4):
        assert trees.find_entry(root, f"dir{d}/file7.txt") is not None
    assert len(cache) >= 5 and cache.currsize > 4 * 150 * 200
    trees.clear_caches()
    assert cache.currsize == 0


def test_the_portals_folder_listings_are_bounded_in_bytes():
    """Found by an outsider attack: a count bound let 256 listings of 9,000-file folders hold 235 MB."""
    from registry.views import portal

    assert portal._listing_order.cache.maxsize == portal.LISTING_CACHE_BYTES
