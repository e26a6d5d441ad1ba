"""Text that PostgreSQL can store, checked where JSON is parsed.

JSON decodes "\\u0000" to NUL and "\\ud800" to a lone surrogate. PostgreSQL refuses both, in text
columns and in jsonb, so a string holding either that reaches a query fails there, as a 500. The
parsers refuse such input with a 400 instead (the request middleware does the same for the URL).
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import BadRequest

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def has_unstorable_text(value) -> bool:
    """Whether any string in a decoded JSON value, keys included, holds NUL or a lone surrogate.
    Iterative, so a deeply nested value costs no stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(data: bytes | str, *, error: str) -> Any:
    """`json.loads` for request input: malformed JSON, JSON nested past the interpreter's recursion
    limit (a RecursionError, a 500 before) and unstorable text are a 400, `error` saying what was
    expected. NaN and Infinity, which Python's json accepts and JSON does not, are refused too."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(error) from exc
    if has_unstorable_text(value):
        raise BadRequest(MESSAGE)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
