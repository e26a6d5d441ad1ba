"""A database that cannot be reached answers 503 with Retry-After, not 500, and the next request
after it is back is served by the same process (issue 17)."""

from __future__ import annotations

import pytest
from django.db import connection

from community.models import Discussion
from tests.support.builders import make_repo, token_for
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


def test_a_cache_that_cannot_be_reached_is_a_503_and_nothing_is_kept(client, alice, bob, settings):
    """Found by a review: with Redis as the cache (production), a Redis restart turned comments,
    sign-ins and /readyz into 500s."""
    make_repo(alice, "painter")
    token = token_for(bob)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    posted = client.post(
        "/api/models/alice/painter/discussions",
        {"title": "Hello", "description": "A question"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert (posted.status_code, posted["Retry-After"], posted["X-Error-Code"]) == (503, "5", "ServiceUnavailable")
    assert not Discussion.objects.exists()
    ready = client.get("/readyz")
    assert ready.status_code in (200, 503) and ready.json()["status"] != "ok"
