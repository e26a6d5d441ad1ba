"""DRF plumbing: deny-by-default permissions, the Hub error contract, and Z datetimes."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, UnreadablePostError
from rest_framework import exceptions as drf_exceptions
from rest_framework import parsers
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core import errors, jsontext
from core.http import error_headers

logger = logging.getLogger(__name__)


class DenyAll(BasePermission):
    """The API default: a view that forgets to declare who may call it serves nobody."""

    def has_permission(self, request, view) -> bool:
        return False


class AllowAnyone(BasePermission):
    """Explicitly public endpoints (listing applies its own visibility filter)."""

    def has_permission(self, request, view) -> bool:
        return True


class SignedIn(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            raise errors.AuthenticationRequired()
        return True


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with JSON nested past the interpreter's recursion limit and strings that
    PostgreSQL cannot store (NUL, a lone surrogate: see core.jsontext) a 400.

    SECURITY: `json.loads` raises RecursionError on `[[[[...` a few thousand deep (a 500 before);
    the depth it accepts is bounded by the same limit, and the body size by core.bodies. A NUL or
    a lone surrogate was a 500 wherever one of them was saved."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise drf_exceptions.ParseError("JSON parse error - nested too deeply") from exc
        if jsontext.has_unstorable_text(data):
            raise drf_exceptions.ParseError(jsontext.MESSAGE)
        return data


class HubJSONRenderer(JSONRenderer):
    charset = "utf-8"


def _as_hub_error(exc: Exception) -> errors.HubError | None:
    if isinstance(exc, errors.HubError):
        return exc
    if isinstance(exc, UnreadablePostError):
        return errors.body_unreadable()
    if isinstance(exc, Http404):
        return errors.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return errors.Forbidden()
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        return errors.InvalidCredentials()
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return errors.AuthenticationRequired()
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return errors.Forbidden(str(exc.detail))
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return errors.HubError(str(exc.detail), status=405, code="MethodNotAllowed")
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return errors.HubError(str(exc.detail), status=415, code="UnsupportedMediaType")
    if isinstance(exc, drf_exceptions.Throttled):
        hub = errors.RateLimited(str(exc.detail))
        if exc.wait:
            hub.headers["Retry-After"] = str(int(exc.wait))
        return hub
    if isinstance(exc, drf_exceptions.ValidationError):
        return errors.BadRequest(_flatten_detail(exc.detail))
    if isinstance(exc, drf_exceptions.APIException):
        return errors.HubError(str(exc.detail), status=exc.status_code, code=exc.default_code.title().replace("_", ""))
    return None


def _flatten_detail(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten_detail(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten_detail(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    hub = _as_hub_error(exc)
    if hub is None:
        return None
    response = Response({**hub.extra, "error": hub.message, "code": hub.code}, status=hub.status)
    for key, value in error_headers(hub).items():
        response[key] = value
    return response
