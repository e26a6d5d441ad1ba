"""The request edge: one reading of each kind of client input, so every route answers the same
input the same way (a flag, a size, a JSON object body) and bad input gets the same clear 400."""

from __future__ import annotations

from typing import Any, TypeGuard

from core.errors import BadRequest

_TRUE = ("1", "true", "yes")


def flag(value: Any) -> bool:
    """A boolean from a query parameter or a JSON field: true, 1, "1", "true", "yes" (any case)."""
    return str(value).lower() in _TRUE


def query_flag(request: Any, name: str) -> bool:
    return flag(request.GET.get(name, ""))


def json_object(request: Any) -> dict:
    """The JSON object a DRF request carries ({} without a body); a 400 for any other JSON value,
    `null` included (DRF reads it as None)."""
    data = request.data
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def is_size(value: Any) -> TypeGuard[int]:
    """Whether a client's declared byte count is one: a non-negative integer (a JSON true is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def size_value(value: Any, *, label: str) -> int:
    if not is_size(value):
        raise BadRequest(f"{label}: 'size' must be a non-negative integer.")
    return value
