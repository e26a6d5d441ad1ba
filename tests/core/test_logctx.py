"""Log lines carry the request id (issue 17), in the plain and the JSON format."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import connection

from core.logctx import JsonFormatter
from tests.support.gunicorn import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def console():
    """The root handler that settings.LOGGING installs, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    previous_stream, previous_format = handler.setStream(buffer), handler.formatter
    yield handler, buffer
    handler.setStream(previous_stream)
    handler.setFormatter(previous_format)


def log_a_warning_in_a_request(client, request_id: str):
    """A database that cannot be reached makes the request log a warning, then answer 503."""
    if connection.vendor != "postgresql":
        pytest.skip("uses an unreachable PostgreSQL port")
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = client.get("/api/models/alice/painter", HTTP_X_REQUEST_ID=request_id)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert response.status_code == 503
    assert response["X-Request-Id"] == request_id


def test_plain_lines_carry_the_request_id(client, console):
    handler, buffer = console

    log_a_warning_in_a_request(client, "trace-plain-17")

    line = next(line for line in buffer.getvalue().splitlines() if "database unavailable" in line)
    assert "[trace-plain-17]" in line
    logging.getLogger("gatehouse.test").warning("outside any request")
    assert "[-] outside any request" in buffer.getvalue()


def test_json_lines_carry_the_request_id(client, console):
    handler, buffer = console
    handler.setFormatter(JsonFormatter())

    log_a_warning_in_a_request(client, "trace-json-17")

    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    warning = next(r for r in records if r["message"].startswith("database unavailable"))
    assert warning["request_id"] == "trace-json-17"
    assert warning["level"] == "WARNING" and warning["logger"] == "core.middleware"
    assert warning["time"].endswith("Z")


def test_lines_django_writes_after_the_middleware_carry_the_request_id(client, console):
    """Found by an outsider: django.request's line for a 4xx/5xx is written after the middleware
    chain returns, when the id had already been reset: 898 of 900 such lines read `[-]`."""
    handler, buffer = console

    response = client.get("/api/models/nobody/nothing", HTTP_X_REQUEST_ID="trace-after-17")

    assert response.status_code in (401, 404)
    line = next(line for line in buffer.getvalue().splitlines() if "django.request" in line)
    assert "[trace-after-17]" in line
    logging.getLogger("gatehouse.test").warning("after the response was closed")
    assert "[-] after the response was closed" in buffer.getvalue()
