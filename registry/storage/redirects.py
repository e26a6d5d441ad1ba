"""Downloads from object storage: `/resolve` answers a redirect to a short-lived signed URL of the
store (as the Hub does with its CDN), after the access decision and with every metadata header the
client reads on the redirect itself (`registry.views.download.ResolveView` sets them).

SECURITY: the signed URL authorises one object for GATEHOUSE_DOWNLOAD_URL_TTL seconds (at most
300) and nothing else; it is minted per request, after the policy let this caller through, so a
caller who lost access gets no new one. It must be on another origin than the hub: a client
re-sends its Authorization header on a same-origin redirect, which would hand the hub token to
the store. A store configured on the hub's own origin is therefore never redirected to: the
bytes are served by the hub instead (and the misconfiguration logged).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse

from core.errors import ContentUnavailable
from registry.storage import content, get_storage

logger = logging.getLogger(__name__)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _keeps_the_token(url: str, hub_url: str) -> bool:
    """Whether a client redirected from `hub_url` to `url` sends the hub token again: httpx and
    requests do on the same origin, and on an upgrade of the same host from http:80 to https:443."""
    to, hub = _origin(url), _origin(hub_url)
    return to == hub or (to[1] == hub[1] and hub[0] == "http" and hub[2] == 80 and to[0] == "https" and to[2] == 443)


def _on_the_hubs_origin(url: str, request) -> bool:
    """SECURITY: the store must be where clients do not send the hub token, judged from the hub's
    URL as the request names it and as GATEHOUSE_PUBLIC_URL does (behind a proxy they may differ)."""
    hubs = [
        request.build_absolute_uri("/"),
        *([settings.GATEHOUSE_PUBLIC_URL] if settings.GATEHOUSE_PUBLIC_URL else []),
    ]
    return any(_keeps_the_token(url, hub) for hub in hubs)


def signed_redirect(request, sha256: str, filename: str, *, is_private: bool) -> HttpResponse | None:
    """A 302 to a signed GET of the content's object, or None where the hub serves the bytes
    (the local backend). A HEAD redirects only to an object already stored: content kept only as
    Xet chunks is written out as a plain object by the first GET (hf_xet clients never send one)."""
    storage = get_storage()
    if not storage.serves_signed_urls:
        return None
    if request.method == "HEAD":
        if not content.is_stored(sha256):
            return None
    else:
        try:
            content.ensure_stored(sha256)
        except FileNotFoundError:
            logger.exception("Stored content of %s cannot be read", sha256)
            raise ContentUnavailable() from None
    url = storage.presigned_get(sha256, filename=filename, is_private=is_private)
    if url is None:
        return None
    if _on_the_hubs_origin(url, request):
        logger.error(
            "The object store is where clients send the hub's token: serving %s through the hub instead", sha256
        )
        return None
    response = HttpResponse(status=302)
    response["Location"] = url
    return response
