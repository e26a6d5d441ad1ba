"""A database that cannot be reached answers 503 with Retry-After, not 500, and the next request
after it is back is served by the same process (issue 17)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.support.builders import make_repo
from tests.support.gunicorn import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def unreachable() -> tuple[str, str]:
    """A setting that makes the next connection fail for real: a port nothing listens on, or
    an SQLite file in a folder that does not exist."""
    if connection.vendor == "postgresql":
        return "PORT", str(free_port())
    return "NAME", "/nonexistent/gatehouse/db.sqlite3"


def test_unreachable_database_is_a_503_and_the_process_recovers(client, alice):
    make_repo(alice, "painter")
    key, value = unreachable()
    saved = connection.settings_dict[key]
    connection.close()
    connection.settings_dict[key] = value
    try:
        during = client.get("/api/models/alice/painter")
    finally:
        connection.close()
        connection.settings_dict[key] = saved

    assert during.status_code == 503
    assert during["Retry-After"] == "5"
    assert during["X-Error-Code"] == "ServiceUnavailable"
    assert during.json()["code"] == "ServiceUnavailable"
    assert client.get("/api/models/alice/painter").status_code == 200
