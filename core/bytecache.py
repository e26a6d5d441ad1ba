"""Per-process memo caches bounded by the memory their values take, not by their count.

A count bound says nothing about memory when values vary in size (a tree of 3 entries or of
10,000): a web process then keeps growing until every slot holds a large value, long after its
warm-up. These caches are cachetools' LRU with `approx_size` as the size of a value, so a
process's memory for them is flat once the budget is reached. A value larger than the whole
budget is returned but not kept.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import cachetools
from cachetools.keys import hashkey

F = TypeVar("F", bound=Callable[..., Any])
# Every cache made by `memo_by_bytes`, by its function's module and name: what a process holds in
# them (`currsize`, bytes by `approx_size`) against its bound (`maxsize`).
CACHES: dict[str, cachetools.LRUCache] = {}


def approx_size(value: object) -> int:
    """Bytes held by a value of nested tuples, lists, dicts, strings, numbers and plain objects
    (dataclasses included): `sys.getsizeof` of each object reached, each counted once."""
    seen: set[int] = set()
    todo = [value]
    total = 0
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (tuple, list, set, frozenset)):
            todo.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            todo.append(vars(item))
        else:
            todo.extend(getattr(item, name) for name in getattr(type(item), "__slots__", ()) if hasattr(item, name))
    return total


def memo_by_bytes(max_bytes: int, *, key: Callable[..., Any] = hashkey) -> Callable[[F], F]:
    """A thread-safe LRU memo of a function of hashable arguments, holding at most `max_bytes` of
    values (`approx_size`; give a small `key` when the arguments themselves are large). The
    function keeps `cache_clear()`; `cache` is the LRU itself."""

    def decorate(function: F) -> F:
        cache: cachetools.LRUCache = cachetools.LRUCache(maxsize=max(max_bytes, 1), getsizeof=approx_size)
        CACHES[f"{function.__module__}.{function.__qualname__}"] = cache
        return cast(F, cachetools.cached(cache, key=key, lock=threading.Lock())(function))

    return decorate
