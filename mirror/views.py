"""The Hub routes of mirrored repos (routed here by mirror.middleware, URLconf mirror.urls).

Every view inherits `MirrorView`, which asks the upstream what it needs with the caller's own
credentials and hands the facts to `gating.policy.check_mirrored` before any handler runs.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.views import View

from accounts.auth import authenticate_request
from core import bodies
from core.errors import BadRequest, EntryNotFound, HubError, NotFound, RepoNotFound
from core.http import answers_errors, error_response
from core.names import split_repo_id
from gating.policy import Action, MirroredFacts, Principal, check_mirrored, is_operator
from gating.repo_views import action_for, repo_type_from_kwargs
from mirror import client, content, license_gate, services, serving, upstream_cache
from mirror.config import Upstream, upstream_for_legacy_id, upstream_for_namespace
from mirror.credentials import Credential, credential_for, operator_credential
from mirror.license_gate import licenses_of
from mirror.models import MirrorAcceptance
from mirror.serving import quote_path
from registry.git.paths import validate_path

logger = logging.getLogger(__name__)


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
        resolve_path = f"/{prefix}{self.repo_id}/resolve/{quote_path(revision)}/{quote_path(self.path)}"
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
        needed = license_gate.to_acknowledge(subject, self.info_at, self.info)  # fails closed on odd answers
        user = self.principal.user
        current = license_gate.first_unacknowledged(user, subject, needed)
        return None if current is None else license_gate.unacknowledged_message(user, subject, current)

    def _licenses_at(self, commit: str) -> list[str]:
        """The licenses the card declares at the commit downloaded from. SECURITY (found by an
        outsider attack): the rules were judged on the default branch's card only, so pinning a
        branch or an old commit under a denied license passed them; both are judged now."""
        subject = license_gate.Subject(self.upstream, self.repo_type, self.repo_id, self.credential, self.anonymous)
        self.info_at = license_gate.revision_info(subject, commit)  # UpstreamInvalid unless it names its commit
        if self.info_at["sha"] != commit:
            raise HubError(
                f"The upstream hub {self.upstream.name!r} did not describe this revision.",
                status=502,
                code="UpstreamInvalid",
            )
        return licenses_of(self.info_at)

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

    def content_serving(self) -> serving.Serving:
        return serving.Serving(
            upstream=self.upstream,
            credential=self.credential,
            principal=self.principal,
            repo_type=self.repo_type,
            repo_id=self.repo_id,
            path=self.path,
            file=self.file,
            acceptance=self.acceptance,
        )

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
            serving.require_scanned(row, self.path)
        if request.method == "HEAD":
            response = HttpResponse(content_type="application/octet-stream")
            response["Content-Length"] = str(file.size)
        else:
            response = self.content_serving().content(request, row)
        for key, value in headers.items():
            response[key] = value
        return response


def can_manage_mirror(principal: Principal) -> bool:
    return is_operator(principal) and principal.may_write


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
