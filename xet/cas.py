"""The CAS routes hf_xet calls, under the `casUrl` the token routes hand out ("/cas" here).

POST /cas/v1/xorbs/default/{xorb}         store a verified xorb          (write token)
POST /cas/v1/shards                        register a shard's files       (write token)
POST /cas/v2/shards                        the same, answered as NDJSON events (hf_xet tries it first)
GET  /cas/v1/reconstructions/{file}        how to rebuild a file (+Range) (read or write token)
GET  /cas/v2/reconstructions/{file}        the same plan, fetch entries grouped per xorb (tried first)
GET  /cas/fetch/{xorb}?r=&exp=&sig=        a signed byte range of a xorb  (no token: the URL is signed)
Anything else under /cas answers a JSON 404, which hf_xet reads as "not supported" and falls back
(upload grants) or as "no match" (global dedupe, `/cas/v1/chunks/...`: a positive answer would
tell any token holder which content the server holds, so it always answers 404).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core import bodies
from core.byteranges import BoundedFile, parse_range
from core.errors import BadRequest, Forbidden, HubError, NotFound, PayloadTooLarge, RangeNotSatisfiable
from core.http import answers_errors, error_response
from core.socketbody import buffered_body
from gating.policy import Action, RepoAccess, can, check_download, check_push, resolve_repo_by_pk
from registry import limits
from registry import services as registry_services
from registry.git import trees
from registry.models import Repo, UploadReceipt
from registry.selectors import Resolved, counts_as_download, resolve_revision
from registry.storage import content, get_xet_storage
from xet import format, reconstruction, services, tokens
from xet.models import XetFile

_RANGES = re.compile(r"^(\d+)-(\d+)$")


@method_decorator(csrf_exempt, name="dispatch")
class CasView(View):
    http_method_names = ["get", "post"]

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        return error_response(NotFound("No such CAS route."))


# Not a duplicate of CasView's: this class defines its own `dispatch`, and `as_view` reads the
# csrf_exempt mark from the class's own `dispatch` (django.views.generic.base.View.as_view).
@method_decorator(csrf_exempt, name="dispatch")
class CasRepoView(CasView):
    """Base of the CAS routes a Xet token opens. SECURITY: before any handler runs, the token is
    read (401 if missing, forged or expired) and its repo resolved through `gating.policy` for
    its holder, as they are now: a write token lets them take part in the repo (the push rule
    itself is checked where content lands: shards), a read token lets them download. Subclasses
    never override `dispatch` (tests/test_routes.py walks the routes and checks this)."""

    requires_write = False

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            return self.http_method_not_allowed(request, *args, **kwargs)
        self.token = tokens.parse(request.headers.get("Authorization"))
        if self.requires_write:
            tokens.require_write(self.token)
        action = Action.PUSH if self.token.scope == tokens.WRITE else Action.DOWNLOAD
        self.access = resolve_repo_by_pk(tokens.principal_of(self.token), self.token.repo_pk, action)
        self.principal, self.repo = self.access.principal, self.access.repo
        return super().dispatch(request, *args, **kwargs)


def _hash_arg(value: str) -> str:
    if not format.is_hash_string(value):
        raise BadRequest("Hashes are 64 lowercase hex characters.")
    return value


class XorbUploadView(CasRepoView):
    body_policy = bodies.BodyPolicy(lambda: format.MAX_XORB_BYTES)
    requires_write = True

    def post(self, request, prefix, xorb_hash):
        principal = self.principal
        if prefix not in ("default", "default-merkledb"):
            raise NotFound(f"Unknown xorb prefix {prefix!r}.")
        xorb_hash = _hash_arg(xorb_hash)
        length = bodies.content_length(request)
        # No push rule here (it is checked where content lands: shards), only whose quota pays.
        if not can(self.access, Action.WRITE):
            limits.charge_contributor(user=principal.user, amount=format.MAX_XORB_BYTES if length is None else length)
        services.xorb_store(xorb_hash=xorb_hash, stream=buffered_body(request), content_length=length)
        # SECURITY: always true ("stored as sent"): false for a xorb someone else had uploaded would
        # tell any writer that this content is on the server. hf_xet only logs the flag.
        return JsonResponse({"was_inserted": True})


class ShardUploadView(CasRepoView):
    body_policy = bodies.BodyPolicy(lambda: format.MAX_SHARD_BYTES)
    requires_write = True

    def post(self, request):
        length = bodies.content_length(request)
        if length is not None and length > format.MAX_SHARD_BYTES:
            raise PayloadTooLarge(f"A shard may hold at most {format.MAX_SHARD_BYTES} bytes.")
        principal, repo = self.principal, self.repo
        by_writer = check_push(self.access, self.token.commit_target()).is_writer
        if not by_writer:
            limits.charge_contributor(user=principal.user, amount=format.MAX_SHARD_BYTES if length is None else length)
        data = request.read(format.MAX_SHARD_BYTES + 1)
        if len(data) > format.MAX_SHARD_BYTES:
            raise PayloadTooLarge(f"A shard may hold at most {format.MAX_SHARD_BYTES} bytes.")
        return self.answer(services.shard_register(data=data, repo=repo, user=principal.user, by_writer=by_writer))

    def answer(self, result: int) -> HttpResponse:
        return JsonResponse({"result": result})


class ShardUploadV2View(ShardUploadView):
    """hf_xet 1.8 posts the shard here first and sends it again to v1 on a 404, so serving v2
    halves what a commit uploads in shards. The body, checks and policy are v1's; the answer is a
    stream of NDJSON events whose last is the result. Everything is verified before the 200, so a
    bad shard is still a plain 4xx (hf_xet treats it as final, as on v1) and no `error` event is
    ever needed after the status line."""

    def answer(self, result: int) -> HttpResponse:
        event = json.dumps({"type": "result", "result": result})
        return HttpResponse(event + "\n", content_type="application/x-ndjson")


class ReconstructionView(CasRepoView):
    version = 1

    def get(self, request, file_hash):
        readable = _readable_file(self.token, self.access, _hash_arg(file_hash))
        xet_file = readable.file
        byte_range = parse_range(request.headers.get("Range"), xet_file.size) if xet_file.size else None
        start, end = byte_range if byte_range else (0, xet_file.size - 1)
        # hf_xet downloads skip GET /resolve, so the download is counted here, by the same rule.
        resolved = readable.resolved
        if resolved is not None and start == 0 and counts_as_download(readable.path, resolved.tree_oid):
            registry_services.repo_downloads_increment(repo=readable.repo)
        skip, planned = reconstruction.plan(xet_file.terms, start, end + 1)
        answer: dict = {
            "offset_into_first_range": skip,
            "terms": [
                {"hash": t.xorb, "unpacked_length": t.size, "range": {"start": t.chunk_start, "end": t.chunk_end}}
                for t in planned
            ],
        }
        # SECURITY: either way, one signed URL per merged byte range, so a URL reads exactly the
        # chunks this plan needs (README, security model: Xet).
        fetch_ranges = reconstruction.fetch_ranges(planned).items()
        if self.version == 1:
            answer["fetch_info"] = {
                xorb: [_fetch_entry(request, xorb, *item) for item in ranges] for xorb, ranges in fetch_ranges
            }
        else:
            answer["xorbs"] = {
                xorb: [_fetch_entry_v2(request, xorb, *item) for item in ranges] for xorb, ranges in fetch_ranges
            }
        response = JsonResponse(answer)
        response["Cache-Control"] = "private, no-store"  # it holds signed URLs
        return response


class ReconstructionV2View(ReconstructionView):
    """The v2 shape hf_xet 1.8 asks for first (falling back to v1, once per session, on a 404):
    the same terms, with fetch entries grouped per xorb as `{url, ranges: [{chunks, bytes}]}`."""

    version = 2


def _fetch_url(request, xorb: str, first: int, last: int) -> str:
    """On object storage the store's own URL, with the range signed (hf_xet sends exactly that
    range); else the hub's signed route below."""
    url = get_xet_storage().presigned_range(xorb, first, last)
    if url is None:
        ranges = f"{first}-{last}"
        expires, signature = tokens.sign_fetch(xorb, ranges)
        url = request.build_absolute_uri(f"/cas/fetch/{xorb}?r={ranges}&exp={expires}&sig={signature}")
    return url


