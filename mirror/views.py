"""The Hub routes of mirrored repos (routed here by mirror.middleware, URLconf mirror.urls).

Every view inherits `MirrorView`, which asks the upstream what it needs with the caller's own
credentials and hands the facts to `gating.policy.check_mirrored` before any handler runs.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views import View

from accounts.auth import authenticate_request
from core import bodies
from core.byteranges import file_response, parse_range
from core.errors import BadRequest, EntryNotFound, Forbidden, HubError, NotFound, RepoNotFound, ServiceUnavailable
from core.http import answers_errors, error_response
from core.names import split_repo_id
from gating.policy import Action, MirroredFacts, Principal, check_mirrored, is_operator
from gating.repo_views import action_for, repo_type_from_kwargs
from mirror import client, content, license_gate, services, spool, upstream_cache
from mirror.config import Upstream, upstream_for_legacy_id, upstream_for_namespace
from mirror.credentials import Credential, content_token, credential_for, operator_credential
from mirror.license_gate import licenses_of
from mirror.models import MirrorAcceptance, MirrorObject
from registry.git.paths import validate_path

logger = logging.getLogger(__name__)
SPOT_CHECK_BYTES = 64
CHUNK = 64 * 1024


def split_rest(rest: str) -> tuple[str, str]:
    """`{revision}/{path}` of a /resolve URL: the revision is one segment, or `refs/pr/N`
    (the client %2F-encodes slashes in revisions; they arrive decoded)."""
    parts = rest.split("/")
    count = 3 if parts[0] == "refs" and len(parts) > 3 else 1
    revision, path = "/".join(parts[:count]), "/".join(parts[count:])
    if not revision or not path:
        raise EntryNotFound()
    return revision, path


class MirrorView(View):
    """Base of every mirrored-repo route: the caller, the upstream, the policy's decision."""

    repo_actions: dict[str, Action] = {"GET": Action.VIEW, "HEAD": Action.VIEW}
    upstream: Upstream
    credential: Credential
    principal: Principal

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        authenticate_request(request)
        self.principal = Principal.from_request(request)
        # SECURITY: paths go upstream as they came (with the caller's token): a `.` or `..`
        # segment could reach another route or repo there once the upstream normalises it.
        if any(segment in (".", "..") for segment in request.path_info.split("/")):
            raise BadRequest("Invalid path: '.' and '..' segments are not allowed.")
        if kwargs.get("namespace"):
            upstream = upstream_for_namespace(kwargs["namespace"])
            namespace, name = split_repo_id(f"{kwargs['namespace']}/{kwargs['name']}")
            self.repo_id = f"{namespace}/{name}"
        else:  # a namespace-less id (`gpt2`, mirror.legacy_urls)
            upstream = upstream_for_legacy_id(kwargs["name"])
            self.repo_id = kwargs["name"]
        if upstream is None:  # routed here, then the configuration changed: nothing to answer for
            raise RepoNotFound(anonymous=self.principal.is_anonymous)
        self.upstream = upstream
        self.repo_type = repo_type_from_kwargs(kwargs)
        action = action_for(self.repo_actions, request.method) or Action.WRITE
        self.credential = credential_for(self.principal, upstream)
        self.facts = self.decide(action, kwargs)
        check_mirrored(self.principal, self.facts, action)
        return super().dispatch(request, *args, **kwargs)

    @property
    def anonymous(self) -> bool:
        return self.principal.is_anonymous

    def api_path(self, suffix: str = "") -> str:
        return f"/api/{self.repo_type}s/{self.repo_id}{suffix}"

    def decide(self, action: Action, kwargs) -> MirroredFacts:
        if action not in (Action.VIEW, Action.DOWNLOAD):
            # Refused as read-only whatever the upstream holds (purges: operators, on what is cached).
            return MirroredFacts(is_visible=True)
        try:
            self.info, self.info_answer = upstream_cache.metadata_json(
                self.upstream, self.credential, self.api_path(), anonymous=self.anonymous
            )
        except RepoNotFound:
            return MirroredFacts(is_visible=False)
        # A private repo's metadata is itself what its visibility verdict lets the caller see.
        upstream_cache.require_recent(
            self.upstream,
            self.info_answer,
            stands_for_anyone=self.credential.is_anonymous or upstream_cache.is_public(self.info),
        )
        return MirroredFacts(is_visible=True, rule_refusal=self.upstream.repo_rule_refusal(self.repo_id))

    def error_response(self, exc: HubError):
        return error_response(exc)

    def mirror_marker(self, answer: upstream_cache.Answer) -> dict:
        fetched = datetime.fromtimestamp(answer.fetched_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {"upstream": self.upstream.name, "stale": answer.is_stale, "fetchedAt": fetched}


def _strip_xet(value: object) -> object:
    """Entries without `xetHash`: the bytes come from here, through /resolve, not the upstream's CAS."""
    if isinstance(value, list):
        return [_strip_xet(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip_xet(item) for key, item in value.items() if key != "xetHash"}
    return value


class MirrorMetadataView(MirrorView):
    """info, revision, tree, refs, commits (and paths-info, POST): the upstream's answer to the
    caller's credentials, cached, with a `gatehouseMirror` marker saying how fresh it is."""

    body_policy = bodies.LARGE  # paths-info names many paths

    def get(self, request, *args, **kwargs):
        if request.get_full_path() == self.api_path():
            body, answer = self.info, self.info_answer
        else:
            body, answer = upstream_cache.metadata_json(
                self.upstream, self.credential, request.get_full_path(), anonymous=self.anonymous
            )
        return self.answer(request, body, answer)

    def post(self, request, *args, **kwargs):
        answer = upstream_cache.metadata(
            self.upstream,
            self.credential,
            request.get_full_path(),
            anonymous=self.anonymous,
            body=request.body,
            content_type=request.content_type or "application/x-www-form-urlencoded",
        )
        return self.answer(request, upstream_cache.parsed(self.upstream, answer, request.path), answer)

    def answer(self, request, body: object, answer: upstream_cache.Answer) -> HttpResponse:
        body = _strip_xet(body)
        if isinstance(body, dict):
            body = {**body, "gatehouseMirror": self.mirror_marker(answer)}
        response = HttpResponse(json.dumps(body), content_type="application/json")
        if link := _local_link(answer.headers.get("Link"), self.upstream, request):
            response["Link"] = link
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Authorization, Cookie"
        response["X-Gatehouse-Mirror"] = f"{self.upstream.name}; stale" if answer.is_stale else self.upstream.name
        return response


_LINK = re.compile(r"<([^>]*)>\s*((?:;[^,<]*)*)")


def _local_link(header: str | None, upstream: Upstream, request) -> str | None:
    """The upstream's pagination links, pointed back at this hub. SECURITY (found by an outsider
    attack): the client follows `rel="next"` with the caller's Gatehouse token, so a link to any
    other origin, or to another route than the one asked for, is dropped, never passed on."""
    kept = []
    prefix = urlsplit(upstream.endpoint).path.rstrip("/")
    for url, params in _LINK.findall(header or ""):
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != upstream.origin or parts.path != prefix + request.path:
            continue
        local = request.build_absolute_uri(request.path) + (f"?{parts.query}" if parts.query else "")
        kept.append(f"<{local}>{params}")
    return ", ".join(kept) or None


class MirrorPathsInfoView(MirrorMetadataView):
    repo_actions = {"POST": Action.VIEW}


class MirrorResolveView(MirrorView):
    """GET/HEAD /{[datasets/]}{ns}/{name}/resolve/{revision}/{path} of a mirrored repo."""

    repo_actions = {"GET": Action.DOWNLOAD, "HEAD": Action.DOWNLOAD}
    acceptance: MirrorAcceptance | None = None
    info_at: object = None  # the upstream's metadata at the commit downloaded from

    def decide(self, action: Action, kwargs) -> MirroredFacts:
        facts = super().decide(action, kwargs)
        if not facts.is_visible or facts.rule_refusal:
            return facts
        revision, self.path = split_rest(kwargs["rest"])
        validate_path(self.path)
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        resolve_path = f"/{prefix}{self.repo_id}/resolve/{_quote(revision)}/{_quote(self.path)}"
        refusal = None
        self.acceptance = None
        try:
            self.file = upstream_cache.file_facts(
                self.upstream, self.credential, resolve_path, anonymous=self.anonymous
            )
        except client.UpstreamUnavailable:
            raise
        except HubError as exc:
            refusal = exc
            if exc.code == "GatedRepo" and not self.anonymous:
                refusal = self._through_acceptance(resolve_path, exc)
        if refusal is None:
            upstream_cache.require_recent(
                self.upstream,
                self.file.answer,
                stands_for_anyone=(self.credential.is_anonymous and self.acceptance is None)
                or upstream_cache.is_open(self.info),
            )
        licenses = licenses_of(self.info)
        if refusal is None:
            licenses += self._licenses_at(self.file.commit)
        license_refusal = self.upstream.license_refusal(sorted(set(licenses)))
        return MirroredFacts(
            is_visible=True,
            rule_refusal=None,
            license_refusal=license_refusal,
            download_refusal=refusal,
            license_unacknowledged=self._unacknowledged() if refusal is None and not license_refusal else None,
        )

    def _unacknowledged(self) -> str | None:
        """Why the caller must accept the license in force at the commit downloaded from here
        first (mirror.license_gate); None when it needs no acknowledgment or they accepted it."""
        reader = operator_credential(self.upstream) if self.acceptance is not None else self.credential
        subject = license_gate.Subject(self.upstream, self.repo_type, self.repo_id, reader, self.anonymous)
        if not isinstance(self.info_at, dict):
            return None
        current = license_gate.to_acknowledge(subject, self.info_at, self.info)
        user = self.principal.user
        if current is None or license_gate.has_acknowledged(user, subject, current):
            return None
        return license_gate.unacknowledged_message(user, subject, current)

    def _licenses_at(self, commit: str) -> list[str]:
        """The licenses the card declares at the commit downloaded from. SECURITY (found by an
        outsider attack): the rules were judged on the default branch's card only, so pinning a
        branch or an old commit under a denied license passed them; both are judged now."""
        info, _ = upstream_cache.metadata_json(
            self.upstream,
            self.credential,
            self.api_path(f"/revision/{commit}"),
            anonymous=self.anonymous,
        )
        self.info_at = info
        return licenses_of(info)

    def _through_acceptance(self, resolve_path: str, refusal: HubError) -> HubError | None:
        """A gate the caller has not passed upstream (a gate, a license) is passed with the
        operator's access where an operator accepted this repo's terms on the organisation's
        behalf (MirrorAcceptance): recorded, and named by every pull it allows. Signed-in
        callers only; a repo hidden from the caller never gets here (RepoNotFound first)."""
        acceptance = services.acceptance_for(
            upstream=self.upstream.name, repo_type=self.repo_type, repo_id=self.repo_id
        )
        if acceptance is None or not self.upstream.operator_token:
            return refusal
        operator = operator_credential(self.upstream)
        try:
            self.file = upstream_cache.file_facts(self.upstream, operator, resolve_path, anonymous=False)
        except client.UpstreamUnavailable:
            raise
        except HubError:
            return refusal
        self.acceptance = acceptance
        return None

    def get(self, request, *args, **kwargs):
        file = self.file
        filename = self.path.rsplit("/", 1)[-1]
        headers = {
            "X-Repo-Commit": file.commit,
            "ETag": f'"{file.oid}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition_header(True, filename) or "attachment",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-cache",
            "Vary": "Authorization, Cookie",
            "X-Gatehouse-Mirror": f"{self.upstream.name}; stale" if file.is_stale else self.upstream.name,
        }
        if file.is_lfs:
            headers["X-Linked-Etag"] = f'"{file.oid}"'
            headers["X-Linked-Size"] = str(file.size)
        row = content.stored(self.upstream.name, file.oid)
        if row is not None:
            _require_scanned(row, self.path)
        if request.method == "HEAD":
            response = HttpResponse(content_type="application/octet-stream")
            response["Content-Length"] = str(file.size)
        else:
            response = self._content(request, row)
        for key, value in headers.items():
            response[key] = value
        return response

    def _content(self, request, row: MirrorObject | None, *, is_retry: bool = False):
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
                return self._content(request, None, is_retry=True)  # that fetch ended: stored, or failed
            _require_scanned(row, self.path)
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
            return self._content(request, None, is_retry=True)
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
                raise _being_scanned()
            start, end = byte_range if byte_range is not None else (0, self.file.size - 1)
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
        path = f"/{prefix}{self.repo_id}/resolve/{file.commit}/{_quote(self.path)}"
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
        path = f"/{prefix}{self.repo_id}/resolve/{file.commit}/{_quote(self.path)}"
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
            raise _being_scanned()
        if byte_range is not None:
            for _ in chunks:
                pass
            return None
        response = StreamingHttpResponse(itertools.chain([first], chunks), content_type="application/octet-stream")
        response["Content-Length"] = str(file.size)
        return response

    def _audit(self, source: str) -> None:
        if source == "upstream":
            services.objects_evict_soon()
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


def can_manage_mirror(principal: Principal) -> bool:
    return is_operator(principal) and principal.may_write


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def _being_scanned() -> HubError:
    retry = settings.GATEHOUSE_MIRROR_SCAN_RETRY_AFTER
    return HubError(
        "This file is being scanned before it is served; try again shortly.",
        status=503,
        code="ScanPending",
        headers={"Retry-After": str(retry)},
    )


def _require_scanned(row: MirrorObject, path: str) -> None:
    """SECURITY: pickle-format content is served only once its scan said `safe`. Decided at each
    request, by the name asked for as well (found by an outsider attack: the same bytes, first
    fetched as `blob.safetensors`, were then served as `model.pkl` unscanned)."""
    if row.scan_status == "" and content.is_pickle_like(path, b""):  # its bytes were sniffed at the fetch
        services.scan_request(row_pk=row.pk, filename=path.rsplit("/", 1)[-1])
        raise _being_scanned()
    if row.scan_status in ("", "safe"):
        return
    if row.scan_status == "queued":
        services.scan_resend_if_lost(row=row)
        raise _being_scanned()
    raise Forbidden(f"This file is not served: its scan found it {row.scan_status}.", code="UnsafeContent")


class MirrorReadOnlyView(MirrorView):
    """Every other route of a mirrored repo: writes are refused (read-only), other reads are
    not served here."""

    repo_actions = {"GET": Action.VIEW, "HEAD": Action.VIEW}

    def get(self, request, *args, **kwargs):
        if "/xet-read-token/" in request.path:
            raise _not_xet()
        raise NotFound("This route is not served for repos mirrored from an upstream hub.")


def _not_xet() -> HubError:
    """Mirrored files are held as plain bytes and announced without Xet (`_strip_xet`), so no
    answer of ours sends hf_xet here. A client's own cache can: it keeps tree listings per repo id
    and commit whatever the endpoint, and skips the HEAD for an entry with a Xet hash; after
    downloading from the upstream directly, it asks us for a Xet token for the mirrored repo.
    Serving the upstream's Xet hashes would need their chunks; the answer says the way out."""
    return NotFound(
        "Files of repos mirrored from an upstream hub are served through /resolve, not Xet. A tree "
        "listing in your client's cache from another endpoint names Xet hashes: download with "
        "HF_HUB_DISABLE_XET=1 or into a fresh cache folder.",
        code="MirrorNotXet",
    )


class MirrorNamespaceView(View):
    """Paths under a mirrored namespace that name no repo route (profile pages, writes)."""

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):
            raise NotFound("This namespace is mirrored from an upstream hub.")
        check_mirrored(Principal.from_request(request), MirroredFacts(is_visible=True), Action.WRITE)
        raise NotFound()
