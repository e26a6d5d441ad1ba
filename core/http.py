"""Error responses shared by DRF views and the plain Django views of the download path; CSV exports."""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
import json
import re
from collections.abc import Iterator
from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from core.errors import HubError, RepoMoved

# Routes the Hub client calls: they answer every error as JSON with the X-Error-* headers, even
# where no view ran (an unknown path, a method the route does not take). Portal pages stay HTML.
_HUB_ROUTE = re.compile(r"^/(?:api/|lfs/|(?:datasets/)?[^/]+/[^/]+(?:/resolve(?:/|$)|\.git/info/lfs/))")

AnyResponse = TypeVar("AnyResponse", bound=HttpResponseBase)


def is_hub_route(path: str) -> bool:
    return bool(_HUB_ROUTE.match(path))


def client_ip(request) -> str:
    """The caller's address, as a key for per-address limits: REMOTE_ADDR, or behind
    GATEHOUSE_TRUSTED_PROXY_HOPS proxies the address the outermost of them saw. IPv6 addresses
    count per /64, the block one subscriber usually holds.

    SECURITY: X-Forwarded-For is read from the right: entries left of those our own proxies
    appended are the client's to write."""

    return client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.GATEHOUSE_TRUSTED_PROXY_HOPS,
    )


# Any of these says a proxy passed the request on. X-Forwarded-Proto alone is what a TLS proxy
# (BEHIND_TLS_PROXY) may send (found by an outsider: /metrics was open through such a proxy on the
# same host). A proxy that sends none of them (plain nginx `proxy_pass`) cannot be told from a
# local caller: have it set X-Forwarded-For and declare it (GATEHOUSE_TRUSTED_PROXY_HOPS; README).
PROXY_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_FORWARDED",
    "HTTP_X_REAL_IP",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_VIA",
)


def address_unproven(request) -> bool:
    """SECURITY: whether `client_ip` may be a proxy's own address rather than the caller's, so
    that it must not grant what loopback or an allowed network would: a proxy header (even empty)
    while no proxy is declared (GATEHOUSE_TRUSTED_PROXY_HOPS = 0), or, with proxies declared,
    fewer X-Forwarded-For entries than they append (the address would fall back to theirs)."""
    hops = settings.GATEHOUSE_TRUSTED_PROXY_HOPS
    if not hops:
        return any(header in request.META for header in PROXY_HEADERS)
    forwarded = [item for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if item.strip()]
    return len(forwarded) < hops


def client_address(address: str, forwarded_for: str, hops: int) -> str:
    """`client_ip` from its parts (the web worker calls it on a raw request head)."""
    if hops:
        forwarded = [item.strip() for item in forwarded_for.split(",") if item.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def header_safe(text: str) -> str:
    """Header values must be single-line latin-1; keep the message readable and short."""
    flat = " ".join(str(text).split())
    return flat.encode("ascii", "replace").decode("ascii")[:500]


def error_headers(exc: HubError) -> dict[str, str]:
    headers = {"X-Error-Code": exc.code, "X-Error-Message": header_safe(exc.message)}
    headers.update(exc.headers)
    return headers


def error_response(exc: HubError) -> HttpResponse:
    body = json.dumps({**exc.extra, "error": exc.message, "code": exc.code})
    response = HttpResponse(body, status=exc.status, content_type="application/json")
    for key, value in error_headers(exc).items():
        response[key] = value
    return response


def json_error(status: int, code: str, message: str) -> HttpResponse:
    return error_response(HubError(message, status=status, code=code))


def moved_response(request, exc) -> HttpResponse:
    """307 to the same route under the repo's new id, with a relative Location (as the Hub does)."""
    path = quote(request.path)
    old, new = f"/{exc.old_id}", f"/{exc.new_id}"
    index = path.find(old + "/") if (old + "/") in path else path.rfind(old)
    location = path[:index] + new + path[index + len(old) :] if index >= 0 else path
    if request.META.get("QUERY_STRING"):
        location += "?" + request.META["QUERY_STRING"]
    response = HttpResponse(status=307)
    response["Location"] = location
    return response


def _safe_cells(row) -> list:
    # SECURITY: neutralise spreadsheet formulas in user-supplied cells.
    return ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row]


