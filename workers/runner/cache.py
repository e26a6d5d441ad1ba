"""An LRU of loaded pipelines bounded by memory, not by count.

Plain Python: the loader returns (pipeline, size in bytes) and an eviction hook frees device
memory, so the policy is unit-tested without torch. A pipeline larger than the whole budget is
still loaded (it is needed now), after evicting everything else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class PipelineCache:
    def __init__(self, budget_bytes: int, *, on_evict: Callable[[], None] | None = None):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._on_evict = on_evict
        self.hits = 0
        self.misses = 0

    @property
    def used_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, load: Callable[[], tuple[Any, int]], *, expected_bytes: int = 0) -> Any:
        """The cached value for `key`, loading it (after making room for `expected_bytes`) if absent."""
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key][0]
        self.misses += 1
        self._make_room(expected_bytes)
        value, size = load()
        self._make_room(size)
        self._entries[key] = (value, size)
        return value

    def _make_room(self, size: int) -> None:
        while self._entries and self.used_bytes + size > self.budget_bytes:
            self.evict_oldest()

    def evict_oldest(self) -> None:
        # Drop the last reference before the hook runs, so the hook can really free the memory.
        self._entries.popitem(last=False)
        if self._on_evict is not None:
            self._on_evict()

    def clear(self) -> None:
        while self._entries:
            self.evict_oldest()
