"""Requests to an upstream hub, and its errors as the Hub's typed errors.

urllib3 (pinned; the webhooks' transport already uses it directly) rather than requests or
httpx: streaming bodies without buffering (`preload_content=False`), connect and read timeouts per
request, and no redirect or retry unless asked. Redirects are followed here, by hand, so that the
Authorization header (a user's token or the operator's) goes to the upstream's own origin only:
SECURITY: a redirect to any other origin (an object store's signed URL) is followed without it.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

from core.errors import GatedRepo, HubError, RepoNotFound
from core.http import header_safe
from mirror.config import Upstream

logger = logging.getLogger(__name__)

_POOL = urllib3.PoolManager(num_pools=16, maxsize=32, retries=False, headers={"User-Agent": "gatehouse-mirror/1"})
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
# An API answer (metadata, whoami) is read whole, within these bounds (found by an outsider
# attack: a 400 MiB answer grew a worker by 900 MB; one trickling a byte every 5 s held a thread
# for ever, and 40 of them every thread of the hub).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class UpstreamUnavailable(HubError):
    """The upstream did not answer, answered 5xx or throttled us: cached copies are served
    instead where there are some (marked stale); otherwise this 503."""

    status = 503
    code = "UpstreamUnavailable"

    def __init__(self, upstream: Upstream, detail: str):
        super().__init__(
            f"The upstream hub {upstream.name!r} cannot be reached ({detail}) and this is not cached here.",
            headers={"Retry-After": "30"},
        )


def _timeout() -> urllib3.Timeout:
    return urllib3.Timeout(
        connect=settings.GATEHOUSE_MIRROR_CONNECT_TIMEOUT, read=settings.GATEHOUSE_MIRROR_READ_TIMEOUT
    )


def _same_origin(url: str, upstream: Upstream) -> bool:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc) == upstream.origin


def request(
    upstream: Upstream,
    method: str,
    path: str,
    *,
    token: str | None,
    body: bytes | None = None,
    content_type: str | None = None,
    stream: bool = False,
    follow: bool = True,
    byte_range: tuple[int, int] | None = None,
) -> urllib3.BaseHTTPResponse:
    """`method path` (path with its query) on the upstream. Raises UpstreamUnavailable when it
    cannot be reached, answers 5xx or 429; any other answer is returned (check the status)."""
    url = upstream.endpoint + path
    for _ in range(MAX_REDIRECTS + 1):
        headers = {"Accept-Encoding": "identity"}
        if content_type:
            headers["Content-Type"] = content_type
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        if token and _same_origin(url, upstream):
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = _POOL.request(
                method,
                url,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                timeout=_timeout(),
            )
            if not stream:
                _read_bounded(response, upstream)
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Upstream %s unreachable: %s %s: %s", upstream.name, method, path, type(exc).__name__)
            raise UpstreamUnavailable(upstream, type(exc).__name__) from None
        if response.status >= 500 or response.status == 429:
            response.drain_conn()
            raise UpstreamUnavailable(upstream, f"HTTP {response.status}")
        location = response.headers.get("Location")
        if not (follow and response.status in REDIRECTS and location):
            return response
        response.drain_conn()
        url = urljoin(url, location)
        if response.status == 303:
            method, body = "GET", None
    raise UpstreamUnavailable(upstream, "too many redirects")


def _read_bounded(response: urllib3.BaseHTTPResponse, upstream: Upstream) -> None:
    """Read the whole answer into `response.data`, at most MAX_ANSWER_BYTES and within the read
    timeout in all (not per read)."""
    deadline = time.monotonic() + settings.GATEHOUSE_MIRROR_READ_TIMEOUT
    chunks, received = [], 0
    while chunk := response.read1(64 * 1024):
        chunks.append(chunk)
        received += len(chunk)
        if received > MAX_ANSWER_BYTES:
            response.close()
            raise HubError(
                f"The upstream hub {upstream.name!r} answered with more than {MAX_ANSWER_BYTES} bytes.",
                status=502,
                code="UpstreamInvalid",
            )
        if time.monotonic() > deadline:
            response.close()
            raise UpstreamUnavailable(upstream, "too slow")
    assert isinstance(response, urllib3.HTTPResponse)
    response._body = b"".join(chunks)  # noqa: SLF001 - what preload_content would have kept (`.data`)
    response.release_conn()


def hub_error(upstream: Upstream, response: urllib3.BaseHTTPResponse, *, anonymous: bool) -> HubError:
    """The typed error for an upstream's 4xx (README, "Upstream errors"). SECURITY: a repo the
    caller's credentials cannot see upstream is missing here too, with our answer for a missing
    repo (401 anonymous, 404 signed in), whatever the upstream's status."""
    code = response.headers.get("X-Error-Code", "")
    message = header_safe(response.headers.get("X-Error-Message", "") or f"HTTP {response.status}")
    said = f"Upstream {upstream.name!r}: {message}"
    if code == "RepoNotFound" or (response.status == 404 and not code):
        return RepoNotFound(anonymous=anonymous)
    if code == "GatedRepo":
        return GatedRepo(said, anonymous=anonymous)
    if code in ("RevisionNotFound", "EntryNotFound"):
        return HubError(said, status=404, code=code)
    if code == "ContentQuarantined":
        return HubError(said, status=410, code=code)
    if code == "InvalidCredentials" or response.status == 401:
        return HubError(
            f"The upstream hub {upstream.name!r} refused your upstream token: set a new one "
            f"(PUT /api/mirror/upstreams/{upstream.name}/token).",
            status=403,
            code="UpstreamCredentialsRefused",
        )
    if response.status in (403, 404):
        return HubError(
            said, status=response.status, code=code or ("Forbidden" if response.status == 403 else "NotFound")
        )
    return HubError(said, status=400, code="BadRequest")
