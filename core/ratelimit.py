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

from django.core.cache import cache

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
