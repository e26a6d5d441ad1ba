"""The embedded default's SQLite takes concurrent writers in turn instead of failing them.

Each connection runs in WAL mode (readers never wait for the writer) with a 20 s busy timeout, and
every transaction starts with `BEGIN IMMEDIATE` (Django 5.1's `transaction_mode`): a transaction
that read and then writes would otherwise fail at once with "database is locked" when another
process's writer got there first (SQLite cannot wait for a lock upgrade). config/settings.py sets
all three. Within a process, transactions also queue on a lock of their own
(core.dbbackends.sqlite3), so that only one thread per process polls SQLite's lock.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction

from registry.models import Repo
from tests.support.builders import make_repo
from tests.support.concurrency import run_at_once

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite (make run's database) only")

THREADS, PROCESSES, ROUNDS = 8, 4, 15


@sqlite_only
def test_sqlite_connections_use_wal_a_busy_timeout_and_immediate_transactions(db):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 10_000
    assert connection.transaction_mode == "IMMEDIATE"


def _increment(repo_pk: int) -> None:
    for _ in range(ROUNDS):
        with transaction.atomic():
            seen = Repo.objects.values_list("downloads", flat=True).get(pk=repo_pk)
            Repo.objects.filter(pk=repo_pk).update(downloads=seen + 1)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_threads_of_a_process_queue_for_the_write_lock_and_lose_nothing(alice):
    """core.dbbackends.sqlite3: a process's transactions take turns on a lock of their own."""
    repo = make_repo(alice, "contended")

    def writer() -> BaseException | None:
        try:
            _increment(repo.pk)
        except BaseException as exc:  # reported below
            return exc
        return None

    assert run_at_once(writer, times=THREADS) == [None] * THREADS
    # Read-modify-write under the write lock taken at BEGIN: no update lost either.
    assert Repo.objects.get(pk=repo.pk).downloads == THREADS * ROUNDS


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_processes_wait_for_the_write_lock_and_lose_nothing(alice):
    """Across processes only SQLite's own lock serialises writers: BEGIN IMMEDIATE makes them wait
    for it (a deferred transaction that read first would fail at once when it came to write)."""
    repo = make_repo(alice, "contended")
    connection.close()  # nothing open crosses the fork
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)

    def writer() -> None:
        start.wait(timeout=30)
        try:
            _increment(repo.pk)
        except BaseException:
            os._exit(1)
        finally:
            connection.close()
        os._exit(0)

    processes = [context.Process(target=writer) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    assert Repo.objects.get(pk=repo.pk).downloads == PROCESSES * ROUNDS


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_in_its_process_queue_then_fails_as_sqlite_would(monkeypatch):
    """The queue counts against the busy timeout: a transaction still waiting for another thread's
    after it gives up with SQLite's own error (a 503 at the edge), not a hang."""
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.3)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with transaction.atomic():
            holding.set()
            release.wait(10)

    def waiter() -> BaseException | None:
        holding.wait(10)
        try:
            with transaction.atomic():
                return None
        except OperationalError as exc:
            return exc

    thread = threading.Thread(target=run_at_once, args=(holder, 1))
    thread.start()
    try:
        started = time.monotonic()
        [refused] = run_at_once(waiter, times=1)
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join()
    assert isinstance(refused, OperationalError) and "queued" in str(refused)
    assert 0.25 <= waited < 5


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the tests above run here already")
def test_the_sqlite_tests_pass_on_sqlite_when_the_suite_runs_on_postgresql(tmp_path):
    """CI runs the suite on PostgreSQL (.ci/run): the tests above then run in a process of their
    own on SQLite, the embedded default of `make run` (found by a review: they never ran in CI)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_ADDOPTS")}
    env["GATEHOUSE_VAR_DIR"] = str(tmp_path)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "not postgresql"]
    done = subprocess.run(command, cwd=Path(__file__).parent.parent, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "4 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