def _fetch_entry(request, xorb: str, chunk_start: int, chunk_end: int, first: int, last: int) -> dict:
    """One v1 fetch entry, one byte range."""
    url = _fetch_url(request, xorb, first, last)
    return {"range": {"start": chunk_start, "end": chunk_end}, "url": url, "url_range": {"start": first, "end": last}}


def _fetch_entry_v2(request, xorb: str, chunk_start: int, chunk_end: int, first: int, last: int) -> dict:
    """One v2 fetch entry: still one byte range per URL (the URL signs exactly it)."""
    url = _fetch_url(request, xorb, first, last)
    return {
        "url": url,
        "ranges": [{"chunks": {"start": chunk_start, "end": chunk_end}, "bytes": {"start": first, "end": last}}],
    }


@dataclass(frozen=True)
class Readable:
    file: XetFile
    repo: Repo
    resolved: Resolved | None  # None for write tokens
    path: str


def _readable_file(token: tokens.XetToken, access: RepoAccess, file_hash: str) -> Readable:
    """SECURITY: the gating chokepoint for Xet reads. The file must be in the token's repo at the
    token's commit (write tokens: uploaded to the repo), and the holder must still pass every
    check /resolve makes for that path (gates, withheld files, licenses: 401/403 as there). A
    file outside the token's scope is missing (404), whether or not it exists elsewhere."""
    principal, repo = access.principal, access.repo
    xet_file = XetFile.objects.filter(hash=file_hash).first()
    if xet_file is None:
        raise NotFound("No such file.")
    if token.scope == tokens.WRITE:
        # SECURITY: a write token is easy to get (any signed-in user may open a pull request), so
        # it reads back only what its holder uploaded: possession was proven by sending the bytes.
        # Everything else goes through the read path's download checks.
        uploaded = UploadReceipt.objects.filter(repo=repo, user=principal.user, sha256=xet_file.sha256)
        if principal.user is None or not uploaded.exists():
            raise NotFound("No such file.")
        return Readable(xet_file, repo, None, "")
    resolved = resolve_revision(repo, token.revision)
    paths = trees.lfs_paths(resolved.tree_oid).get(xet_file.sha256, ())
    if not paths:
        raise NotFound("No such file.")
    content.require_in_repo(repo.pk, xet_file.sha256)
    # The same content may sit at several paths, some withheld by the release stage: a path the
    # holder may download is enough (the bytes are the same); otherwise the first refusal stands.
    refusals: list[HubError] = []
    for path in paths:
        try:
            check_download(access, resolved, path)
        except HubError as exc:
            refusals.append(exc)
            continue
        return Readable(xet_file, repo, resolved, path)
    raise refusals[0]


