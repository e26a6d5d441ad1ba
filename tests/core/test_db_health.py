"""The PostgreSQL health check: free for a healthy idle connection, and a connection the server
closed (restart, pg_terminate_backend) is replaced before a request uses it."""

import time

import pytest
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL)"),
]


@pytest.fixture
def spare():
    """A connection of its own, so that terminating it leaves the test's transaction alone."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_a_healthy_idle_connection_is_usable_without_a_query(spare, monkeypatch):
    def round_trip(self):
        raise AssertionError("the check sent a query")

    monkeypatch.setattr(DjangoWrapper, "is_usable", round_trip)
    assert spare.is_usable()


def test_a_connection_the_server_closed_is_replaced(spare):
    pid = spare.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while spare.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spare.is_usable()

    # What Django does at the start of a request that reuses the connection:
    spare.health_check_enabled, spare.health_check_done = True, False
    spare.close_if_health_check_failed()
    with spare.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
