"""Per-process caches of the hot path's lookups, kept exact by PostgreSQL notifications.

Why: `HEAD /resolve` of a file needs a few queries (the caller's token and account, the repo with
its release-plan and license facts and the revision's ref, the caller's role or grant); on
PostgreSQL those round trips are most of the request (bench/resolve_head_rps.py). The answers
change rarely, so each web process keeps them until the database says what they depend on changed.

What is cached, and the scope each entry is dropped with:
- anonymous download lookups (gating.visibility), by repo;
- a signed-in caller's download lookup (visibility through org memberships), by repo and by user;
- a hub token and its account (accounts.auth), by user;
- a caller's role on a repo and their access request (gating.policy), by repo and by user;
- a repo's proof of possession of content (registry.storage.content), by repo: only deletions
  announce (gating migration 0009), as only they withdraw an answer.
Time-bound facts (a token's or a grant's expiry) are compared with the clock on every request,
never cached as answers.

How it stays exact:
- Triggers (gating migrations 0003, 0004 and 0007) on every table these lookups read send
  `NOTIFY gatehouse_repo_changed, <payload>` on any insert, update or delete, however it is made
  (ORM save, queryset update, raw SQL): the repo's id for repo tables (registry_repo,
  registry_ref, gating_releaseplan, licenses_repolicensesettings), `u:<user id>` for the caller's
  tables (accounts_user, accounts_accesstoken, accounts_membership, gating_accessrequest).
  PostgreSQL delivers a notification when, and only if, its transaction commits. TRUNCATE
  announces '*': everything is dropped.
- One daemon thread per process LISTENs on a connection of its own and drops that scope's entries.
- A lookup read before a change but stored after the change's notification would outlive it: every
  notification moves a generation counter, and an answer is stored only if the generation did not
  move while it was being read.
- Delivery is proven, not assumed: the listener sends itself a ping notification every second (on
  a channel of its own, on the same connection) and caching is on only while its pings come back
  (a transaction-pooling proxy accepts LISTEN but delivers nothing; a dead peer delivers nothing
  either). While it is not proven (starting up,
  after an error, pings late by STALE_AFTER_SECONDS) nothing is served from the cache nor stored
  in it; each (re)connection starts from an empty cache. A forked child drops what it inherited.
- Lookups made inside a transaction are not stored (their snapshot may predate the generation).
- Triggers do not fire while `session_replication_role = replica` or when disabled by a restore
  tool (`pg_restore --disable-triggers`): restart the web processes after such maintenance.

SQLite (the embedded default) has no notifications: there is no cache, and the queries are cheap.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "gatehouse_repo_changed"
MAX_ENTRIES = 4096
RECONNECT_SECONDS = 1.0
PING_SECONDS = 0.25
# Nothing is served from the cache once the listener's own ping has not come back for this long:
# under the README's one-second revocation bound even when its connection stalls without a word
STALE_AFTER_SECONDS = 3 * PING_SECONDS
# A listener whose connection died without a word must notice within seconds: it pings the
# server every PING_SECONDS, and these bound how long a ping may go unanswered (TCP only).
DEAD_CONNECTION_OPTIONS = {
    "tcp_user_timeout": 5000,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
}


class LookupCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[tuple[Hashable, ...], Any]] = OrderedDict()
        self._by_scope: dict[Hashable, set[Hashable]] = {}
        self._max_entries = max_entries
        self._generation = 0
        self._listening = False
        self._pid: int | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._heard_at = 0.0  # monotonic time the listener last heard its own ping come back

    # -- reads and writes (request threads) ------------------------------------------------------

    def generation(self) -> int | None:
        """The generation to pass to `put`, or None when nothing may be cached right now."""
        self._ensure_listener()
        with self._lock:
            return self._generation if self._is_live() else None

    def _is_live(self) -> bool:
        """Listening in this process, and notifications proven to arrive a moment ago."""
        return self._listening and self._pid == os.getpid() and time.monotonic() - self._heard_at < STALE_AFTER_SECONDS

    def get(self, key: Hashable) -> Any | None:
        """A copy of the cached object (`copy.copy`: a RepoAccess copies its repo too), or None."""
        with self._lock:
            if not self._is_live() or key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return copy.copy(self._entries[key][1])

    def put(self, key: Hashable, scopes: Iterable[Hashable], value: Any, generation: int | None) -> None:
        """Keep `value` until a change of any of `scopes` (a repo's id, `user_scope(id)`) is heard."""
        scopes = tuple(scopes)
        with self._lock:
            if generation is None or generation != self._generation or not self._is_live():
                return  # something changed (or may have) while the value was read
            self._entries[key] = (scopes, copy.copy(value))
            for scope in scopes:
                self._by_scope.setdefault(scope, set()).add(key)
            while len(self._entries) > self._max_entries:
                old_key, (old_scopes, _) = self._entries.popitem(last=False)
                for scope in old_scopes:
                    self._by_scope.get(scope, set()).discard(old_key)

    # -- invalidation (listener thread) ----------------------------------------------------------

    def forget(self, key: Hashable) -> None:
        """Drop one entry that this process knows to be stale (it changed a column no trigger watches)."""
        with self._lock:
            scopes, _ = self._entries.pop(key, ((), None))
            for scope in scopes:
                self._by_scope.get(scope, set()).discard(key)

    def repo_changed(self, repo_id: int) -> None:
        self.scope_changed(repo_id)

    def scope_changed(self, scope: Hashable) -> None:
        with self._lock:
            self._generation += 1
            for key in self._by_scope.pop(scope, set()):
                entry = self._entries.pop(key, None)
                for other in entry[0] if entry else ():
                    if other != scope:
                        self._by_scope.get(other, set()).discard(key)

    def _set_listening(self, listening: bool) -> None:
        """Every change of state starts from an empty cache."""
        with self._lock:
            self._drop_all()
            self._listening = listening

    def _drop_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_scope.clear()

    def _after_fork(self) -> None:
        """In a forked child: nothing inherited is trusted (the listener thread did not survive)."""
        self._lock = threading.Lock()
        self._drop_all()
        self._listening = False
        self._pid = None
        self._thread = None

    def _ensure_listener(self) -> None:
        """Start the listener once per process (after a fork, again in the child)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._listening = False
        self._thread = threading.Thread(target=self._listen_forever, name="lookup-cache-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (and caching) within about PING_SECONDS; for tests and shutdown."""
        self._stopped = True
        if self._thread is not None:
            self._thread.join(timeout=PING_SECONDS * 5)

    def _running(self, pid: int) -> bool:
        return self._pid == pid and not self._stopped

    def _listen_forever(self) -> None:
        pid = os.getpid()
        while self._running(pid):
            try:
                self._listen_once()
            except Exception:  # noqa: BLE001 - any failure: stop caching, reconnect later
                log.warning("Lookup cache listener lost its connection; caching is off until it is back", exc_info=True)
            finally:
                self._set_listening(False)
            if self._running(pid):
                time.sleep(RECONNECT_SECONDS)

    def _listen_once(self) -> None:
        import psycopg

        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        if params.get("host") and not str(params["host"]).startswith("/"):
            params = {**DEAD_CONNECTION_OPTIONS, **params}
        pid = os.getpid()
        # Pings go to a channel of this listener's own, so N processes do not each receive the
        # pings of all the others (N² notifications a second).
        ping_channel = f"{CHANNEL}_ping_{secrets.token_hex(8)}"
        with psycopg.connect(**params, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            connection.execute(f"LISTEN {ping_channel}")
            # SECURITY: caching starts only once a notification of our own has come back, and
            # stops when pings stop coming back: a connection that accepts LISTEN but delivers
            # nothing (a transaction-pooling proxy, a dead peer) must not leave caching on.
            sent = 0
            while self._running(pid):
                sent += 1
                connection.execute("SELECT pg_notify(%s, %s)", [ping_channel, f"ping:{pid}:{sent}"])
                for notification in connection.notifies(timeout=PING_SECONDS):
                    if notification.channel == ping_channel:
                        self._pinged(notification.payload, pid, sent)
                    else:
                        self._handle(notification.payload)
                if time.monotonic() - self._heard_at > STALE_AFTER_SECONDS:
                    raise ConnectionError("notifications stopped arriving on the lookup cache's connection")

    def _pinged(self, payload: str, pid: int, sent: int) -> None:
        if payload == f"ping:{pid}:{sent}":  # not one answered late
            if not self._listening:
                self._set_listening(True)
            self._heard_at = time.monotonic()

    def _handle(self, payload: str) -> None:
        if payload.startswith("ping:"):
            pass  # a process of an earlier release pinging on the shared channel
        elif payload.isdigit():
            self.repo_changed(int(payload))
        elif payload.startswith("u:") and payload[2:].isdigit():
            self.scope_changed(user_scope(int(payload[2:])))
        else:  # '*' (a table was truncated) or anything unexpected: drop everything
            with self._lock:
                self._drop_all()


def user_scope(user_id: int) -> tuple[str, int]:
    """The scope of everything cached about one user (their tokens, memberships, grants, account)."""
    return ("user", user_id)


def enabled() -> bool:
    return bool(settings.GATEHOUSE_LOOKUP_CACHE) and connections["default"].vendor == "postgresql"


class _Found:
    """A cached answer, None included; copied out (`copy.copy`) so no two requests share a row."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __copy__(self) -> _Found:
        return _Found(copy.copy(self.value))


def remember(
    key: Hashable, scopes: Callable[[Any], Iterable[Hashable]], read: Callable[[], T], *, keep_none: bool = True
) -> T:
    """`read()`, or what it returned before if nothing in `scopes(answer)` changed since.

    Without the cache (SQLite, the setting off, notifications not proven to arrive) every call
    reads. Inside a transaction too: its snapshot may predate the generation, and it may itself
    have changed what was cached (its notification comes only when it commits)."""
    if not enabled() or connections["default"].in_atomic_block:
        return read()
    found = cache.get(key)
    if found is not None:
        return found.value
    generation = cache.generation()  # before the read: see the module's docstring
    value = read()
    if value is not None or keep_none:
        cache.put(key, scopes(value), _Found(value), generation)
    return value


cache = LookupCache()
os.register_at_fork(after_in_child=cache._after_fork)
