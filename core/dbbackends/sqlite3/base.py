"""SQLite whose write transactions queue in each process instead of polling SQLite's lock.

SQLite has one writer at a time; the others wait in its busy handler, which sleeps and retries:
after the first third of a second it looks again only every 100 ms, while a newcomer looks after
1, 2, 5 ms. Under a steady stream of commits, a writer that has waited a while keeps losing the
lock to newer ones, and some reached the 20 s busy timeout ("database is locked", 503) while the
median commit took 70 ms (`make soak`, issue 17). So every transaction (all of them start with
`BEGIN IMMEDIATE`, see config/settings.py) first takes a lock shared by the threads of its
process, which hands over as soon as it is released; only one thread per process then waits in
SQLite's busy handler, against the other processes. Waiting for this lock counts against the same
timeout (the `timeout` option, 20 s), then fails as SQLite would.
"""

from __future__ import annotations

import os
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _writer_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _reset_after_fork() -> None:
    global _locks_guard
    _locks.clear()  # a lock held by another thread of the parent would never be released here
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


class DatabaseWrapper(base.DatabaseWrapper):
    _held_writer_lock: threading.Lock | None = None

    def _start_transaction_under_autocommit(self) -> None:
        lock = _writer_lock(str(self.settings_dict["NAME"]))
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise OperationalError(f"database is locked (this process's writers queued for {timeout:g} s)")
        self._held_writer_lock = lock
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in django-stubs
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self) -> None:
        lock, self._held_writer_lock = self._held_writer_lock, None
        if lock is not None:
            lock.release()

    def _commit(self):
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_writer_lock()