class FetchView(CasView):
    """Byte ranges of a stored xorb. hf_xet sends no Authorization here; the URL is the grant."""

    def get(self, request, xorb_hash):
        ranges = request.GET.get("r", "")
        tokens.check_fetch(_hash_arg(xorb_hash), ranges, request.GET.get("exp", ""), request.GET.get("sig", ""))
        match = _RANGES.match(ranges)
        if match is None:
            raise Forbidden("Invalid signed URL.")
        first, last = int(match.group(1)), int(match.group(2))
        asked = parse_range(request.headers.get("Range"), last + 1) or (first, last)
        if asked[0] < first or asked[1] > last:
            raise RangeNotSatisfiable("The requested range is outside the range this URL grants.")
        storage = get_xet_storage()
        if not storage.exists(xorb_hash):
            raise NotFound("No such xorb.")
        handle = BoundedFile(storage.open(xorb_hash), asked[0], asked[1] - asked[0] + 1)
        response = FileResponse(handle, content_type="application/octet-stream", status=206)
        response["Content-Length"] = str(asked[1] - asked[0] + 1)
        response["Content-Range"] = f"bytes {asked[0]}-{asked[1]}/{storage.size(xorb_hash)}"
        response["Cache-Control"] = "private"
        return response


class UnknownCasRoute(CasView):
    http_method_names = ["get", "post", "put", "head", "delete"]

    def get(self, request, rest=""):
        return error_response(NotFound("No such CAS route."))

    post = put = head = delete = get


@csrf_exempt
def telemetry(request):
    """hf_xet posts upload and download summaries to the CAS origin; nothing is kept (or logged)."""
    return HttpResponse(status=204)
