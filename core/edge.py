"""The request edge: one reading of each kind of client input, so every route answers the same
input the same way (a flag, a size, a JSON object body) and bad input gets the same clear 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard, overload

from core.errors import BadRequest

_TRUE = ("1", "true", "yes")
_ABSENT: Any = object()


def flag(value: Any) -> bool:
    """A boolean from a query parameter or a JSON field: true, 1, "1", "true", "yes" (any case)."""
    return str(value).lower() in _TRUE


def query_flag(request: Any, name: str) -> bool:
    return flag(request.GET.get(name, ""))


@overload
def json_bool(data: Mapping[str, Any], key: str) -> bool: ...
@overload
def json_bool(data: Mapping[str, Any], key: str, *, default: bool) -> bool: ...
@overload
def json_bool(data: Mapping[str, Any], key: str, *, default: None) -> bool | None: ...
def json_bool(data: Mapping[str, Any], key: str, *, default: Any = _ABSENT) -> Any:
    """A JSON boolean field, read strictly: true or false, never 1, "true" or null (unlike `flag`,
    which reads query strings). A field that is absent is `default`, or a 400 when none is given;
    any other value is a 400 that names the field."""
    if key not in data:
        if default is _ABSENT:
            raise BadRequest(f"'{key}' must be true or false.")
        return default
    value = data[key]
    if not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be true or false.")
    return value


def json_private(data: Mapping[str, Any], *, default: bool | None) -> bool | None:
    """Whether a repo is to be private, from the Hub's {"visibility": "public"|"private"} or the
    legacy {"private": bool}; `visibility` wins when both are given. Neither given is `default`;
    with `default=None` a null `private` also means "not given"."""
    visibility = data.get("visibility")
    if visibility is not None:
        if visibility not in ("public", "private"):
            raise BadRequest("'visibility' must be 'public' or 'private'.")
        return visibility == "private"
    if default is None and data.get("private") is None:
        return None
    return json_bool(data, "private", default=default)


def form_int(data: Mapping[str, Any], key: str, *, default: int) -> int:
    """An integer form field (a POST's QueryDict): `default` when empty or absent, else a 400 that
    names the field; never a ValueError's "invalid literal for int()" shown to a user."""
    value = data.get(key) or default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"'{key}' must be a number.") from exc


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