def csv_response(filename: str, rows) -> HttpResponse:
    """A CSV download of `rows` (lists; the first is the header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(_safe_cells(row))
    return as_export(HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8"), filename)


class _Line:
    """A file for csv.writer that hands each written line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


EXPORT_CHUNK = 64 * 1024


def _chunked(pieces) -> Iterator[bytes]:
    """Pieces gathered into chunks of about EXPORT_CHUNK bytes: one write per chunk, not per row.
    An empty piece goes first: the server sends the status and headers on it (gunicorn writes no
    body for it, not even an empty chunk), before any query the first piece needs, so the browser
    starts the download at once. The first piece (a header, an opening bracket) then goes alone."""
    pieces = iter(pieces)
    yield b""
    yield next(pieces, b"")
    chunk: list[bytes] = []
    size = 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size >= EXPORT_CHUNK:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)


def csv_stream_response(filename: str, rows) -> StreamingHttpResponse:
    """`csv_response` sent while `rows` (an iterator) is read: an export of 200,000 access
    requests starts at once and never sits whole in the web process's memory."""
    writer = csv.writer(_Line())
    lines = (writer.writerow(_safe_cells(row)).encode() for row in rows)
    return as_export(StreamingHttpResponse(_chunked(lines), content_type="text/csv; charset=utf-8"), filename)


def json_object_stream_response(data: dict, key: str, items: Iterator) -> StreamingHttpResponse:
    """`data` as the API renders it (core.api.HubJSONRenderer: DRF's encoder, compact, UTF-8),
    with the array of `items` as its last key `key`, sent as it is made: the response of a repo
    whose tree lists 50,000 files never sits whole in the web process's memory."""
    from rest_framework.utils.encoders import JSONEncoder  # DRF's, as the renderer uses

    encoder = JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def encode(value) -> bytes:
        # As DRF's JSONRenderer: U+2028 and U+2029 escaped, for JavaScript's sake.
        return encoder.encode(value).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()

    def pieces() -> Iterator[bytes]:
        head = encode({name: value for name, value in data.items() if name != key})[:-1]
        yield head + (b"," if len(head) > 1 else b"") + encode(key) + b":["
        for index, item in enumerate(items):
            yield (b"," if index else b"") + encode(item)
        yield b"]}"

    return StreamingHttpResponse(_chunked(pieces()), content_type="application/json; charset=utf-8")


def json_stream_response(filename: str, items) -> StreamingHttpResponse:
    """A JSON array of `items` (an iterator of dicts), sent as it is made (see csv_stream_response)."""

    def pieces() -> Iterator[bytes]:
        yield b"["
        for index, item in enumerate(items):
            yield (b"," if index else b"") + json.dumps(item, cls=DjangoJSONEncoder).encode()
        yield b"]"

    return as_export(StreamingHttpResponse(_chunked(pieces()), content_type="application/json"), filename)


def as_export(response: AnyResponse, filename: str) -> AnyResponse:
    """A download of people and decisions (access requests, audit trail, acknowledgments).
    SECURITY: no cache, shared or the browser's, keeps a copy."""
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def answers_errors(dispatch):
    """For the `dispatch` of a plain Django view (DRF views have their own exception handler): a
    HubError raised there or in the handler becomes the view's `error_response` (JSON with the
    X-Error-* headers unless the view answers in HTML), a moved repo a redirect to its new id."""

    @functools.wraps(dispatch)
    def answering(self, request, *args, **kwargs):
        try:
            return dispatch(self, request, *args, **kwargs)
        except RepoMoved as exc:
            return moved_response(request, exc)
        except HubError as exc:
            answer = getattr(self, "error_response", error_response)
            return answer(exc)

    return answering
