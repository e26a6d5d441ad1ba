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

from django.http import HttpResponse

from core.errors import ContentUnavailable
from registry.storage import content, get_storage

logger = logging.getLogger(__name__)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


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
    if _origin(url) == _origin(request.build_absolute_uri("/")):
        logger.error("The object store is on the hub's own origin: serving %s through the hub instead", sha256)
        return None
    response = HttpResponse(status=302)
    response["Location"] = url
    return response
