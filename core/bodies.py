"""Request bodies: each route declares the largest body it takes and whether it takes files, and
nothing reads a byte of a body before that declaration, authentication and CSRF have had a say.

- `RequestBodyMiddleware` answers 413 to a `Content-Length` over the route's limit before the body
  is read (Django's WSGI request reads no more than `Content-Length`, and no body without one, so
  the declared length caps every later read, streamed ones included). On routes that take no
  files, multipart parsing refuses the first file part instead of spooling it to a temp file.
- `CsrfViewMiddleware` (and `SessionAuthentication` for DRF) looks for a form's CSRF token in the
  first `CSRF_PEEK_BYTES` of the body only, then puts those bytes back for the view. Django's own
  check reads `request.POST`, which parses (and spools) the whole body before it can answer 403.
  The templates put `{% csrf_token %}` first in every form, so a browser always sends it there.

A view declares its policy with the attribute `body_policy` (of its class, or of the function
itself); a route that declares nothing gets `SMALL`. tests/security/test_request_bodies.py lists the routes
with larger limits.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict, UnreadablePostError
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.middleware import csrf
from rest_framework import authentication
from rest_framework import exceptions as drf_exceptions

from core.errors import BadRequest, PayloadTooLarge, RequestTimeout, body_unreadable
from core.http import error_response
from core.streams import Replayed

# SECURITY: a request that fails CSRF reads at most this much of its body.
CSRF_PEEK_BYTES = 64 * 1024
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class BodyPolicy:
    """`limit` returns the largest body in bytes (read from settings at request time);
    `files`: whether multipart file parts are accepted."""

    limit: Callable[[], int]
    files: bool = False


SMALL = BodyPolicy(lambda: settings.GATEHOUSE_MAX_BODY_BYTES)
# JSON or form bodies that list many paths or objects (paths-info, preupload, the LFS batch) and
# text fields that carry a whole file (the card editor, validate-yaml).
LARGE = BodyPolicy(lambda: settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
# Portal forms that upload files: the size limits of registry.limits apply while they are read.
PORTAL_UPLOAD = BodyPolicy(
    lambda: settings.GATEHOUSE_MAX_COMMIT_SIZE + settings.DATA_UPLOAD_MAX_MEMORY_SIZE, files=True
)


def policy_for(view_func: Any) -> BodyPolicy:
    owner = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None) or view_func
    return getattr(owner, "body_policy", SMALL)


class FilesRefused(MultiPartParserError):
    pass


class RefuseFilesHandler(FileUploadHandler):
    """The only upload handler of routes that take no files: the first file part ends parsing
    with a 400 before a byte of it is kept (Django answers MultiPartParserError with 400)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        raise FilesRefused("This form takes no files.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


class RequestBodyMiddleware:
    """Place before CsrfViewMiddleware: its process_view runs first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs) -> HttpResponse | None:
        policy = policy_for(view_func)
        try:
            length, limit = content_length(request) or 0, policy.limit()
        except BadRequest as exc:
            return error_response(exc)
        if length > limit:
            return error_response(
                PayloadTooLarge(f"The request body is {length} bytes; this route accepts at most {limit} bytes.")
            )
        if not policy.files:
            request.upload_handlers = [RefuseFilesHandler(request)]
        return None

    def process_exception(self, request, exception) -> HttpResponse | None:
        """A body that stopped arriving while a portal view read it: 408, as API views answer
        (core.gunicorn_worker bounds each read; DRF views turn the error into a response themselves)."""
        if isinstance(exception, RequestTimeout):
            return error_response(exception)
        if isinstance(exception, UnreadablePostError):
            return error_response(body_unreadable())
        return None


def content_length(request: HttpRequest) -> int | None:
    """The body length the request declares; None without one. SECURITY: digits only (no sign:
    lengths are charged to quotas), at most 20 of them."""
    raw = request.META.get("CONTENT_LENGTH") or ""
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise BadRequest("Invalid Content-Length.")
    return int(raw)


class _StopAtFirstFile(FileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


def _peek(request: Any, size: int) -> bytes:
    """Up to `size` bytes of the body, left in place for whoever reads the body next (Django's
    WSGIRequest reads its body from `_stream`; `_read_started` stays unset, so `request.body`
    and `request.POST` still work)."""
    stream = request._stream
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    request._stream = Replayed(head, stream)
    return head


def form_token(request: HttpRequest) -> str:
    """The `csrfmiddlewaretoken` field of a form body, looked for in its first CSRF_PEEK_BYTES;
    "" if it is not there (or the body is not a form)."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if not content_type.startswith(_FORM_TYPES):
        return ""
    head = _peek(request, CSRF_PEEK_BYTES)
    if content_type.startswith("application/x-www-form-urlencoded"):
        if len(head) == CSRF_PEEK_BYTES:
            head = head[: head.rfind(b"&") + 1]  # fields cut off at the end are left out
        return QueryDict(head, encoding="utf-8").get("csrfmiddlewaretoken", "")
    meta = {**request.META, "CONTENT_LENGTH": str(len(head))}
    try:
        post, _files = MultiPartParser(meta, io.BytesIO(head), [_StopAtFirstFile()], "utf-8").parse()
    except (MultiPartParserError, ValueError):
        return ""
    return post.get("csrfmiddlewaretoken", "")


def _body_untouched(request: Any) -> bool:
    return not (hasattr(request, "_post") or hasattr(request, "_body") or request._read_started)


class BoundedCsrfMixin:
    """`_check_token` with the form token taken from the head of the body, never from a parse
    of all of it (Django's check reads `request.POST`; DRF's reads its parsed data)."""

    def _check_token(self, request: Any) -> None:
        http_request = getattr(request, "_request", request)  # DRF's Request wraps Django's
        if request.method != "POST" or not _body_untouched(http_request):
            return super()._check_token(request)  # type: ignore[misc]
        http_request.POST = QueryDict(mutable=True)
        http_request.POST["csrfmiddlewaretoken"] = form_token(http_request)
        try:
            return super()._check_token(http_request)  # type: ignore[misc]
        finally:
            del http_request._post  # the view parses the real body


class CsrfViewMiddleware(BoundedCsrfMixin, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        try:
            return super().process_view(request, callback, callback_args, callback_kwargs)
        except RequestTimeout as exc:  # the body stopped arriving while its head was read
            return error_response(exc)


class _CSRFCheck(BoundedCsrfMixin, authentication.CSRFCheck):
    pass


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication with the bounded CSRF check."""

    def enforce_csrf(self, request):
        check = _CSRFCheck(lambda request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise drf_exceptions.PermissionDenied(f"CSRF Failed: {reason}")
