"""Serving a mirrored file's content (the body of MirrorResolveView's GET, once the policy
allowed it): from the store, by following a fetch in progress (mirror/spool.py), or by claiming
and starting the fetch (mirror/content.py); spot checks of content stored for another repo; the
pull record. The view decides who may download what; this module only delivers it."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.http import StreamingHttpResponse

from core.byteranges import file_response, parse_range
from core.errors import Forbidden, HubError, ServiceUnavailable
from gating.policy import Principal
from mirror import client, content, services, spool
from mirror.config import Upstream
from mirror.credentials import Credential, content_token
from mirror.models import MirrorAcceptance, MirrorObject
from mirror.upstream_cache import FileFacts

SPOT_CHECK_BYTES = 64
CHUNK = 64 * 1024


def quote_path(text: str) -> str:
    return quote(text, safe="/")


@dataclass
class Serving:
    """One download's content, for `principal` through `credential`: `file` (the upstream's
    facts at the commit) at `path` of the repo; `acceptance`, the operator's acceptance it came
    through, if any (named by the pull record)."""

    upstream: Upstream
    credential: Credential
    principal: Principal
    repo_type: str
    repo_id: str
    path: str
    file: FileFacts
    acceptance: MirrorAcceptance | None

    @property
    def anonymous(self) -> bool:
        return self.principal.is_anonymous

    def content(self, request, row: MirrorObject | None, *, is_retry: bool = False):
        file = self.file
        byte_range = parse_range(request.headers.get("Range"), file.size)
        source = "stale" if file.is_stale else "cache"
        if row is None:
            if file.is_stale:
                raise client.UpstreamUnavailable(self.upstream, "not reachable")
            kind, row = self._claim_or_wait()
            if kind == "claimed":
                fetched = self._fetch(row, byte_range)
                if fetched is not None:
                    self._audit("upstream")
                    return fetched
                row = MirrorObject.objects.get(pk=row.pk)
                source = "upstream"
            elif kind == "follow":
                followed = self._follow(row, byte_range)
                if followed is not None:
                    self._audit(source)
                    return followed
                if is_retry:
                    raise ServiceUnavailable("This file is being fetched from the upstream hub; try again shortly.")
                return self.content(request, None, is_retry=True)  # that fetch ended: stored, or failed
            require_scanned(row, self.path)
        try:
            if not content.served_for(self.upstream.name, self.repo_type, self.repo_id, file.oid):
                self._spot_check(row)
            handle = content.mirror_storage().open(row.sha256)
        except FileNotFoundError:
            # Evicted (or purged) since the row was read: fetched again once, if the row went too.
            if is_retry or content.stored(self.upstream.name, file.oid) is not None:
                raise ServiceUnavailable(
                    "The stored copy of this file cannot be read; try again shortly.", headers={"Retry-After": "2"}
                ) from None
            return self.content(request, None, is_retry=True)
        self._audit(source)
        services.object_served_touch(row=row)
        return file_response(handle, byte_range, file.size)

    def _claim_or_wait(self) -> tuple[str, MirrorObject]:
        """Claim the fetch of the file, or wait on the one in progress (content.wait_fetch)."""
        claimed = content.claim(self.upstream.name, self.file.oid, self.path)
        if claimed is not None:
            return "claimed", claimed
        waited = content.wait_fetch(
            self.upstream.name,
            self.file.oid,
            self.path,
            fetch_repo=content.repo_key(self.repo_type, self.repo_id),
            seconds=settings.GATEHOUSE_MIRROR_FOLLOW_SECONDS,
        )
        if waited is None:
            raise ServiceUnavailable("This file is being fetched from the upstream hub; try again shortly.")
        return waited

    def _follow(self, row: MirrorObject, byte_range: tuple[int, int] | None, *, follower: spool.Follower | None = None):
        """The response that tails the spool of the fetch in progress (mirror/spool.py), with
        `follower` when this request started the fetch (opened before, so a fetch that ends at
        once is followed all the same); None if that fetch already ended (the caller looks again).
        SECURITY: pickle-format content is never served from a spool: refused by name, then by
        its first bytes, before any byte."""
        started_here = follower is not None
        if follower is None:
            try:
                follower = spool.Follower(row.pk, row.spool_path, self.file.size)
            except FileNotFoundError:
                return None
        try:
            if content.is_pickle_like(self.path, b"") or content.is_pickle_like(self.path, follower.head()):
                raise being_scanned()
            start, end = byte_range if byte_range is not None else (0, self.file.size - 1)
            follower.wait_first(start)
            response = StreamingHttpResponse(follower.serve(start, end), content_type="application/octet-stream")
        except spool.FetchFailed:
            follower.close()
            if started_here:
                raise HubError("The upstream hub's content could not be fetched.", status=502, code="UpstreamError")
            return None
        except BaseException:  # the response never took the follower: its descriptor goes here
            follower.close()
            raise
        response["Content-Length"] = str(end - start + 1)
        if byte_range is not None:
            response.status_code = 206
            response["Content-Range"] = f"bytes {start}-{end}/{self.file.size}"
        return response

    def _spot_check(self, row: MirrorObject) -> None:
        """Content stored for another repo of the upstream: served for this one only once its
        upstream serves the same bytes for it (see MirrorRepoObject). A random sample is asked
        for and compared with the stored copy; then the pair is recorded."""
        file = self.file
        if file.is_stale:
            raise client.UpstreamUnavailable(self.upstream, "not reachable")
        length = min(SPOT_CHECK_BYTES, file.size)
        start = secrets.randbelow(file.size - length + 1) if file.size else 0
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        path = f"/{prefix}{self.repo_id}/resolve/{file.commit}/{quote_path(self.path)}"
        token = content_token(self.upstream, self.credential)
        sample = b""
        if length:
            end = start + length - 1
            response = client.request(self.upstream, "GET", path, token=token, stream=True, byte_range=(start, end))
            try:
                if response.status not in (200, 206):
                    raise client.hub_error(self.upstream, response, anonymous=self.anonymous)
                wanted = length if response.status == 206 else start + length  # 200: the whole, from 0
                received = b""
                for chunk in response.stream(CHUNK, decode_content=False):
                    received += chunk
                    if len(received) >= wanted:
                        break
                sample = received[:length] if response.status == 206 else received[start : start + length]
            finally:
                response.close()
            if sample != content.stored_sample(row, start, length):
                raise HubError(
                    "The upstream hub does not serve this content for this repo.", status=502, code="UpstreamIntegrity"
                )
        content.served_for_record(self.upstream.name, self.repo_type, self.repo_id, file.oid)

    def _fetch(self, row: MirrorObject, byte_range: tuple[int, int] | None):
        """Fetch the object, claimed by this request: in a background thread that this request
        then follows like any other (mirror/spool.py). Where this process runs all the fetch
        threads it may, the request fetches itself: it streams the object to its caller while it
        is stored, or, for pickle-format content and ranged requests, stores it whole first (None:
        read it from the store)."""
        file = self.file
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        path = f"/{prefix}{self.repo_id}/resolve/{file.commit}/{quote_path(self.path)}"
        token = content_token(self.upstream, self.credential)
        try:
            upstream_response = client.request(self.upstream, "GET", path, token=token, stream=True)
        except BaseException:
            content.release(row)
            raise
        if upstream_response.status != 200:
            upstream_response.drain_conn()
            content.release(row)
            raise client.hub_error(self.upstream, upstream_response, anonymous=self.anonymous)
        fetch: content.Fetch | None = None
        try:
            fetch = content.Fetch(
                row,
                upstream_response,
                is_lfs=file.is_lfs,
                size=file.size,
                repo=(self.repo_type, self.repo_id),
                filename=self.path,
            )
            follower = spool.Follower(row.pk, fetch.spool_path, file.size)
        except BaseException:
            if fetch is not None:
                fetch.abandon()
            else:
                upstream_response.close()
                upstream_response.release_conn()
                content.release(row)
            raise
        try:
            started = spool.start(fetch)
        except BaseException:
            follower.close()
            fetch.abandon()
            raise
        if started:
            return self._follow(row, byte_range, follower=follower)
        follower.close()
        chunks = iter(fetch)
        first = next(chunks, b"")
        if fetch.is_pickle:  # STORED with its scan queued (content.Fetch)
            for _ in chunks:
                pass
            fetch.scan_if_pickle()
            raise being_scanned()
        if byte_range is not None:
            for _ in chunks:
                pass
            return None
        response = StreamingHttpResponse(itertools.chain([first], chunks), content_type="application/octet-stream")
        response["Content-Length"] = str(file.size)
        return response

    def _audit(self, source: str) -> None:
        services.pull_record(
            user=self.principal.user,
            upstream=self.upstream.name,
            repo_type=self.repo_type,
            repo_id=self.repo_id,
            commit=self.file.commit,
            path=self.path,
            oid=self.file.oid,
            size=self.file.size,
            source=source,
            acceptance=self.acceptance,
        )


def being_scanned() -> HubError:
    retry = settings.GATEHOUSE_MIRROR_SCAN_RETRY_AFTER
    return HubError(
        "This file is being scanned before it is served; try again shortly.",
        status=503,
        code="ScanPending",
        headers={"Retry-After": str(retry)},
    )


def require_scanned(row: MirrorObject, path: str) -> None:
    """SECURITY: pickle-format content is served only once its scan said `safe`. Decided at each
    request, by the name asked for as well (found by an outsider attack: the same bytes, first
    fetched as `blob.safetensors`, were then served as `model.pkl` unscanned)."""
    if row.scan_status == "" and content.is_pickle_like(path, b""):  # its bytes were sniffed at the fetch
        services.scan_request(row_pk=row.pk, filename=path.rsplit("/", 1)[-1])
        raise being_scanned()
    if row.scan_status in ("", "safe"):
        return
    if row.scan_status == "queued":
        services.scan_resend_if_lost(row=row)
        raise being_scanned()
    raise Forbidden(f"This file is not served: its scan found it {row.scan_status}.", code="UnsafeContent")
