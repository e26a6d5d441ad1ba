"""Fixed-window rate limits with the Hub's headers.

The counter lives in Django's cache: `add` creates the window's key with its expiry and `incr`
counts atomically (Redis INCR in production; the file cache used without Redis is good enough
for a single developer). A refused call raises `RateLimited` carrying
`RateLimit: "api";r=0;t=<seconds left>` and `RateLimit-Policy: "fixed window";"api";q=<limit>;w=<window>`,
which `huggingface_hub` parses into its error message.
"""

from __future__ import annotations

import time
from contextlib import suppress

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from core.errors import RateLimited


def hit(*, bucket: str, key: str, limit: int, window: int) -> int:
    """Count one call against `bucket` for `key`; the calls left in this window. Raises when over."""
    return charge(bucket=bucket, key=key, amount=1, limit=limit, window=window, unit="requests")


def _window_key(bucket: str, key: str, window: int) -> tuple[str, int, int]:
    now = int(time.time())
    window_start = now - now % window
    return f"ratelimit:{bucket}:{key}:{window_start}", window_start, now


def refund(*, bucket: str, key: str, amount: int = 1, window: int) -> None:
    """Give back what `charge` counted in this window (a login that succeeded costs nothing)."""
    cache_key, _, _ = _window_key(bucket, key, window)
    with suppress(ValueError):  # the window ended meanwhile
        if cache.decr(cache_key, amount) < 0:
            cache.set(cache_key, 0, timeout=window + 5)


def headers(*, policy: str, remaining: int, reset: int, limit: int, window: int) -> dict[str, str]:
    """The Hub's headers (IETF draft v9), which huggingface_hub parses on every answer."""
    return {
        "RateLimit": f'"{policy}";r={max(remaining, 0)};t={reset}',
        "RateLimit-Policy": f'"fixed window";"{policy}";q={limit};w={window}',
    }


def charge(*, bucket: str, key: str, amount: int, limit: int, window: int, unit: str, policy: str = "api") -> int:
    """Count `amount` (calls, bytes) against `bucket` for `key`; what is left in this window.
    Raises, without counting, when the amount would go over the limit."""
    return charge_window(bucket=bucket, key=key, amount=amount, limit=limit, window=window, unit=unit, policy=policy)[0]


def charge_window(
    *, bucket: str, key: str, amount: int, limit: int, window: int, unit: str, policy: str = "api"
) -> tuple[int, int]:
    """`charge`, answering (what is left, seconds until the window ends). `policy` names the
    limit in the headers (the Hub's "api", "resolvers", "pages")."""
    cache_key, window_start, now = _window_key(bucket, key, window)
    # The window's key outlives its window (each window has its own key), so once it exists an
    # `incr` alone counts (two round trips to Redis instead of three: this runs on every API call
    # and download); the first call of a window creates it.
    try:
        count = cache.incr(cache_key, amount)
    except ValueError:
        cache.add(cache_key, 0, timeout=window + 5)
        try:
            count = cache.incr(cache_key, amount)
        except ValueError:  # the key expired between add and incr: this call opens a new window
            cache.add(cache_key, amount, timeout=window + 5)
            count = amount
    if count > limit:
        with suppress(ValueError):  # the window ended meanwhile
            cache.decr(cache_key, amount)
        reset = window_start + window - now
        raise RateLimited(
            f"Too many {unit}: at most {limit} per {window} seconds. Retry in {reset} seconds.",
            headers={
                **headers(policy=policy, remaining=0, reset=reset, limit=limit, window=window),
                "Retry-After": str(reset),
            },
        )
    return limit - count, window_start + window - now


def charge_requests(*, policy: str, budgets: list[tuple[str, str, int]], window: int) -> dict[str, str] | None:
    """One request against several budgets at once (`(bucket, key, limit)`, each limit > 0): the
    headers of the tightest, or RateLimited, counting nothing, when one is spent. On Redis, one
    round trip for all of them (a pipeline of SET NX with the window's expiry, then INCR, per
    budget): this runs on every API call and download. Other caches count budget by budget."""
    if not budgets:
        return None
    client = _redis_client()
    if client is None:
        counts: list[int] = []
        try:
            for bucket, key, limit in budgets:
                left = charge(
                    bucket=bucket, key=key, amount=1, limit=limit, window=window, unit="requests", policy=policy
                )
                counts.append(limit - left)
        except RateLimited:
            for bucket, key, _ in budgets[: len(counts)]:
                refund(bucket=bucket, key=key, window=window)
            raise
        return _tightest(policy, budgets, counts, window)
    keys = [cache.make_and_validate_key(_window_key(bucket, key, window)[0]) for bucket, key, _ in budgets]
    pipeline = client.pipeline(transaction=False)
    for cache_key in keys:
        pipeline.set(cache_key, 0, ex=window + 5, nx=True)
        pipeline.incr(cache_key)
    counts = pipeline.execute()[1::2]
    spent = [limit for count, (_, _, limit) in zip(counts, budgets, strict=True) if count > limit]
    if spent:
        pipeline = client.pipeline(transaction=False)
        for cache_key in keys:
            pipeline.decr(cache_key)
        pipeline.execute()
        reset = _reset(window)
        raise RateLimited(
            f"Too many requests: at most {spent[0]} per {window} seconds. Retry in {reset} seconds.",
            headers={
                **headers(policy=policy, remaining=0, reset=reset, limit=spent[0], window=window),
                "Retry-After": str(reset),
            },
        )
    return _tightest(policy, budgets, counts, window)


def _reset(window: int) -> int:
    now = int(time.time())
    return now - now % window + window - now


def _tightest(policy: str, budgets: list[tuple[str, str, int]], counts: list[int], window: int) -> dict[str, str]:
    left, limit = min((limit - count, limit) for count, (_, _, limit) in zip(counts, budgets, strict=True))
    return headers(policy=policy, remaining=left, reset=_reset(window), limit=limit, window=window)


def _redis_client():
    """The redis-py client behind Django's Redis cache (production), or None for other caches."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    # Django's RedisCache keeps its redis-py client behind `_cache` (django-stubs omit it).
    return backend._cache.get_client(write=True)  # type: ignore[attr-defined]
