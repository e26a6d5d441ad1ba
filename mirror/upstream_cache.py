"""Upstream answers, cached: metadata for GATEHOUSE_MIRROR_METADATA_TTL (60 s), access verdicts
(what a HEAD of a file said to one caller's credentials) for GATEHOUSE_MIRROR_ACCESS_TTL (at most
5 minutes). Both are kept for GATEHOUSE_MIRROR_STALE_SECONDS more, and served, marked stale, only
while the upstream cannot be reached; an upstream refusal drops them at once. SECURITY: past
GATEHOUSE_MIRROR_ACCESS_TTL a stale answer stands only for what anyone may read (a public repo's
metadata, a public and ungated repo's files: `require_recent`); a private or gated repo's answers
that old are refused with 503 `UpstreamUnavailable` while the upstream is down.

Entries are keyed by the credential that asked (`Credential.key`), never shared between users
with tokens: what one user's token may see upstream says nothing about another's.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.cache import cache

from core.errors import HubError
from mirror import client
from mirror.client import UpstreamUnavailable
from mirror.config import Upstream
from mirror.credentials import Credential


@dataclass(frozen=True)
class Answer:
    body: bytes
    headers: dict[str, str]
    fetched_at: float
    is_stale: bool


_COMMIT_ID = re.compile(r"[0-9a-f]{40}")


def is_commit_id(value: object) -> bool:
    """Whether an upstream's answer names a commit as a commit id is written: 40 lower-case hex
    digits. SECURITY: such ids go into the paths of later upstream requests sent with the
    caller's token, and into URLs shown to users; anything else (a `../`, a query) is refused."""
    return isinstance(value, str) and _COMMIT_ID.fullmatch(value) is not None


KEPT_HEADERS = ("Link", "X-Repo-Commit", "ETag", "X-Linked-Etag", "X-Linked-Size", "Content-Length", "Content-Type")


def _key(kind: str, upstream: Upstream, credential: Credential, *parts: str) -> str:
    digest = hashlib.sha256("\0".join((upstream.name, upstream.endpoint, credential.key, *parts)).encode()).hexdigest()
    return f"mirror:{kind}:{digest}"


def _cached(key: str, ttl: float, fetch, *, anonymous: bool, upstream: Upstream) -> Answer:
    entry = cache.get(key)
    now = time.time()
    if entry is not None and now - entry["at"] < ttl:
        return Answer(entry["body"], entry["headers"], entry["at"], is_stale=False)
    try:
        response = fetch()
    except UpstreamUnavailable:
        if entry is not None:
            return Answer(entry["body"], entry["headers"], entry["at"], is_stale=True)
        raise
    if response.status >= 400:
        cache.delete(key)  # SECURITY: a refusal now (private, revoked) is never answered from the past
        raise client.hub_error(upstream, response, anonymous=anonymous)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    entry = {"body": response.data, "headers": headers, "at": now}
    cache.set(key, entry, timeout=int(ttl + settings.GATEHOUSE_MIRROR_STALE_SECONDS))
    return Answer(entry["body"], headers, now, is_stale=False)


def metadata(
    upstream: Upstream,
    credential: Credential,
    path: str,
    *,
    anonymous: bool,
    body: bytes | None = None,
    content_type: str | None = None,
) -> Answer:
    """GET `path` (POST with `body`) of the upstream's API, as `credential` sees it."""
    method = "GET" if body is None else "POST"
    key = _key("md", upstream, credential, method, path, hashlib.sha256(body or b"").hexdigest())

    def fetch():
        return client.request(upstream, method, path, token=credential.token, body=body, content_type=content_type)

    if not _cacheable(path, body):
        return _uncached(fetch, anonymous=anonymous, upstream=upstream)
    return _cached(key, settings.GATEHOUSE_MIRROR_METADATA_TTL, fetch, anonymous=anonymous, upstream=upstream)


# The query parameters the Hub client sends to the metadata routes. SECURITY (found by a review):
# answers are cached under their whole path for a minute plus the stale period, so a caller
# varying a made-up parameter (or a paths-info body) filled the cache without bound; such
# requests are passed on uncached.
CACHED_QUERY = frozenset(
    {"expand", "expand[]", "revision", "recursive", "cursor", "limit", "p", "blobs", "securityStatus", "include_prs"}
)
CACHED_BODY_BYTES = 4096
CACHED_QUERY_BYTES = 1024


