"""Loaded by the schemathesis CLI in tests/test_openapi_fuzz.py (SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value) -> bytes:
    """The commit body: the schema calls it a string; negative cases may be anything."""
    if isinstance(value, bytes):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "surrogatepass")
