"""The embedded default's SQLite takes concurrent writers in turn instead of failing them.

Each connection runs in WAL mode (readers never wait for the writer) with a 20 s busy timeout, and
every transaction starts with `BEGIN IMMEDIATE` (Django 5.1's `transaction_mode`): a transaction
that read and then writes would otherwise fail at once with "database is locked" when another
writer got there first (SQLite cannot wait for a lock upgrade). config/settings.py sets all three.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from registry.models import Repo
from tests.support.builders import make_repo

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite (make run's database) only")

THREADS, ROUNDS = 8, 15


def test_sqlite_connections_use_wal_a_busy_timeout_and_immediate_transactions(db):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 10_000
    assert connection.transaction_mode == "IMMEDIATE"


@pytest.mark.django_db(transaction=True)
def test_concurrent_read_then_write_transactions_queue_and_lose_nothing(alice):
    repo = make_repo(alice, "contended")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer() -> None:
        try:
            start.wait()
            for _ in range(ROUNDS):
                with transaction.atomic():
                    seen = Repo.objects.values_list("downloads", flat=True).get(pk=repo.pk)
                    Repo.objects.filter(pk=repo.pk).update(downloads=seen + 1)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # Read-modify-write under the write lock taken at BEGIN: no update lost either.
    assert Repo.objects.get(pk=repo.pk).downloads == THREADS * ROUNDS