def _cacheable(path: str, body: bytes | None) -> bool:
    query = urlsplit(path).query
    if len(query) > CACHED_QUERY_BYTES or (body is not None and len(body) > CACHED_BODY_BYTES):
        return False
    return all(name in CACHED_QUERY for name, _ in parse_qsl(query, keep_blank_values=True))


def _uncached(fetch, *, anonymous: bool, upstream: Upstream) -> Answer:
    response = fetch()
    if response.status >= 400:
        raise client.hub_error(upstream, response, anonymous=anonymous)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Answer(response.data, headers, time.time(), is_stale=False)


def metadata_json(upstream: Upstream, credential: Credential, path: str, *, anonymous: bool) -> tuple[object, Answer]:
    answer = metadata(upstream, credential, path, anonymous=anonymous)
    return parsed(upstream, answer, path), answer


def parsed(upstream: Upstream, answer: Answer, path: str) -> object:
    try:
        return json.loads(answer.body)
    except ValueError:
        raise HubError(
            f"The upstream hub {upstream.name!r} answered {path} with something not JSON.",
            status=502,
            code="UpstreamInvalid",
        ) from None


def is_public(info: object) -> bool:
    """Whether a repo's metadata (as the upstream answered it) says anyone may read it: `private`
    is false. Deny by default: an answer that does not say counts as private."""
    return isinstance(info, dict) and info.get("private") is False


def is_open(info: object) -> bool:
    """Whether anyone may download the repo's files: public and not gated (`gated` is false)."""
    return is_public(info) and isinstance(info, dict) and info.get("gated") is False


def require_recent(upstream: Upstream, answer: Answer, *, stands_for_anyone: bool) -> None:
    """SECURITY: a cached access answer lets a caller at private or gated upstream content for
    GATEHOUSE_MIRROR_ACCESS_TTL at most (the upstream may have revoked the caller since). Past it,
    while the upstream cannot be reached to ask again, only an answer that stands for anyone
    (`stands_for_anyone`: asked anonymously, or of a public, ungated repo) is served, marked
    stale; otherwise 503 `UpstreamUnavailable` with `Retry-After`."""
    if not answer.is_stale or stands_for_anyone:
        return
    if time.time() - answer.fetched_at <= settings.GATEHOUSE_MIRROR_ACCESS_TTL:
        return
    raise HubError(
        f"The upstream hub {upstream.name!r} cannot be reached to check your access to this repo again "
        f"(last checked more than {settings.GATEHOUSE_MIRROR_ACCESS_TTL} seconds ago); try again later.",
        status=503,
        code="UpstreamUnavailable",
        headers={"Retry-After": "30"},
    )


@dataclass(frozen=True)
class FileFacts:
    """What the upstream said of one file to one caller: it may download it, and what it is."""

    commit: str
    oid: str  # the sha256 of an LFS file, the git blob id of a small one
    size: int
    is_lfs: bool
    is_stale: bool
    answer: Answer  # the cached HEAD it comes from (its age: `require_recent`)


def file_facts(upstream: Upstream, credential: Credential, resolve_path: str, *, anonymous: bool) -> FileFacts:
    """A HEAD of `/…/resolve/{revision}/{path}` with the caller's credentials: the access check
    for that repo, revision and file (gates, licenses and release stages included, as the
    upstream decides them), and the ids the downloaded bytes must match."""
    key = _key("file", upstream, credential, resolve_path)

    def fetch():
        return client.request(upstream, "HEAD", resolve_path, token=credential.token, follow=False)

    answer = _cached(key, settings.GATEHOUSE_MIRROR_ACCESS_TTL, fetch, anonymous=anonymous, upstream=upstream)
    headers = answer.headers
    linked = headers.get("X-Linked-Etag", "")
    etag = linked or headers.get("ETag", "")
    oid = etag.removeprefix("W/").strip('"').lower()
    commit = headers.get("X-Repo-Commit", "").lower()
    size_text = headers.get("X-Linked-Size") if linked else headers.get("Content-Length")
    expected = 64 if linked else 40
    if (
        len(oid) != expected
        or not all(c in "0123456789abcdef" for c in oid)
        or not is_commit_id(commit)
        or not (size_text or "").isdigit()
    ):
        raise HubError(
            f"The upstream hub {upstream.name!r} did not describe this file.", status=502, code="UpstreamInvalid"
        )
    return FileFacts(
        commit=commit, oid=oid, size=int(size_text or 0), is_lfs=bool(linked), is_stale=answer.is_stale, answer=answer
    )
